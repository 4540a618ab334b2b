"""Structured JSON logs carrying the correlation id (HTTP header or Kafka message)."""

from __future__ import annotations

import logging
import sys
import uuid
from contextvars import ContextVar

import structlog
from starlette.types import Message, Receive, Scope, Send

from billing_kit.asgi import HttpMiddleware

CORRELATION_HEADER = "x-correlation-id"
_correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
_causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


def correlation_id() -> str:
    """The current correlation id, making one when none is set."""
    value = _correlation_id.get()
    if value is None:
        value = uuid.uuid4().hex
        bind_correlation_id(value)
    return value


def bind_correlation_id(value: str) -> None:
    _correlation_id.set(value)
    structlog.contextvars.bind_contextvars(correlation_id=value)


def causation_id() -> str | None:
    """Id of the event being handled, if any: the cause of events published meanwhile."""
    return _causation_id.get()


def bind_causation_id(value: str | None) -> None:
    _causation_id.set(value)


def configure_logging(service: str, level: str = "INFO") -> None:
    def add_service(
        _: object, __: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event_dict.setdefault("service", service)
        return event_dict

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)


class CorrelationIdMiddleware(HttpMiddleware):
    """Takes ``X-Correlation-ID`` from the request (or makes one) and echoes it back."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(CORRELATION_HEADER.encode())
        value = incoming.decode("latin-1")[:128] if incoming else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        bind_correlation_id(value)

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].append((CORRELATION_HEADER.encode(), value.encode("latin-1")))
            await send(message)

        await self.app(scope, receive, send_with_header)
