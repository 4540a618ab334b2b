"""The webhook fast lane (``app.IngestApp``) in process: its error answers are the API's error
body, exactly as the FastAPI routes render them; the rest goes to FastAPI."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from billing_devstack import free_port
from tests.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    body_of,
    paid_invoice_event,
    signed,
)
from webhook_ingest.app import IngestApp, create_app
from webhook_ingest.settings import WebhookIngestSettings


@pytest.fixture
async def app() -> AsyncIterator[IngestApp]:
    settings = WebhookIngestSettings(  # a database nobody listens on: storing fails
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone",
        webhook_secrets=PLATFORM_SECRET,
        connect_webhook_secrets=CONNECT_SECRET,
    )
    ingest = create_app(settings)
    try:
        yield ingest
    finally:
        await ingest.state.receiver.store.close()
        await ingest.state.runtime.engine.dispose()


def _client(asgi: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=asgi), base_url="http://ingest")


def _too_large() -> bytes:
    event = paid_invoice_event()
    event["data"]["object"]["description"] = "x" * (1024 * 1024)
    return body_of(event)


def _unsigned() -> tuple[bytes, dict[str, str]]:
    return body_of(paid_invoice_event()), {"Content-Type": "application/json"}


def _wrong_secret() -> tuple[bytes, dict[str, str]]:
    body = body_of(paid_invoice_event())
    return body, signed(body, "whsec_someone_else")


def _not_an_event() -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"object": "list", "id": "evt_fake", "data": []}).encode()
    return body, signed(body, PLATFORM_SECRET)


def _not_json() -> tuple[bytes, dict[str, str]]:
    body = b"{not json"
    return body, signed(body, PLATFORM_SECRET)


def _oversized() -> tuple[bytes, dict[str, str]]:
    body = _too_large()
    return body, signed(body, PLATFORM_SECRET)


def _unstorable() -> tuple[bytes, dict[str, str]]:
    body = body_of(paid_invoice_event())
    return body, signed(body, PLATFORM_SECRET)


CASES: list[tuple[Callable[[], tuple[bytes, dict[str, str]]], int, str]] = [
    (_unsigned, 400, "invalid_signature"),
    (_wrong_secret, 400, "invalid_signature"),
    (_not_an_event, 400, "invalid_event"),
    (_not_json, 400, "invalid_event"),
    (_oversized, 413, "payload_too_large"),
    (_unstorable, 503, "unavailable"),
]


@pytest.mark.parametrize(("request_for", "status", "code"), CASES, ids=lambda c: str(c))
async def test_fast_lane_errors_are_the_documented_error_body(
    app: IngestApp,
    request_for: Callable[[], tuple[bytes, dict[str, str]]],
    status: int,
    code: str,
) -> None:
    body, headers = request_for()
    async with _client(app) as fast, _client(app.api) as documented:
        answer = await fast.post("/stripe/webhooks", content=body, headers=headers)
        reference = await documented.post("/stripe/webhooks", content=body, headers=headers)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()
    assert set(error) == {"error"}
    assert set(error["error"]) == {"code", "message"}
    assert error["error"]["code"] == code
    assert isinstance(error["error"]["message"], str)
    assert error["error"]["message"]
    # the same answer the FastAPI route (the kit's error handler) gives
    assert reference.status_code == status
    assert error == reference.json()


async def test_a_streamed_body_over_the_limit_is_refused_while_read(app: IngestApp) -> None:
    body = _too_large()

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with _client(app) as client:
        answer = await client.post(
            "/stripe/webhooks/connect", content=chunks(), headers=signed(body, CONNECT_SECRET)
        )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "payload_too_large"


async def test_the_correlation_id_is_echoed(app: IngestApp) -> None:
    body, headers = _unsigned()
    async with _client(app) as client:
        given = await client.post(
            "/stripe/webhooks", content=body, headers={**headers, "X-Correlation-ID": "corr-1"}
        )
        made = await client.post("/stripe/webhooks", content=body, headers=headers)
    assert given.headers["x-correlation-id"] == "corr-1"
    assert made.headers["x-correlation-id"]


async def test_other_routes_and_methods_reach_fastapi(app: IngestApp) -> None:
    async with _client(app) as client:
        schema = await client.get("/openapi.json")
        wrong_method = await client.get("/stripe/webhooks")
        metrics = await client.get("/metrics")
    assert schema.status_code == 200
    assert "/stripe/webhooks" in schema.json()["paths"]
    assert "/v1/replay" in schema.json()["paths"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert metrics.status_code == 200
    assert 'route="/stripe/webhooks"' in metrics.text
