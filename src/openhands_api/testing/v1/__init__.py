"""The V1 generation of the fake server (``/api/v1/...``, ``openhands-ai`` 1.11.0 or 1.6.0).

``routes`` (HTTP in and out), ``models`` (request models), ``store`` (start tasks, sandboxes,
conversations and the scripted agent), ``conversation`` (the stored records), ``events``
(event shapes), ``settings`` (settings, user and web-client bodies).

Not responsible for: V0 (``v0/``). Imports nothing on purpose.
"""
