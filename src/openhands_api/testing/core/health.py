"""Health routes every generation serves: ``/alive``, ``/health``, ``/ready``, ``/server_info``.

Responsible for: their bodies as on 1.6.0 and 1.11.0 alike (``{"status":"ok"}``, ``"OK"``,
``"OK"``, and a ``server_info`` with ``uptime``, ``idle_time`` and made-up ``resources``). They never need
authentication. Not responsible for: anything under ``/api``.
"""

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from .state import FakeState


def build_health_router(state: FakeState) -> APIRouter:
    router = APIRouter()
    started = state.clock.now()

    @router.get("/alive")
    async def alive() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/health")
    async def health() -> Response:
        return JSONResponse("OK")

    @router.get("/ready")
    async def ready() -> Response:
        return JSONResponse("OK")

    @router.get("/server_info")
    async def server_info() -> Response:
        uptime = max(0.0, state.clock.now() - started)
        return JSONResponse(
            {
                "uptime": uptime,
                "idle_time": uptime,
                "resources": {
                    "cpu_percent": 0.0,
                    "memory": {"rss": 104857600, "vms": 209715200, "percent": 0.5},
                    "disk": {
                        "total": 107374182400,
                        "used": 10737418240,
                        "free": 96636764160,
                        "percent": 10.0,
                    },
                    "io": {"read_bytes": 0, "write_bytes": 0},
                },
            }
        )

    return router
