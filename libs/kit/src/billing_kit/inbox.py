"""Idempotent consumers: a handler's effect and its ``(consumer, event_id)`` inbox row commit in
one transaction, and the Kafka offset is committed only after that. A redelivered event finds
its inbox row and changes nothing.

Failures: infrastructure errors (database unreachable) are retried without limit, so the
consumer waits out an outage in order; any other error is retried a bounded number of times,
then the message goes to ``<topic>.dlq`` with the error attached and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable
from typing import Any

import stamina
import structlog
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts import Event, Topic
from billing_kit.db import unit_of_work
from billing_kit.logging import bind_causation_id, bind_correlation_id
from billing_kit.metrics import EVENTS_CONSUMED
from billing_kit.tracing import TRACER

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[None]]


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def is_transient(exc: Exception) -> bool:
    """Errors of the infrastructure, not of the message: worth waiting out."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


class _Outcomes:
    """The consumed-events counters of one consumer on one topic."""

    def __init__(self, service: str, topic: str, consumer: str) -> None:
        self.applied, self.duplicate, self.failed = (
            EVENTS_CONSUMED.labels(service, topic, consumer, outcome)
            for outcome in ("applied", "duplicate", "failed")
        )


class Inbox:
    """Registers idempotent subscribers on a FastStream Kafka broker."""

    def __init__(
        self,
        broker: KafkaBroker,
        sessions: async_sessionmaker[AsyncSession],
        table: Table,
        *,
        service: str,
        max_attempts: int = 5,
        session_timeout_ms: int = 6000,
        heartbeat_interval_ms: int = 2000,
        fetch_max_wait_ms: int = 100,
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.table = table
        self.service = service
        self.max_attempts = max_attempts
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self._outcomes: dict[tuple[str, str], _Outcomes] = {}

    def subscribe(self, topic: Topic, consumer: str, handler: Handler) -> None:
        """Consume ``topic`` as consumer group ``<service>.<consumer>`` into ``handler``."""
        name = f"{self.service}.{consumer}"

        async def on_message(message: KafkaMessage) -> None:
            await self.deliver(topic, name, handler, message.body, message)

        on_message.__name__ = f"{consumer}_{topic.name.replace('.', '_')}"
        self.broker.subscriber(
            topic.name,
            group_id=name,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            title=f"{name}:{topic.name}",
        )(on_message)

    async def deliver(
        self, topic: Topic, consumer: str, handler: Handler, body: bytes, message: Any = None
    ) -> bool:
        """Apply one message; returns False when it was a duplicate or went to the DLQ."""
        try:
            evt = topic.decode(body)
        except ValidationError as exc:
            await self._dead_letter(topic, consumer, body, message, exc, attempts=1)
            return False
        bind_correlation_id(evt.correlation_id or evt.event_id.hex)
        bind_causation_id(str(evt.event_id))
        with TRACER.start_as_current_span(
            f"apply {topic.name}",
            attributes={"messaging.consumer.group.name": consumer, "event.id": str(evt.event_id)},
        ) as span:
            applied = await self._deliver(topic, consumer, handler, evt, body, message)
            span.set_attribute("event.applied", applied)
            return applied

    async def _deliver(
        self, topic: Topic, consumer: str, handler: Handler, evt: Event, body: bytes, message: Any
    ) -> bool:
        outcomes = self._outcomes.get((topic.name, consumer))
        if outcomes is None:
            outcomes = _Outcomes(self.service, topic.name, consumer)
            self._outcomes[topic.name, consumer] = outcomes
        try:
            for attempt in range(1, self.max_attempts + 1):
                try:
                    applied = await self._apply_waiting_out_outages(consumer, handler, evt)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    outcomes.failed.inc()
                    if attempt == self.max_attempts:
                        await self._dead_letter(topic, consumer, body, message, exc, attempt)
                        return False
                    log.warning(
                        "handler failed",
                        consumer=consumer,
                        event_id=str(evt.event_id),
                        attempt=attempt,
                        error=repr(exc),
                    )
                    await asyncio.sleep(min(0.1 * 2**attempt, 2.0))
                else:
                    (outcomes.applied if applied else outcomes.duplicate).inc()
                    return applied
            return False
        finally:
            bind_causation_id(None)

    async def _apply_waiting_out_outages(self, consumer: str, handler: Handler, evt: Event) -> bool:
        async for attempt in stamina.retry_context(
            on=is_transient, attempts=None, timeout=None, wait_initial=0.2, wait_max=5.0
        ):
            with attempt:
                return await self._apply_once(consumer, handler, evt)
        raise AssertionError("unreachable: stamina retries until success")

    async def _apply_once(self, consumer: str, handler: Handler, evt: Event) -> bool:
        async with unit_of_work(self.sessions) as session:
            claimed = await session.execute(
                insert(self.table)
                .values(consumer=consumer, event_id=evt.event_id)
                .on_conflict_do_nothing()
                .returning(self.table.c.event_id)
            )
            if claimed.first() is None:
                log.info("duplicate event ignored", consumer=consumer, event_id=str(evt.event_id))
                return False
            await handler(session, evt)
        return True

    async def _dead_letter(
        self,
        topic: Topic,
        consumer: str,
        body: bytes,
        message: Any,
        exc: BaseException,
        attempts: int,
    ) -> None:
        key = getattr(getattr(message, "raw_message", None), "key", None)
        EVENTS_CONSUMED.labels(self.service, topic.name, consumer, "dead_lettered").inc()
        log.error(
            "message sent to the dead-letter topic",
            consumer=consumer,
            topic=topic.dlq,
            attempts=attempts,
            error=repr(exc),
        )
        await self.broker.publish(
            body,
            topic=topic.dlq,
            key=key,
            headers={
                "x-original-topic": topic.name,
                "x-consumer": consumer,
                "x-attempts": str(attempts),
                "x-error-type": type(exc).__name__,
                "x-error": f"{type(exc).__name__}: {exc}"[:2000],
                "x-error-trace": "".join(traceback.format_exception(exc))[-4000:],
            },
        )
