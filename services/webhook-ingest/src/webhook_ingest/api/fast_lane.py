"""The webhook fast lane: the served ASGI app, in front of the FastAPI app.

Stripe's two webhook POSTs are answered right here at the raw ASGI level (body read with its
limit, verify, parse, store, ready-made answer; the API's error bodies; the kit's request
metrics; ``X-Correlation-ID`` echoed, else the Stripe event id); everything else
(``/v1/replay``, ``/healthz``, ``/metrics``, the OpenAPI document, lifespan) goes to FastAPI.
Through FastAPI's and the kit's middleware stack a webhook cost ~40 % of the service's CPU;
here it is a few dozen µs.
"""

from __future__ import annotations

import time
import uuid

import asyncpg
import structlog
from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from billing_kit.errors import (
    BillingError,
    ErrorBody,
    ErrorDetail,
    InvalidSignatureError,
    PayloadTooLargeError,
    UnavailableError,
)
from billing_kit.logging import CORRELATION_HEADER
from billing_kit.metrics import WEBHOOK_VERIFICATION_FAILURES
from billing_kit.observability import HTTP_LATENCY, HTTP_REQUESTS
from billing_kit.tracing import server_span
from webhook_ingest.api import ANSWERS, WEBHOOK_PATHS, Receiver
from webhook_ingest.rules.verification import parse_event
from webhook_ingest.service import Endpoint, ingest

log = structlog.get_logger(__name__)


_PATHS = WEBHOOK_PATHS
_CORRELATION = CORRELATION_HEADER.encode()
_JSON = (b"content-type", b"application/json")
_STORE_FAILURES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


class _DisconnectedError(Exception):
    """The client went away before its body arrived: nothing to answer."""


def error_body(error: BillingError) -> bytes:
    """The API's error format, as the kit's handler renders it."""
    return error.body().model_dump_json(exclude_none=True).encode()


class IngestApp:
    """The served ASGI app: the webhook fast lane, then FastAPI for everything else."""

    def __init__(self, api_app: FastAPI, receiver: Receiver, service: str) -> None:
        self.api = api_app
        self.receiver = receiver
        self.service = service
        self._answers = {dup: ANSWERS[dup] for dup in (False, True)}
        self._lengths = {dup: str(len(body)).encode() for dup, body in self._answers.items()}
        # The kit's request metrics, children bound once (labels() costs a lock and a lookup).
        self._counters = {
            (endpoint, status): HTTP_REQUESTS.labels(service, "POST", path, str(status))
            for path, endpoint in _PATHS.items()
            for status in (200, 400, 413, 500, 503)
        }
        self._latency = {
            endpoint: HTTP_LATENCY.labels(service, path) for path, endpoint in _PATHS.items()
        }
        self._unverified = {
            endpoint: WEBHOOK_VERIFICATION_FAILURES.labels(service, endpoint)
            for endpoint in _PATHS.values()
        }

    @property
    def state(self) -> State:
        return self.api.state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            endpoint = _PATHS.get(scope["path"])
            if endpoint is not None:
                if scope["method"] == "POST":
                    await self.webhook(scope, receive, send, endpoint)
                else:
                    await _not_allowed(send)
                    HTTP_REQUESTS.labels(self.service, scope["method"], scope["path"], "405").inc()
                return
        await self.api(scope, receive, send)

    async def webhook(self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint) -> None:
        started = time.perf_counter()
        receiver = self.receiver
        signature: bytes | None = None
        length: bytes | None = None
        correlation: bytes | None = None
        for name, value in scope["headers"]:
            if name == b"stripe-signature":
                signature = value
            elif name == b"content-length":
                length = value
            elif name == _CORRELATION:
                correlation = value[:128]
        with server_span("POST", scope["path"]) as span:
            status = 200
            try:
                body = await _read_body(receive, length, receiver.max_body_bytes)
                text = receiver.verifiers[endpoint].verify(
                    body, None if signature is None else signature.decode("latin-1")
                )
                event = parse_event(body)
                span.set_attribute("stripe.event.id", event["id"])
                if correlation is None:
                    correlation = event["id"].encode()
                try:
                    stored = await ingest(receiver.store, event, endpoint, text)
                except _STORE_FAILURES as exc:
                    log.warning(
                        "stripe event not stored",
                        stripe_event_id=event["id"],
                        correlation_id=correlation.decode("latin-1"),
                        error=repr(exc),
                    )
                    raise UnavailableError(
                        "The event could not be stored; deliver it again."
                    ) from exc
                answer, answer_length = self._answers[not stored], self._lengths[not stored]
            except _DisconnectedError:
                return
            except BillingError as error:
                if isinstance(error, InvalidSignatureError):
                    self._unverified[endpoint].inc()
                status, answer = error.status_code, error_body(error)
                answer_length = str(len(answer)).encode()
            except Exception:
                log.exception("webhook failed", endpoint=endpoint)
                status, answer = 500, error_body(BillingError())
                answer_length = str(len(answer)).encode()
            span.set_attribute("http.response.status_code", status)
        if correlation is None:
            correlation = uuid.uuid4().hex.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    _JSON,
                    (b"content-length", answer_length),
                    (_CORRELATION, correlation),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})
        self._counters[endpoint, status].inc()
        self._latency[endpoint].observe(time.perf_counter() - started)


_NOT_ALLOWED = (
    ErrorBody(error=ErrorDetail(code="method_not_allowed", message="Method Not Allowed"))
    .model_dump_json(exclude_none=True)
    .encode()
)


async def _not_allowed(send: Send) -> None:
    """What the kit's handler answers for a method a route does not take."""
    headers = [_JSON, (b"content-length", str(len(_NOT_ALLOWED)).encode()), (b"allow", b"POST")]
    await send({"type": "http.response.start", "status": 405, "headers": headers})
    await send({"type": "http.response.body", "body": _NOT_ALLOWED})


async def _read_body(receive: Receive, declared: bytes | None, limit: int) -> bytes:
    """The request body, refused beyond ``limit`` bytes (by Content-Length or as it streams)."""
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLargeError()
    message = await receive()
    if message["type"] != "http.request":
        raise _DisconnectedError
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLargeError()
        return body
    chunks = [body]
    size = len(body)
    while True:
        if size > limit:
            raise PayloadTooLargeError()
        message = await receive()
        if message["type"] != "http.request":
            raise _DisconnectedError
        chunk = message.get("body", b"")
        chunks.append(chunk)
        size += len(chunk)
        if not message.get("more_body", False):
            break
    if size > limit:
        raise PayloadTooLargeError()
    return b"".join(chunks)
