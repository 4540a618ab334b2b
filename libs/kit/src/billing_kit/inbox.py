"""Idempotent consumers: a handler's effect and its ``(consumer, event_id)`` inbox row commit in
one transaction, and the Kafka offset is committed only after that. A redelivered event finds
its inbox row and changes nothing.

A service's consumers read the broker as one consumer group (``billing_kit.consumer_group``).
Messages come in batches (what the broker has for the group), split by topic: each consumer
of a topic applies its part in order, up to ``max_batch`` in one transaction (one inbox
insert for all, each handler's writes flushed before the next event is read); the batch's
offsets are committed once every part is applied. Consumers that share a ``Batched``
handler (of different topics) apply their parts of a batch in one transaction, the handler
given all their new events at once. If anything in a transaction fails, it is
rolled back and its events are applied one by one as below, so a batch changes only how
often the database and the broker are asked, never what is applied. While a stream is
flowing, a small batch waits ``linger_ms`` once for more (a transaction costs about the same
whatever its size).

Nothing serializes a service's transactions: the parts of a batch of different consumers,
and the batches of different replicas, commit concurrently. The order of events comes from
their partition (each topic is keyed by the aggregate, or the connected account, whose rows
its handlers write), and handlers take rows in one order. A transaction Postgres undoes for
a conflict with a concurrent one (a deadlock, a serialization failure) is applied again and
counted (``consumer_transaction_conflicts_total``).

Failures: infrastructure errors (database unreachable, Stripe away) are retried without
limit, so the consumer waits out an outage in order (and the service's other consumers wait
for their next batch with it); any other error is retried a bounded
number of times, then the message goes to ``<topic>.dlq`` with the error attached and the
consumer moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import random
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import stamina
import stripe
import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from opentelemetry.trace import Span
from pydantic import ValidationError
from sqlalchemy import Column, DateTime, Insert, MetaData, String, Table, func
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts import Event, Topic
from billing_kit.consumer_group import by_topic, chunks, take_over
from billing_kit.db import unit_of_work
from billing_kit.errors import StripeFailedError, UnavailableError
from billing_kit.logging import bind_causation_id, bind_correlation_id
from billing_kit.metrics import (
    BATCHES_FAILED,
    CONSUMER_LAG,
    EVENTS_CONSUMED,
    TRANSACTION_CONFLICTS,
    TRANSACTION_EVENTS,
)
from billing_kit.sql_arrays import unnest_insert
from billing_kit.tracing import TRACER, batch_span, message_span

log = structlog.get_logger(__name__)

Handler = Callable[[AsyncSession, Any], Awaitable[None]]
"""Applies one event in the consumer's transaction."""
T = TypeVar("T")


@dataclass(frozen=True)
class Batched:
    """A handler that applies a batch's new events together, in their order, with a few
    set-based statements instead of a few per event. It must leave what applying them one
    at a time would; a lone event (a batch undone and applied one by one, a redelivery)
    comes to it as a list of one. One ``Batched`` given to consumers of several topics is
    given their events of a batch together, in one transaction (each topic's in order)."""

    apply: Callable[[AsyncSession, Sequence[Any]], Awaitable[None]]


Subscriber = Handler | Batched
"""What a topic's events are given to: per event, or per batch."""


@dataclass(frozen=True)
class Consumer:
    """One consumer of the service's table."""

    topic: Topic
    name: str
    """``<service>.<consumer>``: the name its inbox rows, dead letters and metrics carry."""
    handler: Subscriber


def by_event_type(handlers: Mapping[type[Event], Handler]) -> Handler:
    """One handler of a topic's events from a table of event class → handler (cosmicpython's
    ``EVENT_HANDLERS``): an event goes to the handler of its class, or else of the nearest
    base class the table names (``Event`` stands for any other type); an event the table
    does not name is ignored, as a consumer ignores the types it has no use for."""
    table = dict(handlers)
    resolved: dict[type[Event], Handler | None] = {}

    def handler_of(kind: type[Event]) -> Handler | None:
        if kind not in resolved:
            resolved[kind] = next((table[c] for c in kind.__mro__ if c in table), None)
        return resolved[kind]

    async def dispatch(session: AsyncSession, event: Event) -> None:
        handler = handler_of(type(event))
        if handler is not None:
            await handler(session, event)

    return dispatch


def sharing_a_handler(consumers: Sequence[Consumer]) -> list[list[Consumer]]:
    """Consumers, in table order, grouped by the ``Batched`` handler they share (applied in
    one transaction per batch); every other consumer alone."""
    groups: dict[int, list[Consumer]] = {}
    for consumer in consumers:
        shared = isinstance(consumer.handler, Batched)
        groups.setdefault(id(consumer.handler) if shared else id(consumer), []).append(consumer)
    return list(groups.values())


class Received(NamedTuple):
    """One message as the broker gave it."""

    body: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()


class _Part(NamedTuple):
    """One consumer's decoded events of a batch."""

    topic: Topic
    consumer: str
    events: list[tuple[Event, Received]]


def inbox_table(metadata: MetaData) -> Table:
    return Table(
        "inbox",
        metadata,
        Column("consumer", String(200), primary_key=True),
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def claim_statement(table: Table) -> Insert:
    """Inbox rows for lists of consumers and event ids, pairwise (parameters ``consumer`` and
    ``event_id``, one array each); the pairs that were not there yet are returned. One text
    whatever the batch's size (``sql_arrays``)."""
    return (
        unnest_insert(table, ["consumer", "event_id"])
        .on_conflict_do_nothing()
        .returning(table.c.consumer, table.c.event_id)
    )


_STRIPE_AWAY = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)
"""Stripe unreachable, timing out, limiting our rate or failing on its side (5xx)."""


def _stripe_is_away(exc: BaseException) -> bool:
    if isinstance(exc, _STRIPE_AWAY):
        return True
    status = getattr(exc, "http_status", None) if isinstance(exc, stripe.StripeError) else None
    return isinstance(status, int) and (status == 429 or status >= 500)


_CONFLICTS = {"40P01": "deadlock", "40001": "serialization_failure"}
"""SQLSTATEs of a transaction Postgres undid because of another one."""


def conflict_of(exc: BaseException) -> str | None:
    """``deadlock`` or ``serialization_failure`` when Postgres undid the transaction because
    of a concurrent one (nothing wrong with the message: apply it again), else None."""
    if isinstance(exc, DBAPIError):
        return _CONFLICTS.get(getattr(exc.orig, "sqlstate", None) or "")
    return None


def is_transient(exc: Exception) -> bool:
    """Errors of the infrastructure, not of the message: worth waiting out. Stripe away
    (connection errors and timeouts, 5xx, rate limits, or our ``UnavailableError``, also
    when raised from one of those) is the infrastructure too; Stripe refusing a request
    (4xx) is not. A transaction undone for a conflict with a concurrent one is retried."""
    if isinstance(exc, DBAPIError) and (exc.connection_invalidated or conflict_of(exc)):
        return True
    if isinstance(exc, UnavailableError) or _stripe_is_away(exc):
        return True
    if isinstance(exc, StripeFailedError) and exc.__cause__ is not None:
        return _stripe_is_away(exc.__cause__)
    return isinstance(exc, OperationalError | InterfaceError | OSError | TimeoutError)


BATCH_CONFLICT_RETRIES = 5
"""How often a transaction undone for a conflict with a concurrent one is applied again at
once: a batch as a whole, before its events are applied one by one; a lone event, before
the conflict is waited out like an outage."""


class _Outcomes:
    """The consumed-events counters of one consumer on one topic."""

    def __init__(self, service: str, topic: str, consumer: str) -> None:
        self.applied, self.duplicate, self.failed = (
            EVENTS_CONSUMED.labels(service, topic, consumer, outcome)
            for outcome in ("applied", "duplicate", "failed")
        )


class Inbox:
    """A service's idempotent consumers, read from a FastStream Kafka broker as one
    consumer group."""

    FLOWING_SECONDS = 1.0
    """A consumer that applied a batch this recently has a stream flowing: its small
    batches linger (``linger_ms``); after a quiet spell the first is applied at once."""

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
        fetch_min_bytes: int = 1,
        max_batch: int = 200,
        batch_wait_ms: int = 20,
        linger_ms: int = 0,
        linger_below: int = 100,
    ) -> None:
        self.broker = broker
        self.sessions = sessions
        self.table = table
        self.service = service
        self.max_attempts = max_attempts
        self.session_timeout_ms = session_timeout_ms
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.fetch_min_bytes = fetch_min_bytes
        self.max_batch = max_batch
        self.batch_wait_ms = batch_wait_ms
        self.linger = linger_ms / 1000
        self.linger_below = linger_below
        self._last_batch_done = -math.inf
        """When the group's previous batch was applied (monotonic): within
        ``FLOWING_SECONDS`` of it, a stream is flowing."""
        self._max_records = max_batch
        """Most records the group takes in one poll (``max_batch`` per topic it reads)."""
        self._outcomes: dict[tuple[str, str], _Outcomes] = {}
        self._claim = claim_statement(table)
        self._table: list[Consumer] = []
        self._subscriber: Any = None

    def subscribe(self, topic: Topic, consumer: str, handler: Subscriber) -> None:
        """Add consumer ``<service>.<consumer>`` of ``topic`` into ``handler`` to the service's
        table, read by the service's one consumer group (``consume``)."""
        assert self._subscriber is None, "the table is complete once the service consumes"
        assert not (
            isinstance(handler, Batched)
            and any(c.topic == topic and c.handler is handler for c in self._table)
        ), "a Batched shared by consumers takes each topic once"
        self._table.append(Consumer(topic, f"{self.service}.{consumer}", handler))

    @property
    def group(self) -> str:
        """The consumer group the service's table is read by."""
        return self.service

    @property
    def consumers(self) -> tuple[Consumer, ...]:
        """The service's table, in its order."""
        return tuple(self._table)

    def consume(self) -> None:
        """Read the table's topics as one consumer group (once: later calls change nothing)."""
        if self._subscriber is not None or not self._table:
            return
        topics = list(dict.fromkeys(c.topic.name for c in self._table))
        self._max_records = self.max_batch * len(topics)

        async def on_batch(message: KafkaMessage) -> None:
            records = message.raw_message
            assert isinstance(records, tuple)
            if isinstance(message.consumer, AIOKafkaConsumer):
                records = await self._topped_up(message, records, message.consumer)
            try:
                await self.apply_records(records, message.consumer)
            finally:
                self._last_batch_done = time.monotonic()

        on_batch.__name__ = f"{self.service.replace('.', '_').replace('-', '_')}_consumers"
        self._subscriber = self.broker.subscriber(
            *topics,
            group_id=self.group,
            auto_offset_reset="earliest",
            ack_policy=AckPolicy.NACK_ON_ERROR,
            session_timeout_ms=self.session_timeout_ms,
            heartbeat_interval_ms=self.heartbeat_interval_ms,
            fetch_max_wait_ms=self.fetch_max_wait_ms,
            fetch_min_bytes=self.fetch_min_bytes,
            batch=True,
            # Each consumer still applies at most ``max_batch`` in a transaction.
            max_records=self._max_records,
            # How long a poll waits for messages (then FastStream pauses as long again):
            # the most an idle consumer adds to an event's way.
            batch_timeout_ms=self.batch_wait_ms,
            title=f"{self.group}:{','.join(topics)}",
        )
        self._subscriber(on_batch)

    async def _topped_up(
        self, message: KafkaMessage, records: tuple[Any, ...], reader: AIOKafkaConsumer
    ) -> tuple[Any, ...]:
        """While a stream is flowing, a small batch with what came within ``linger`` more
        (each partition's records stay in their order, after the batch's). The message then
        holds them all, so that an error rewinds every partition they came from and success
        commits past them all. (Waiting only when the consumer is saturated is not enough:
        two replicas each keep up with half the stream in small batches, whose fixed cost
        takes the CPU the front door needs.)"""
        flowing = time.monotonic() - self._last_batch_done < self.FLOWING_SECONDS
        room = self._max_records - len(records)
        if not self.linger or not flowing or len(records) >= self.linger_below or room <= 0:
            return records
        assigned = set(reader.assignment())
        await asyncio.sleep(self.linger)
        more = await reader.getmany(timeout_ms=0, max_records=room)
        if set(reader.assignment()) != assigned:
            # The group rebalanced meanwhile: the batch goes as it came, and what came since
            # is read again (a rewind after an error would fail on a partition now another
            # replica's, and leave those after it unrewound).
            for partition, taken in more.items():
                reader.seek(partition, taken[0].offset)
            return records
        if not more:
            return records
        records = (*records, *itertools.chain.from_iterable(more.values()))
        message.raw_message = records
        return records

    async def take_over(self, bootstrap_servers: str) -> None:
        """Before the group first reads: start it where the table's consumers, each a
        consumer group of its own until then, had got to (``consumer_group``)."""
        earlier: dict[str, list[str]] = {}
        for consumer in self._table:
            earlier.setdefault(consumer.topic.name, []).append(consumer.name)
        if earlier:
            await take_over(bootstrap_servers, self.group, earlier)

    async def apply_records(self, records: Sequence[Any], reader: object = None) -> None:
        """A batch the group received (Kafka records, of any of the table's topics), split
        by topic: each consumer of a topic applies its part in order, beside the others; an
        error of one is raised once the others are done (and the batch is read again: what
        they applied, their inboxes skip). ``reader``: the Kafka consumer that read them,
        to tell how far behind they are."""
        split = by_topic(records)
        present = [consumer for consumer in self._table if consumer.topic.name in split]
        parts = [
            self._apply_part(group[0], split[group[0].topic.name], reader)
            if len(group) == 1
            else self._apply_together(group, split, reader)
            for group in sharing_a_handler(present)
        ]
        for outcome in await asyncio.gather(*parts, return_exceptions=True):
            if isinstance(outcome, BaseException):
                raise outcome

    async def _apply_together(
        self, group: Sequence[Consumer], split: Mapping[str, Sequence[Any]], reader: object
    ) -> None:
        """The parts of consumers that share a ``Batched`` handler in one transaction: one
        inbox statement, the handler given all their new events (each consumer's in order).
        Parts too big for one transaction, a message that does not decode, or a transaction
        that fails are applied consumer by consumer instead (``_apply_part``)."""
        parts: list[_Part] = []
        for consumer in group:
            records = split[consumer.topic.name]
            try:
                events = [
                    (
                        consumer.topic.decode(r.value or b""),
                        Received(r.value or b"", r.key, r.headers),
                    )
                    for r in records
                ]
            except ValidationError:
                break  # dead-lettered by its consumer's own part below
            if len(events) > self.max_batch:
                break
            parts.append(_Part(consumer.topic, consumer.name, events))
        else:
            if await self._apply_whole_batch(group[0].handler, parts) is not None:
                if isinstance(reader, AIOKafkaConsumer):
                    for consumer in group:
                        self._report_lag(consumer, reader, split[consumer.topic.name])
                return
        for consumer in group:
            await self._apply_part(consumer, split[consumer.topic.name], reader)

    async def _apply_part(self, consumer: Consumer, records: Sequence[Any], reader: object) -> None:
        for chunk in chunks(records, self.max_batch):
            received = [Received(r.value or b"", r.key, r.headers) for r in chunk]
            await self.deliver_batch(consumer.topic, consumer.name, consumer.handler, received)
        if isinstance(reader, AIOKafkaConsumer):
            self._report_lag(consumer, reader, records)

    def _report_lag(
        self, consumer: Consumer, reader: AIOKafkaConsumer, records: Sequence[Any]
    ) -> None:
        """How far behind its partitions' ends the consumer is after this batch."""
        last: dict[int, int] = {}
        for record in records:
            last[record.partition] = max(last.get(record.partition, -1), record.offset)
        topic = consumer.topic.name
        for partition, offset in last.items():
            end = reader.highwater(TopicPartition(topic, partition))
            if end is not None:
                CONSUMER_LAG.labels(self.service, topic, consumer.name, str(partition)).set(
                    max(0, end - offset - 1)
                )

    async def deliver_batch(
        self,
        topic: Topic,
        consumer: str,
        handler: Subscriber,
        messages: Sequence[Received],
    ) -> list[bool]:
        """Apply messages in order; per message, whether it was applied."""
        decoded: dict[int, tuple[Event, Received]] = {}
        for n, received in enumerate(messages):
            try:
                decoded[n] = (topic.decode(received.body), received)
            except ValidationError as exc:
                await self._dead_letter(topic, consumer, received, exc, attempts=1)
        outcomes = dict.fromkeys(range(len(messages)), False)  # dead-lettered: not applied
        if len(decoded) > 1:
            part = _Part(topic, consumer, list(decoded.values()))
            applied = await self._apply_whole_batch(handler, [part])
            if applied is not None:
                outcomes.update(zip(decoded, applied[0], strict=True))
                return list(outcomes.values())
        for n, (evt, received) in decoded.items():
            outcomes[n] = await self._traced(topic, consumer, handler, evt, received)
        return list(outcomes.values())

    async def _apply_whole_batch(
        self, handler: Subscriber, parts: Sequence[_Part]
    ) -> list[list[bool]] | None:
        """The parts in one transaction, applied again after a conflict with a concurrent
        transaction; per part, whether each event was new; None (nothing changed) when it
        failed otherwise or kept conflicting."""
        names = "+".join(part.consumer for part in parts)
        try:  # a conflict is counted under the first consumer (a name dashboards know)
            return await self._resolving_conflicts(
                parts[0].consumer, lambda: self._apply_batch(handler, parts)
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            for part in parts:
                BATCHES_FAILED.labels(self.service, part.topic.name, part.consumer).inc()
            log.warning("batch failed, applying its events one by one", consumer=names,
                        events=sum(len(p.events) for p in parts), error=repr(exc))  # fmt: skip
            return None

    async def _resolving_conflicts(self, consumer: str, apply: Callable[[], Awaitable[T]]) -> T:
        """``apply`` again at once (after a few ms of jitter) when Postgres undid it for a
        conflict with a concurrent transaction, counted; any other error, or the last of
        ``BATCH_CONFLICT_RETRIES`` conflicts, is raised."""
        for attempt in range(1, BATCH_CONFLICT_RETRIES + 1):
            try:
                return await apply()
            except Exception as exc:
                if not self._conflicted(consumer, exc) or attempt == BATCH_CONFLICT_RETRIES:
                    raise
            await asyncio.sleep(random.uniform(0, 0.02 * attempt))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _conflicted(self, consumer: str, exc: BaseException) -> bool:
        """Whether Postgres undid the transaction for a conflict (counted)."""
        kind = conflict_of(exc)
        if kind is not None:
            TRANSACTION_CONFLICTS.labels(self.service, consumer, kind).inc()
        return kind is not None

    async def _apply_batch(self, handler: Subscriber, parts: Sequence[_Part]) -> list[list[bool]]:
        """All of the parts' events in one transaction; raises (having changed nothing) if
        any fails. A ``Handler`` (an event at a time) takes one part only."""
        applied: list[list[bool]] = []
        async with unit_of_work(self.sessions) as session:
            # Batches of other consumers, partitions and replicas commit concurrently: the
            # order of events comes from their partition, and a conflict with a concurrent
            # transaction (a deadlock) undoes this one, which is then applied again.
            consumers = [part.consumer for part in parts for _ in part.events]
            ids = [evt.event_id for part in parts for evt, _ in part.events]
            rows = await session.execute(self._claim, {"consumer": consumers, "event_id": ids})
            claimed = {(row.consumer, row.event_id) for row in rows}
            new: list[tuple[Event, Received]] = []
            for part in parts:
                applied.append([])
                for evt, received in part.events:
                    fresh = (part.consumer, evt.event_id) in claimed
                    claimed.discard((part.consumer, evt.event_id))  # a second copy: a duplicate
                    applied[-1].append(fresh)
                    if fresh:
                        new.append((evt, received))
                    else:
                        log.info("duplicate event ignored", consumer=part.consumer,
                                 event_id=str(evt.event_id))  # fmt: skip
            if isinstance(handler, Batched):
                topics = ",".join(dict.fromkeys(part.topic.name for part in parts))
                names = "+".join(part.consumer for part in parts)
                traced = [(e.event_id, r.headers) for e, r in new]
                with batch_span(topics, self.group, names, traced):
                    await handler.apply(session, [evt for evt, _ in new])
            else:
                [part] = parts
                await self._apply_each(part.topic, part.consumer, handler, session, new)
        for part, flags in zip(parts, applied, strict=True):
            outcomes = self._outcomes_of(part.topic, part.consumer)
            for fresh in flags:
                (outcomes.applied if fresh else outcomes.duplicate).inc()
            TRANSACTION_EVENTS.labels(self.service, part.consumer).observe(len(ids))
        return applied

    async def _apply_each(
        self,
        topic: Topic,
        consumer: str,
        handler: Handler,
        session: AsyncSession,
        events: list[tuple[Event, Received]],
    ) -> None:
        for evt, received in events:
            with self._event_context(topic, consumer, evt, received) as span:
                await handler(session, evt)
                # The next event reads what this one wrote, as if in a transaction of its
                # own: written out, and nothing remembered from before.
                await session.flush()
                session.expunge_all()
                # (If a later event fails, the batch is undone and this event is applied
                # again alone, in a span of its own.)
                span.set_attribute("event.applied", True)

    async def deliver(
        self,
        topic: Topic,
        consumer: str,
        handler: Subscriber,
        body: bytes,
        key: bytes | None = None,
    ) -> bool:
        """Apply one message; returns False when it was a duplicate or went to the DLQ."""
        [applied] = await self.deliver_batch(topic, consumer, handler, [Received(body, key)])
        return applied

    @contextlib.contextmanager
    def _event_context(
        self, topic: Topic, consumer: str, evt: Event, received: Received
    ) -> Iterator[Span]:
        """The event's correlation and causation ids in the logs, and a span of its own
        inside the consumer span of its message (in the trace its headers carry)."""
        bind_correlation_id(evt.correlation_id or evt.event_id.hex)
        bind_causation_id(str(evt.event_id))
        try:
            with (
                message_span(topic.name, received.headers),
                TRACER.start_as_current_span(
                    f"apply {topic.name}",
                    attributes={
                        "messaging.consumer.group.name": self.group,
                        "billing.consumer": consumer,
                        "event.id": str(evt.event_id),
                    },
                ) as span,
            ):
                yield span
        finally:
            bind_causation_id(None)

    def _outcomes_of(self, topic: Topic, consumer: str) -> _Outcomes:
        outcomes = self._outcomes.get((topic.name, consumer))
        if outcomes is None:
            outcomes = _Outcomes(self.service, topic.name, consumer)
            self._outcomes[topic.name, consumer] = outcomes
        return outcomes

    async def _traced(
        self, topic: Topic, consumer: str, handler: Subscriber, evt: Event, received: Received
    ) -> bool:
        with self._event_context(topic, consumer, evt, received) as span:
            applied = await self._deliver(topic, consumer, handler, evt, received)
            span.set_attribute("event.applied", applied)
            return applied

    async def _deliver(
        self, topic: Topic, consumer: str, handler: Subscriber, evt: Event, received: Received
    ) -> bool:
        outcomes = self._outcomes_of(topic, consumer)
        for attempt in range(1, self.max_attempts + 1):
            try:
                applied = await self._apply_waiting_out_outages(consumer, handler, evt)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                outcomes.failed.inc()
                if attempt == self.max_attempts:
                    await self._dead_letter(topic, consumer, received, exc, attempt)
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
                TRANSACTION_EVENTS.labels(self.service, consumer).observe(1)
                return applied
        return False

    async def _apply_waiting_out_outages(
        self, consumer: str, handler: Subscriber, evt: Event
    ) -> bool:
        async for attempt in stamina.retry_context(
            on=is_transient, attempts=None, timeout=None, wait_initial=0.2, wait_max=5.0
        ):
            with attempt:  # a conflict is tried again at once first, then waited out
                return await self._resolving_conflicts(
                    consumer, lambda: self._apply_once(consumer, handler, evt)
                )
        raise AssertionError("unreachable: stamina retries until success")

    async def _apply_once(self, consumer: str, handler: Subscriber, evt: Event) -> bool:
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
            if isinstance(handler, Batched):
                await handler.apply(session, [evt])
            else:
                await handler(session, evt)
        return True

    async def _dead_letter(
        self,
        topic: Topic,
        consumer: str,
        received: Received,
        exc: BaseException,
        attempts: int,
    ) -> None:
        EVENTS_CONSUMED.labels(self.service, topic.name, consumer, "dead_lettered").inc()
        log.error(
            "message sent to the dead-letter topic",
            consumer=consumer,
            topic=topic.dlq,
            attempts=attempts,
            error=repr(exc),
        )
        await self.broker.publish(
            received.body,
            topic=topic.dlq,
            key=received.key,
            headers={
                "x-original-topic": topic.name,
                "x-consumer": consumer,
                "x-attempts": str(attempts),
                "x-error-type": type(exc).__name__,
                "x-error": f"{type(exc).__name__}: {exc}"[:2000],
                "x-error-trace": "".join(traceback.format_exception(exc))[-4000:],
            },
        )
