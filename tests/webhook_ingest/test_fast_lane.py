"""The webhook fast lane (``api.fast_lane.IngestApp``) in process: its error answers are the
API's error body, as the kit's error handler renders each error; the rest goes to FastAPI,
whose OpenAPI document describes the webhook endpoints."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from billing_devstack import free_port
from billing_kit.errors import (
    BillingError,
    InvalidEventError,
    InvalidSignatureError,
    PayloadTooLargeError,
    UnavailableError,
)
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    body_of,
    paid_invoice_event,
    signature_header,
    signed,
)
from webhook_ingest.api.fast_lane import IngestApp
from webhook_ingest.app import create_app
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


def _several_v1_none_matching() -> tuple[bytes, dict[str, str]]:
    body = body_of(paid_invoice_event())
    return body, {"Stripe-Signature": signature_header(body, "whsec_x", "whsec_y")}


def _several_v1_one_matching() -> tuple[bytes, dict[str, str]]:
    """Verified (then storing fails: this app's database is gone)."""
    body = body_of(paid_invoice_event())
    return body, {"Stripe-Signature": signature_header(body, "whsec_x", PLATFORM_SECRET)}


Case = tuple[Callable[[], tuple[bytes, dict[str, str]]], type[BillingError]]
CASES: list[Case] = [
    (_unsigned, InvalidSignatureError),
    (_wrong_secret, InvalidSignatureError),
    (_several_v1_none_matching, InvalidSignatureError),
    (_not_an_event, InvalidEventError),
    (_not_json, InvalidEventError),
    (_oversized, PayloadTooLargeError),
    (_unstorable, UnavailableError),
    (_several_v1_one_matching, UnavailableError),
]


@pytest.mark.parametrize(("request_for", "error"), CASES, ids=lambda c: getattr(c, "__name__", c))
async def test_fast_lane_errors_are_the_documented_error_body(
    app: IngestApp,
    request_for: Callable[[], tuple[bytes, dict[str, str]]],
    error: type[BillingError],
) -> None:
    body, headers = request_for()
    async with _client(app) as fast:
        answer = await fast.post("/stripe/webhooks", content=body, headers=headers)
    assert answer.status_code == error.status_code, answer.text
    assert answer.headers["content-type"] == "application/json"
    rendered = answer.json()
    assert set(rendered) == {"error"}
    assert set(rendered["error"]) == {"code", "message"}
    assert rendered["error"]["code"] == error.code
    assert isinstance(rendered["error"]["message"], str)
    assert rendered["error"]["message"]


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
    paths = schema.json()["paths"]
    assert "/v1/replay" in paths
    for path in ("/stripe/webhooks", "/stripe/webhooks/connect"):
        responses = paths[path]["post"]["responses"]
        assert set(responses) == {"200", "400", "413", "500", "503"}
        assert "invalid_signature" in responses["400"]["description"]
        assert "invalid_event" in responses["400"]["description"]
        assert responses["413"]["description"] == "payload_too_large"
    components = schema.json()["components"]["schemas"]
    assert {"Received", "ErrorBody", "ErrorDetail"} <= set(components)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    assert wrong_method.headers["allow"] == "POST"
    assert metrics.status_code == 200
    assert 'route="/stripe/webhooks"' in metrics.text
    assert 'method="GET",route="/stripe/webhooks",service="webhook_ingest",status="405"' in (
        metrics.text
    )
