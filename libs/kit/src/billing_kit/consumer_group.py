"""A service's consumers read the broker as one consumer group, named after the service: one
Kafka consumer over every topic of the service's table (consumer → topic, handler), however
many consumers the table names. Each batch the group receives is split by topic, and every
consumer of a topic applies that topic's records of the batch, in their order, as a
consumer of its own (``<service>.<consumer>``: its transaction, its inbox rows, its
dead letters and its metrics). The batch's offsets are committed once every consumer
applied its part.

A consumer added later to a topic its service already reads starts where the group stands:
it sees the events that come next, not the topic's history.

Before the group existed, each consumer of the table was a consumer group of its own,
named like the consumer. The first time the service's group starts, it takes over from
them: on each partition, from the earliest offset any of the topic's consumers had
committed, so none of them misses an event; what some of them applied already is found in
their inbox and skipped."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

log = structlog.get_logger(__name__)


def by_topic(records: Iterable[Any]) -> dict[str, list[Any]]:
    """A batch's records per topic, each topic's in the batch's order (so every partition's
    in its own)."""
    split: dict[str, list[Any]] = {}
    for record in records:
        split.setdefault(record.topic, []).append(record)
    return split


def chunks(records: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    """``records`` in consecutive slices of at most ``size``."""
    for start in range(0, len(records), size):
        yield records[start : start + size]


async def committed_offsets(
    admin: AIOKafkaAdminClient, group: str, partitions: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    """The offsets ``group`` committed on ``partitions`` (those it committed none on are
    left out)."""
    if not partitions:
        return {}
    found = await admin.list_consumer_group_offsets(group, partitions=list(partitions))
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}


def earliest_positions(
    partitions: Iterable[TopicPartition],
    earlier_groups: Mapping[str, Sequence[str]],
    committed: Mapping[str, Mapping[TopicPartition, int]],
) -> dict[TopicPartition, int]:
    """Per partition, the lowest offset the topic's earlier groups committed; a partition
    one of them committed nothing on is left out (that group would read it from its start)."""
    positions: dict[TopicPartition, int] = {}
    for tp in partitions:
        groups = earlier_groups.get(tp.topic, ())
        offsets = [committed.get(group, {}).get(tp) for group in groups]
        if groups and all(offset is not None for offset in offsets):
            positions[tp] = min(offset for offset in offsets if offset is not None)
    return positions


async def take_over(
    bootstrap_servers: str, group: str, earlier_groups: Mapping[str, Sequence[str]]
) -> dict[TopicPartition, int]:
    """Commit for ``group``, if it has committed nothing yet, where the consumer groups it
    replaces stood: ``earlier_groups`` names them per topic. Returns what was committed
    (nothing when ``group`` had offsets already or the earlier groups had none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        group_id=group,  # never joined: nothing is subscribed, only committed
        client_id=f"{group}-setup",
        enable_auto_commit=False,
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id=f"{group}-setup")
    await consumer.start()
    try:
        await admin.start()
        await consumer.topics()  # fresh metadata
        partitions = [
            TopicPartition(topic, partition)
            for topic in earlier_groups
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if await committed_offsets(admin, group, partitions):
            return {}
        committed = {
            name: await committed_offsets(
                admin, name, [tp for tp in partitions if name in earlier_groups[tp.topic]]
            )
            for name in sorted({name for names in earlier_groups.values() for name in names})
        }
        positions = earliest_positions(partitions, earlier_groups, committed)
        if positions:
            consumer.assign(list(positions))
            await consumer.commit(positions)
            log.info("consumer group takes over from the earlier ones", group=group,
                     partitions=len(positions), earlier=sorted(committed))  # fmt: skip
        return positions
    finally:
        await admin.close()
        await consumer.stop()
