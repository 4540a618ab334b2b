"""Every error is JSON: an exception no handler knows answers 500 ``internal_error`` in the
API's error format, and its log line carries the request's correlation id."""

from __future__ import annotations

import json

import httpx
import pytest

from billing_devstack import free_port
from catalog.app import create_app
from catalog.settings import CatalogSettings

pytestmark = [pytest.mark.unit]


async def test_an_unhandled_exception_answers_500_in_the_error_format_and_is_logged(
    capsys: pytest.CaptureFixture[str],
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    app = create_app(
        CatalogSettings(
            database_url=f"postgresql+asyncpg://postgres@{closed}/none",
            kafka_bootstrap_servers=closed,
        )
    )

    async def broken() -> None:
        raise RuntimeError("a bug in a route")

    app.add_api_route("/v1/broken", broken, methods=["POST"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        response = await client.post("/v1/broken", headers={"X-Correlation-ID": "corr-broken-1"})

    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "internal_error", "message": "Something went wrong on our side."}
    }
    assert response.headers["x-correlation-id"] == "corr-broken-1"
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    [entry] = [e for e in logged if e.get("event") == "unhandled error"]
    assert entry["correlation_id"] == "corr-broken-1"
    assert entry["path"] == "/v1/broken"
    assert "RuntimeError: a bug in a route" in entry["exception"]
