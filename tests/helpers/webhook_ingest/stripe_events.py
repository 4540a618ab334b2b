"""Hand-made Stripe events for webhook-ingest tests, shaped like Stripe's own fixtures."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson
import stripe

from tests.helpers.stripe_fixtures import stripe_fixture
from webhook_ingest.rules.normalize import figures_lookup, normalize

PLATFORM_SECRET = "whsec_test_platform"
CONNECT_SECRET = "whsec_test_connect"


fixture = stripe_fixture


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:24]}"


def stripe_event(
    event_type: str,
    obj: dict[str, Any],
    *,
    account: str | None = None,
    created: int | None = None,
    previous_attributes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous_attributes is not None:
        data["previous_attributes"] = previous_attributes
    event: dict[str, Any] = {
        "id": new_id("evt"),
        "object": "event",
        "api_version": "2026-06-24.dahlia",
        "created": created or int(time.time()),
        "data": data,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": event_type,
    }
    if account is not None:
        event["account"] = account
    return event


def paid_invoice_event(
    agency_id: str = "agency-test", account: str | None = None
) -> dict[str, Any]:
    invoice = fixture(
        "invoice",
        id=new_id("in"),
        status="paid",
        amount_paid=1000,
        amount_remaining=0,
        hosted_invoice_url="https://invoice.stripe.com/i/test",
        metadata={"agency_id": agency_id, "workspace_id": "ws-1"},
    )
    return stripe_event("invoice.paid", invoice, account=account)


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, indent=2).encode()


def signed(body: bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    header = stripe.WebhookSignature.generate_signature_header(
        body.decode(), secret, timestamp or int(time.time())
    )
    return {"Stripe-Signature": header, "Content-Type": "application/json"}


def signature_header(body: bytes, *secrets: str, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header with one ``v1`` per secret (as during Stripe's own
    rotation of an endpoint's secret)."""
    moment = timestamp or int(time.time())
    signed_payload = f"{moment}.".encode() + body
    signatures = [
        hmac.new(secret.encode(), signed_payload, hashlib.sha256).hexdigest() for secret in secrets
    ]
    return ",".join([f"t={moment}", *(f"v1={signature}" for signature in signatures)])


def held_heads(events: Sequence[dict[str, Any]], agency_id: str | None) -> list[dict[str, Any]]:
    """The held rows (as ``repository.due_heads`` reads them) of the events that need a read
    from Stripe before they are published, in order."""
    heads = []
    for index, event in enumerate(events):
        normalized, lookup = normalize(event, agency_id), figures_lookup(event)
        if normalized is None or lookup is None:
            continue
        heads.append(
            {
                "id": index,
                "topic": normalized.topic.name,
                "body": normalized.event.model_dump_json(),
                "lookup": orjson.dumps(dataclasses.asdict(lookup)).decode(),
                "attempts": 0,
            }
        )
    return heads
