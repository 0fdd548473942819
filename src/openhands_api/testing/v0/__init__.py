"""The V0 generation of the fake server (``openhands-ai`` 1.6.0, ``/api/conversations``...).

``routes`` (HTTP in and out), ``store`` (lifecycle and behaviour), ``conversation`` (the
stored record), ``agent`` (the scripted agent's plan for a turn), ``events`` (event shapes).

Not responsible for: anything V1 (``v1/``) beyond what 1.6.0's V0 routes show of V1
conversations. Imports nothing on purpose.
"""
