"""webhook-ingest routes: Stripe's two webhook endpoints and the operator's replay.

A webhook answers 200 only after the event and its outbox row committed; if they cannot be
stored it answers 503 so Stripe delivers again. The event and its outbox row are written by
one atomic statement (``store.py``), so a failure anywhere means nothing was stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import asyncpg
import structlog
from fastapi import APIRouter, Depends, Request, Response

from billing_kit.auth import Principal, Role, require_roles
from billing_kit.errors import ForbiddenError, StripeFailedError, UnavailableError, documented
from webhook_ingest.schemas import Received, ReplayOut, ReplayRequest
from webhook_ingest.service import Endpoint, Replay, ingest
from webhook_ingest.store import EventStore
from webhook_ingest.stripe_gateway import IngestStripe
from webhook_ingest.verification import (
    InvalidEventError,
    InvalidSignatureError,
    PayloadTooLargeError,
    SignatureVerifier,
    parse_event,
)

log = structlog.get_logger(__name__)

router = APIRouter(tags=["webhook-ingest"])


@dataclass
class Receiver:
    """What the webhook endpoints share for the life of the app."""

    store: EventStore
    stripe: IngestStripe
    verifiers: dict[Endpoint, SignatureVerifier]
    max_body_bytes: int

    def replay(self) -> Replay:
        return Replay(self.store, self.stripe)


async def _receiver(request: Request) -> Receiver:  # async: no threadpool hop per request
    receiver: Receiver = request.app.state.receiver
    return receiver


ReceiverDep = Annotated[Receiver, Depends(_receiver)]
Operator = Annotated[Principal, Depends(require_roles(Role.PLATFORM_OPERATOR))]

_WEBHOOK_ERRORS = documented(
    InvalidSignatureError, InvalidEventError, PayloadTooLargeError, UnavailableError
)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLargeError()
        chunks.append(chunk)
    return b"".join(chunks)


ANSWERS = {
    duplicate: Received(duplicate=duplicate).model_dump_json().encode()
    for duplicate in (False, True)
}


async def _receive(request: Request, receiver: Receiver, endpoint: Endpoint) -> Response:
    body = await _read_body(request, receiver.max_body_bytes)
    text = receiver.verifiers[endpoint].verify(body, request.headers.get("stripe-signature"))
    event = parse_event(body)
    try:
        stored = await ingest(receiver.store, receiver.stripe, event, endpoint, text)
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
        log.warning("stripe event not stored", stripe_event_id=event["id"], error=repr(exc))
        raise UnavailableError("The event could not be stored; deliver it again.") from exc
    # Answered as ready-made bytes: the hot path skips response-model serialization.
    return Response(ANSWERS[not stored], media_type="application/json")


@router.post("/stripe/webhooks", response_model=Received, responses=_WEBHOOK_ERRORS)
async def receive_platform_event(request: Request, receiver: ReceiverDep) -> Response:
    """Events of the platform account."""
    return await _receive(request, receiver, "platform")


@router.post("/stripe/webhooks/connect", response_model=Received, responses=_WEBHOOK_ERRORS)
async def receive_connect_event(request: Request, receiver: ReceiverDep) -> Response:
    """Events of connected accounts."""
    return await _receive(request, receiver, "connect")


@router.post(
    "/v1/replay",
    response_model=ReplayOut,
    responses=documented(ForbiddenError, StripeFailedError, UnavailableError),
)
async def replay_events(body: ReplayRequest, _: Operator, receiver: ReceiverDep) -> ReplayOut:
    """Ingest what is missing of Stripe's events created in ``[from, to]``."""
    report = await receiver.replay().run(int(body.from_.timestamp()), int(body.to.timestamp()))
    return ReplayOut(scanned=report.scanned, ingested=report.ingested, duplicates=report.duplicates)
