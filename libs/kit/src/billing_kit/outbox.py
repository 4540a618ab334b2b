"""Transactional outbox: an event is written as a row in the same transaction as the state
change it announces; a relay publishes committed rows to Kafka and deletes them after the
broker acknowledged them (at least once; consumers deduplicate by ``event_id``).

Only one relay per service publishes at a time (a Postgres advisory lock per batch), and it
publishes rows in insertion order, so one aggregate's events keep their order on their
partition even with many replicas. A row the broker can never take is moved to the
dead-letter table in the same transaction (``billing_kit.dead_letters``); the rest flow on.
"""

from __future__ import annotations

import asyncio
import contextlib
import zlib
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError, UnknownTopicOrPartitionError
from aiokafka.partitioner import DefaultPartitioner
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    MetaData,
    Row,
    Select,
    String,
    Table,
    Text,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from billing_contracts import Event, Topic
from billing_kit.db import staged
from billing_kit.dead_letters import (
    OUTBOX_DEAD_LETTERS,
    UNDELIVERABLE,
    UnknownTopicError,
    dead_letter,
)
from billing_kit.kafka import broker_unreachable, ensure_topics
from billing_kit.logging import causation_id, correlation_id
from billing_kit.metrics import (
    OUTBOX_BACKLOG,
    OUTBOX_OLDEST_AGE,
    OUTBOX_PUBLISHED,
    OUTBOX_RELAY_LAG,
)
from billing_kit.outbox_ops import Backlog, outbox_backlog
from billing_kit.settings import SINGLE_BROKER, KafkaDurability
from billing_kit.tracing import trace_headers

log = structlog.get_logger(__name__)
_PARTITIONER = DefaultPartitioner()


def outbox_table(metadata: MetaData) -> Table:
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("body", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class Publisher(Protocol):
    """The port a service's rules write events through: ``Outbox`` in the services, an
    in-memory fake in their unit tests."""

    async def add(self, session: AsyncSession, topic: Topic, *events: Event) -> None: ...


class Outbox:
    """Writes events into the outbox table of the caller's transaction."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self.committed = asyncio.Event()
        """Set whenever a transaction holding outbox rows commits: wakes the relay."""

    async def add(self, session: AsyncSession, topic: Topic, *events: Event) -> None:
        """Announce ``events`` when the transaction commits: their rows are written with
        every other row the transaction adds, in one statement, in the order added."""
        rows = staged(session, f"outbox:{self.table.fullname}", list, self._write)
        rows.extend(self.row(topic, evt) for evt in events)
        sync_session = session.sync_session
        if not event.contains(sync_session, "after_commit", self._on_commit):
            event.listen(sync_session, "after_commit", self._on_commit, once=True)

    async def _write(self, session: AsyncSession, rows: list[dict[str, Any]]) -> None:
        if rows:
            await session.execute(insert(self.table), rows)

    def _on_commit(self, _: Session) -> None:
        self.wake()

    def wake(self) -> None:
        """Tell the relay that rows were committed (for writers that bypass ``add``)."""
        self.committed.set()

    def row(self, topic: Topic, evt: Event) -> dict[str, Any]:
        """The outbox row announcing ``evt`` on ``topic``, for writers that insert it
        themselves; ``add`` is the usual way."""
        if type(evt) not in topic.events:
            raise TypeError(f"{type(evt).__name__} is not an event of {topic.name}")
        stamped = evt.model_copy(
            update={
                "correlation_id": evt.correlation_id or correlation_id(),
                "causation_id": evt.causation_id or causation_id(),
            }
        )
        headers = {
            "event_id": str(stamped.event_id),
            "event_type": stamped.type,
            "correlation_id": stamped.correlation_id,
            "content-type": "application/json",
            **trace_headers(),  # the writer's trace goes on with the event
        }
        return {
            "event_id": stamped.event_id,
            "topic": topic.name,
            "key": stamped.aggregate_id(),
            "event_type": stamped.type,
            "body": stamped.model_dump_json(),
            "headers": headers,
        }


def _record(row: Row[Any]) -> dict[str, Any]:
    return {
        "key": row.key.encode(),
        "value": row.body.encode(),
        "headers": [(k, str(v).encode()) for k, v in row.headers.items()],
    }


def new_producer(
    bootstrap_servers: str, client_id: str, durability: KafkaDurability
) -> AIOKafkaProducer:
    # Without the idempotent producer (a broker lacking InitProducerId) the consumers' inbox
    # still absorbs the duplicates a retry could make.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        **durability.producer_options(),
        linger_ms=2,
        request_timeout_ms=10_000,
        max_batch_size=256 * 1024,
    )


def claim_batch(table: Table, lock_id: int) -> Select[Any]:
    """One statement for what took three (the relay's advisory lock, its batch, removing
    the batch): the transaction's lock on ``lock_id``, then the first ``:limit`` rows of
    ``table`` deleted and returned in id order, if the lock was had. One row at least:
    ``locked`` false when another relay holds the lock, the row's columns null when the
    outbox is empty. The rows are gone only when the transaction commits, after publishing.

    The lock is taken after the statement's snapshot: a row another relay removed since
    is still seen, but the delete skips a row deleted by a committed transaction and does
    not return it, so no row is published twice. Such a pass (racing another replica's
    commit) comes back short or empty, and its rows wait for the relay's next look (at most
    ``idle_poll_seconds``)."""
    lock = select(func.pg_try_advisory_xact_lock(lock_id).label("locked")).cte("relay_lock")
    first = (
        select(table.c.id)
        .where(select(lock.c.locked).scalar_subquery())
        .order_by(table.c.id)
        .limit(bindparam("limit"))
    )
    taken = delete(table).where(table.c.id.in_(first)).returning(*table.c).cte("taken")
    return (
        select(lock.c.locked, *taken.c)
        .select_from(lock.outerjoin(taken, true()))
        .order_by(taken.c.id)
    )


class OutboxRelay:
    """Publishes committed outbox rows in batches; runs as a background task of the service."""

    LOCKED_OUT_RETRY_SECONDS = 0.02
    """How soon a relay locked out by another replica's looks again while rows of its own
    may wait; with none, it waits for its next commit (or the idle poll) instead: looking
    every 20 ms regardless was work each replica added whatever it applied."""

    def __init__(
        self,
        engine: AsyncEngine,
        outbox: Outbox,
        bootstrap_servers: str,
        *,
        dead_letters: Table,
        name: str,
        batch_size: int = 500,
        idle_poll_seconds: float = 0.5,
        max_message_bytes: int = 1024 * 1024,
        durability: KafkaDurability = SINGLE_BROKER,
    ) -> None:
        self.engine = engine
        self.durability = durability
        self.outbox = outbox
        self.table = outbox.table
        self.dead_letters = dead_letters
        self.bootstrap_servers = bootstrap_servers
        self.name = name
        self.batch_size = batch_size
        self.idle_poll_seconds = idle_poll_seconds
        self.max_message_bytes = max_message_bytes
        """Kafka's default ``message.max.bytes``: a larger record is refused here rather than
        left to a broker that may or may not take it."""
        self.lock_id = zlib.crc32(f"outbox:{self.table.fullname}".encode())
        self._claim = claim_batch(self.table, self.lock_id)
        self.published_total = 0
        self.failed_attempts = 0
        """Batches ``run`` could not publish (broker or database away): they stay and retry."""
        self._producer: AIOKafkaProducer | None = None

    async def run(self) -> None:
        backoff = 0.2
        while True:
            try:
                # One connection for as long as passes succeed (no pool checkout and return
                # per pass). A connection that broke fails its pass and is given back
                # (invalidated), and the next try checks out another, as after any database
                # outage.
                async with self.engine.connect() as conn:
                    while True:
                        owed = self.outbox.committed.is_set()
                        self.outbox.committed.clear()  # a commit from now on: another pass
                        published = await self._relay_on(conn)
                        backoff = 0.2
                        if published is None and owed:  # another replica's relay is
                            # publishing, maybe without our rows (committed after it took
                            # its batch): look again soon
                            self.outbox.committed.set()
                            await asyncio.sleep(self.LOCKED_OUT_RETRY_SECONDS)
                        elif published is None or published < self.batch_size:
                            await self._wait_for_rows()  # a commit of ours, or the idle poll
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database away: rows wait, try again
                self.outbox.committed.set()  # rows of ours may wait: the next pass owes them
                self.failed_attempts += 1
                log.warning("outbox relay failed, retrying", error=repr(exc), retry_in=backoff)
                await self._drop_producer()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)

    async def _wait_for_rows(self) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.outbox.committed.wait(), self.idle_poll_seconds)

    async def relay_once(self) -> int | None:
        """Publish up to one batch; returns how many rows were published and removed, or
        None when another relay holds the lock."""
        async with self.engine.connect() as conn:
            return await self._relay_on(conn)

    async def _relay_on(self, conn: AsyncConnection) -> int | None:
        """``relay_once`` on ``conn``: three round trips (BEGIN, the claim, COMMIT) whatever
        the outcome, the claim taking the lock and the batch's rows in one statement."""
        async with conn.begin():
            claimed = (await conn.execute(self._claim, {"limit": self.batch_size})).all()
            if not claimed[0].locked:
                return None
            if claimed[0].id is None:  # the outer join's one row: the outbox is empty
                return 0
            rows: Sequence[Row[Any]] = claimed
            refused = await self._publish(rows)
            if refused:
                await conn.execute(
                    insert(self.dead_letters), [dead_letter(row, exc) for row, exc in refused]
                )
            # Leaving the block commits: the rows go only once the broker has them (an
            # error above rolls the claim back, and they are published again).
        self._count_published(rows, refused)
        for row, exc in refused:
            OUTBOX_DEAD_LETTERS.labels(self.name, row.topic).inc()
            log.error(
                "outbox row dead-lettered",
                outbox_id=row.id,
                event_id=str(row.event_id),
                topic=row.topic,
                error=repr(exc),
            )
        self.published_total += len(rows) - len(refused)
        return len(rows)

    def _count_published(
        self, rows: Sequence[Row[Any]], refused: list[tuple[Row[Any], Exception]]
    ) -> None:
        refused_ids = {row.id for row, _ in refused}
        now = datetime.now(UTC)
        lag = OUTBOX_RELAY_LAG.labels(self.name)
        by_topic: Counter[str] = Counter()
        for row in rows:
            if row.id not in refused_ids:
                by_topic[row.topic] += 1
                lag.observe(max((now - row.created_at).total_seconds(), 0.0))
        for topic, published in by_topic.items():
            OUTBOX_PUBLISHED.labels(self.name, topic).inc(published)

    async def backlog(self) -> Backlog:
        """Events waiting in the outbox, also reported as metrics."""
        waiting = await outbox_backlog(self.engine, self.table)
        OUTBOX_BACKLOG.labels(self.name).set(waiting.events)
        OUTBOX_OLDEST_AGE.labels(self.name).set(waiting.oldest_age_seconds)
        return waiting

    async def _publish(self, rows: Sequence[Row[Any]]) -> list[tuple[Row[Any], Exception]]:
        """One record batch per partition instead of one send per row: the per-record cost
        of the producer dominated the relay. Keys map to partitions exactly as Kafka's
        default partitioner does (murmur2), so any client agrees on where a key lives.
        Returns the rows the broker refused for good, with why."""
        producer = await self._ensure_producer()
        partitions: dict[str, list[int] | UnknownTopicError] = {}
        by_partition: dict[tuple[str, int], list[Row[Any]]] = defaultdict(list)
        refused: list[tuple[Row[Any], Exception]] = []
        for row in rows:
            if row.topic not in partitions:
                partitions[row.topic] = await self._partitions(producer, row.topic)
            choices = partitions[row.topic]
            if isinstance(choices, UnknownTopicError):
                refused.append((row, choices))
                continue
            partition = _PARTITIONER(row.key.encode(), choices, choices)
            by_partition[(row.topic, partition)].append(row)
        for partition_refused in await asyncio.gather(
            *(
                self._publish_partition(producer, topic, partition, partition_rows)
                for (topic, partition), partition_rows in by_partition.items()
            )
        ):
            refused.extend(partition_refused)
        return refused

    async def _partitions(
        self, producer: AIOKafkaProducer, topic: str
    ) -> list[int] | UnknownTopicError:
        """The topic's partitions; a topic missing from a reachable broker is created, and
        if that fails its rows are refused rather than blocking every other row."""
        try:
            return sorted(await producer.partitions_for(topic))
        except UnknownTopicOrPartitionError:
            if not await producer.client.force_metadata_update():
                raise  # the broker is away, not the topic: try again later
        try:
            await ensure_topics(self.bootstrap_servers, [topic], durability=self.durability)
            return sorted(await producer.partitions_for(topic))
        except Exception as exc:
            if broker_unreachable(exc) and not isinstance(exc, UnknownTopicOrPartitionError):
                raise
            return UnknownTopicError(f"topic {topic} does not exist and could not be created")

    async def _publish_partition(
        self, producer: AIOKafkaProducer, topic: str, partition: int, rows: list[Row[Any]]
    ) -> list[tuple[Row[Any], Exception]]:
        """Rows of one partition in id order; a full batch is delivered before the next
        starts, so order holds even across batches. A batch the broker refuses for its
        size is sent again record by record, to set aside only the rows at fault."""
        refused: list[tuple[Row[Any], Exception]] = []
        batch, batch_rows = producer.create_batch(), []
        send_batch, send_one = self._send_batch, self._send_one
        for row in rows:
            record = _record(row)
            size = len(record["key"]) + len(record["value"])
            if size > self.max_message_bytes:
                limit = f"{size} bytes, over the limit of {self.max_message_bytes}"
                refused.append((row, MessageSizeTooLargeError(limit)))
                continue
            if batch.append(timestamp=None, **record) is not None:
                batch_rows.append(row)
                continue
            if batch_rows:
                refused += await send_batch(producer, topic, partition, batch, batch_rows)
                batch, batch_rows = producer.create_batch(), []
            if batch.append(timestamp=None, **record) is None:  # larger than a whole batch
                refused += await send_one(producer, topic, partition, row)
            else:
                batch_rows.append(row)
        if batch_rows:
            refused += await send_batch(producer, topic, partition, batch, batch_rows)
        return refused

    @classmethod
    async def _send_batch(
        cls,
        producer: AIOKafkaProducer,
        topic: str,
        partition: int,
        batch: Any,
        rows: list[Row[Any]],
    ) -> list[tuple[Row[Any], Exception]]:
        try:
            await (await producer.send_batch(batch, topic, partition=partition))
        except UNDELIVERABLE:
            refused: list[tuple[Row[Any], Exception]] = []
            for row in rows:  # nothing of the batch was written: resending keeps the order
                refused += await cls._send_one(producer, topic, partition, row)
            return refused
        return []

    @staticmethod
    async def _send_one(
        producer: AIOKafkaProducer, topic: str, partition: int, row: Row[Any]
    ) -> list[tuple[Row[Any], Exception]]:
        try:
            await (await producer.send(topic, partition=partition, **_record(row)))
        except UNDELIVERABLE as exc:
            return [(row, exc)]
        return []

    async def _ensure_producer(self) -> AIOKafkaProducer:
        if self._producer is None:
            producer = new_producer(self.bootstrap_servers, f"{self.name}-outbox", self.durability)
            try:
                await producer.start()
            except BaseException:
                await producer.stop()
                raise
            self._producer = producer
        return self._producer

    async def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                await producer.stop()
            except Exception as exc:
                log.debug("closing the outbox producer failed", error=repr(exc))

    async def stop(self) -> None:
        await self._drop_producer()

    async def pending(self) -> int:
        async with self.engine.connect() as conn:
            return int(await conn.scalar(select(func.count()).select_from(self.table)) or 0)
