"""The miner agent's HTTP API, on 127.0.0.1 only.

Control (bearer token, as xmrig's API does; without it 401):
    GET  /v1/miner/status            the AgentStatus JSON (gonka_tui/miner/status.py)
    POST /v1/miner/pause | resume | stop

The ML node API subset, read-only and without a token as on an ML node (proof-of-compute.md §2),
so whatever watches a Gonka ML node can watch this agent the same way:
    GET /api/v1/state        {"state": "POW"|"STOPPED", "version"}
    GET /health              {status, service_state, gpu{available, count, devices[]}, managers{…}}
    GET /api/v1/pow/status   {status: IDLE|GENERATING|STOPPED, is_model_initialized}
    GET /api/v1/gpu/devices  {devices[{index, name, total/free/used_memory_mb, utilization_percent,
                              temperature_c, is_available}], count}
"""

from __future__ import annotations

import hmac
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gonka_tui import __version__
from gonka_tui.miner.status import AgentStatus


class Controlled(Protocol):
    """What the API needs of the agent."""

    def status(self) -> AgentStatus: ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def request_stop(self) -> None: ...


def _mb(value: int | None) -> int | None:
    return None if value is None else value // (1024 * 1024)


def create_api(agent: Controlled, token: str) -> Starlette:
    expected = f"Bearer {token}".encode()

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)

    def refused() -> JSONResponse:
        return JSONResponse({"error": "missing or wrong bearer token (see <home>/miner/token)"}, status_code=401,
                            headers={"WWW-Authenticate": "Bearer"})

    async def status(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused()
        return JSONResponse(agent.status().to_json())

    async def control(request: Request) -> JSONResponse:
        if not authorized(request):
            return refused()
        action = request.path_params["action"]
        handler = {"pause": agent.pause, "resume": agent.resume, "stop": agent.request_stop}.get(action)
        if handler is None:
            return JSONResponse({"error": f"unknown action {action[:40]!r}: pause, resume or stop"}, status_code=404)
        handler()
        return JSONResponse({"status": "OK", "action": action})

    def generating(s: AgentStatus) -> bool:
        return s.state == "mining" and any(d.state == "generating" for d in s.devices)

    async def state(request: Request) -> JSONResponse:
        s = agent.status()
        return JSONResponse({"state": "POW" if s.state in ("mining", "paused", "waiting") else "STOPPED",
                             "version": __version__})

    def gpu_devices(s: AgentStatus) -> list[dict]:
        out = []
        for d in s.devices:
            if not d.name.startswith("cuda"):
                continue
            index = int(d.name.partition(":")[2] or 0)
            total, used = d.memory_total_bytes, d.memory_used_bytes
            out.append({"index": index, "name": d.name, "total_memory_mb": _mb(total), "used_memory_mb": _mb(used),
                        "free_memory_mb": _mb(total - used) if total is not None and used is not None else None,
                        "utilization_percent": d.utilization_percent, "temperature_c": d.temperature_c,
                        "is_available": d.state not in ("failed", "stopped")})
        return out

    async def health(request: Request) -> JSONResponse:
        s = agent.status()
        healthy = s.state != "error" and not any(d.state == "failed" for d in s.devices)
        gpus = gpu_devices(s)
        body = {"status": "healthy" if healthy else "unhealthy",
                "service_state": "POW" if s.state in ("mining", "paused", "waiting") else "STOPPED",
                "gpu": {"available": bool(gpus), "count": len(gpus), "devices": gpus},
                "managers": {"pow": {"running": generating(s), "healthy": healthy},
                             "inference": {"running": False, "healthy": True},
                             "train": {"running": False, "healthy": True}}}
        return JSONResponse(body, status_code=200 if healthy else 503)

    async def pow_status(request: Request) -> JSONResponse:
        s = agent.status()
        if s.state == "stopped":
            value = "STOPPED"
        elif generating(s):
            value = "GENERATING"
        else:
            value = "IDLE"
        return JSONResponse({"status": value, "is_model_initialized": any(
            d.state in ("ready", "generating") for d in s.devices)})

    async def devices(request: Request) -> JSONResponse:
        gpus = gpu_devices(agent.status())
        return JSONResponse({"devices": gpus, "count": len(gpus)})

    return Starlette(routes=[
        Route("/v1/miner/status", status),
        Route("/v1/miner/{action}", control, methods=["POST"]),
        Route("/api/v1/state", state),
        Route("/health", health),
        Route("/api/v1/pow/status", pow_status),
        Route("/api/v1/gpu/devices", devices),
    ])
