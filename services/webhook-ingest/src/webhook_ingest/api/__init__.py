"""webhook-ingest routes: the operator's replay, and the OpenAPI description of Stripe's two
webhook endpoints, which the fast lane (``api/fast_lane.py``) answers before any route is
matched.

A webhook answers 200 only after the event and its contract event committed (one atomic
statement, ``repository.STORE_EVENTS``); 503 when it cannot be stored, so Stripe delivers
again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request

from billing_kit.auth import Operator
from billing_kit.errors import (
    BillingError,
    ErrorBody,
    ForbiddenError,
    InvalidEventError,
    InvalidSignatureError,
    PayloadTooLargeError,
    StripeFailedError,
    UnavailableError,
    documented,
)
from webhook_ingest.repository.store import EventStore
from webhook_ingest.rules.verification import SignatureVerifier
from webhook_ingest.schemas import Received, ReplayOut, ReplayRequest
from webhook_ingest.service import Endpoint, Replay
from webhook_ingest.settings import WebhookIngestSettings
from webhook_ingest.stripe_gateway import IngestStripe

router = APIRouter(tags=["webhook-ingest"])

WEBHOOK_PATHS: dict[str, Endpoint] = {
    "/stripe/webhooks": "platform",
    "/stripe/webhooks/connect": "connect",
}
WEBHOOK_ERRORS: tuple[type[BillingError], ...] = (
    InvalidSignatureError,
    InvalidEventError,
    PayloadTooLargeError,
    BillingError,
    UnavailableError,
)
ANSWERS = {
    duplicate: Received(duplicate=duplicate).model_dump_json().encode()
    for duplicate in (False, True)
}
"""The webhook answers, ready-made: the hot path skips response-model serialization."""


@dataclass
class Receiver:
    """What the webhook endpoints share for the life of the app."""

    store: EventStore
    stripe: IngestStripe
    verifiers: dict[Endpoint, SignatureVerifier]
    max_body_bytes: int

    @classmethod
    def build(
        cls, settings: WebhookIngestSettings, store: EventStore, stripe: IngestStripe
    ) -> Receiver:
        tolerance = settings.signature_tolerance_seconds
        verifiers: dict[Endpoint, SignatureVerifier] = {
            "platform": SignatureVerifier(settings.platform_secrets, tolerance),
            "connect": SignatureVerifier(settings.connect_secrets, tolerance),
        }
        return cls(store, stripe, verifiers, settings.max_body_bytes)

    def replay(self) -> Replay:
        return Replay(self.store, self.stripe)


async def _receiver(request: Request) -> Receiver:  # async: no threadpool hop per request
    receiver: Receiver = request.app.state.receiver
    return receiver


ReceiverDep = Annotated[Receiver, Depends(_receiver)]


@router.post(
    "/v1/replay",
    response_model=ReplayOut,
    responses=documented(ForbiddenError, StripeFailedError, UnavailableError),
)
async def replay_events(body: ReplayRequest, _: Operator, receiver: ReceiverDep) -> ReplayOut:
    """Ingest what is missing of Stripe's events created in ``[from, to]``, store again the
    range's events kept for attention, and list those that still need an operator."""
    report = await receiver.replay().run(int(body.from_.timestamp()), int(body.to.timestamp()))
    return ReplayOut(
        scanned=report.scanned,
        ingested=report.ingested,
        duplicates=report.duplicates,
        repaired=report.repaired,
        needs_attention=report.needs_attention,
    )


_DESCRIPTIONS: dict[Endpoint, tuple[str, str]] = {
    "platform": ("Receive a platform event", "Events of the platform account."),
    "connect": ("Receive a connected account's event", "Events of connected accounts."),
}


def _webhook_operation(endpoint: Endpoint) -> dict[str, Any]:
    summary, description = _DESCRIPTIONS[endpoint]
    responses: dict[str, Any] = {
        "200": {
            "description": "Stored (or already stored: `duplicate`).",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Received"}}},
        }
    }
    for error in WEBHOOK_ERRORS:
        entry = responses.setdefault(
            str(error.status_code),
            {
                "description": "",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                },
            },
        )
        entry["description"] = " / ".join(filter(None, (entry["description"], error.code)))
    return {
        "tags": ["webhook-ingest"],
        "summary": summary,
        "description": f"{description} Signed by Stripe (`Stripe-Signature`, any configured "
        "secret, 300 s tolerance); at most 1 MiB.",
        "operationId": f"receive_{endpoint}_event",
        "parameters": [
            {
                "name": "Stripe-Signature",
                "in": "header",
                "required": True,
                "schema": {"type": "string"},
            }
        ],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
            "description": "A Stripe event object.",
        },
        "responses": responses,
    }


def document_webhooks(app: FastAPI) -> None:
    """Add the webhook endpoints, answered by the fast lane, to ``app``'s OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (Received, ErrorBody):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(found.pop("$defs", {}))
            schemas.setdefault(model.__name__, found)
        for path, endpoint in WEBHOOK_PATHS.items():
            schema["paths"][path] = {"post": _webhook_operation(endpoint)}
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
