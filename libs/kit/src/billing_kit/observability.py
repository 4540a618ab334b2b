"""Probes and metrics: ``/livez`` (the process serves), ``/readyz`` (database and broker
reachable, consumers reading, with what is wrong), ``/healthz`` (database and broker
reachable, in the API's shorter shape) and ``/metrics`` (Prometheus, every worker's
samples added up: ``billing_kit.metrics``); docs/api.md, "Probes and metrics"."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from billing_kit.asgi import HttpMiddleware
from billing_kit.metrics import registry

HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests served", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request", ["service", "route"]
)

router = APIRouter(tags=["operations"])
PROBE_PATHS = ("/livez", "/readyz", "/healthz")
"""Probes answer their own shape (``status``, ``checks``), never the API's error shape."""
_UNREACHABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "The database or the broker is unreachable."}
}
_UNREADY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "The database or the broker is unreachable, or the consumers are not "
        "reading yet."
    }
}


@router.get("/livez")
async def livez() -> dict[str, str]:
    """The process and its event loop work; says nothing of its dependencies (a broker outage
    must not get a service restarted that can keep serving)."""
    return {"status": "ok"}


@router.get("/readyz", responses=_UNREADY)
async def readyz(request: Request) -> JSONResponse:
    """Ready for traffic: database and broker reachable, consumers reading; ``details``
    says what is wrong."""
    return await _readiness(request, details=True, consumers=True)


@router.get("/healthz", responses=_UNREACHABLE)
async def healthz(request: Request) -> JSONResponse:
    """Database and broker reachable, without details (``/readyz`` has them, and also waits
    for the consumers)."""
    return await _readiness(request, details=False, consumers=False)


async def _readiness(request: Request, *, details: bool, consumers: bool) -> JSONResponse:
    problems = {
        "database": await _database_problem(request),
        "broker": await _broker_problem(request, consumers=consumers),
    }
    checks = {name: problem is None for name, problem in problems.items()}
    healthy = all(checks.values())
    body: dict[str, Any] = {"status": "ok" if healthy else "unavailable", "checks": checks}
    if details:
        body["details"] = {name: problem or "ok" for name, problem in problems.items()}
    return JSONResponse(status_code=200 if healthy else 503, content=body)


async def _database_problem(request: Request) -> str | None:
    try:
        async with asyncio.timeout(2):
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unreachable: {exc!r}"[:500]
    return None


async def _broker_problem(request: Request, *, consumers: bool) -> str | None:
    runtime = getattr(request.app.state, "runtime", None)
    waiting = getattr(runtime, "broker_problem", None)
    try:
        answered = bool(await request.app.state.broker.ping(timeout=2.0))
    except Exception as exc:
        return f"unreachable: {exc!r}"[:500]
    if not answered:
        return f"unreachable: {waiting}"[:500] if waiting else "no answer to ping"
    # Reachable; ``waiting`` now says why the consumers are not reading yet, if they are not.
    return waiting[:500] if consumers and waiting else None


@router.get("/metrics", include_in_schema=False)
async def metrics() -> Response:
    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware(HttpMiddleware):
    def __init__(self, app: ASGIApp, service: str) -> None:
        super().__init__(app)
        self.service = service

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        status = 500
        loop = asyncio.get_running_loop()
        started = loop.time()

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            HTTP_REQUESTS.labels(self.service, scope["method"], route, str(status)).inc()
            HTTP_LATENCY.labels(self.service, route).observe(loop.time() - started)
