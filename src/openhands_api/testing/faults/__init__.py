"""The fake server's edge behaviour: what happens around, in front of or instead of a route.

``rules`` (``FaultRule``, ``Chaos``: choosing faults), ``injector`` (carrying them out),
``middleware`` (fault hook, rate limiter and crash guard in the ASGI stack), ``limiter`` (the
real rate limiters' decisions), ``connection`` (the TCP connection handle, the crash answer
that ends it), ``crash`` (``ServerCrash``, the routes' way to answer like an unhandled
exception).

Not responsible for: route behaviour (``v0/``, ``v1/``) or the listening socket
(``serving/server.py``). Imports nothing on purpose.
"""
