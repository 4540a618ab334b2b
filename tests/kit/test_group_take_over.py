"""On the real broker: a service's new consumer group starts, on each partition, at the lowest
offset the consumer groups it replaces (one per consumer, named like it) had committed, and
only the first time; then the service's table runs as that one group, every consumer getting
its topic's events in order, and what a consumer applied before (its inbox rows) skipped."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_contracts.catalog_products import PRODUCTS
from billing_devstack import Infra
from billing_kit.consumer_group import take_over
from billing_kit.db import unit_of_work
from billing_kit.inbox import Handler
from billing_kit.kafka import ensure_topics
from tests.helpers.products import product_created
from tests.helpers.runtimes import isolated_runtime
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration]


def _topic(name: str) -> Topic:
    """A topic of product events of the test's own."""
    return Topic(f"kit.{name}-{uuid.uuid4().hex[:8]}", "test", PRODUCTS.events)


Sent = dict[int, list[Event]]


async def _produce(infra: Infra, topic: str, per_partition: int, partitions: int = 3) -> Sent:
    """``per_partition`` product events on each partition; the events by partition, in order."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, acks="all")
    await producer.start()
    sent: Sent = {}
    try:
        for partition in range(partitions):
            for _ in range(per_partition):
                event = product_created()
                await producer.send_and_wait(
                    topic, event.model_dump_json().encode(), partition=partition
                )
                sent.setdefault(partition, []).append(event)
    finally:
        await producer.stop()
    return sent


async def _commit(infra: Infra, group: str, offsets: Mapping[TopicPartition, int]) -> None:
    """What a consumer group of the earlier kind had committed."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(dict(offsets))
    finally:
        await consumer.stop()


async def _committed(infra: Infra, group: str, topics: list[str]) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        partitions = [TopicPartition(t, p) for t in topics for p in range(3)]
        found = await admin.list_consumer_group_offsets(group, partitions=partitions)
    finally:
        await admin.close()
    return {tp: meta.offset for tp, meta in found.items() if meta.offset >= 0}


async def test_a_new_group_starts_at_the_lowest_offset_of_the_earlier_groups_once(
    infra: Infra,
) -> None:
    a, b = _topic("takeover-a"), _topic("takeover-b")
    await ensure_topics(infra.kafka_bootstrap, [a.name, b.name])
    await _produce(infra, a.name, 10)
    await _produce(infra, b.name, 5)
    group = f"shop-{uuid.uuid4().hex[:8]}"
    a0, a1, a2 = (TopicPartition(a.name, p) for p in range(3))
    b_all = {TopicPartition(b.name, p): 1 for p in range(3)}
    await _commit(infra, f"{group}.one", {a0: 6, a1: 2, a2: 9})
    await _commit(infra, f"{group}.two", {a0: 4, a1: 5})  # nothing on a2: read from its start
    await _commit(infra, f"{group}.three", b_all)
    earlier = {a.name: [f"{group}.one", f"{group}.two"], b.name: [f"{group}.three"]}

    taken = await take_over(infra.kafka_bootstrap, group, earlier)

    expected = {a0: 4, a1: 2, **b_all}
    assert taken == expected
    assert await _committed(infra, group, [a.name, b.name]) == expected

    await _commit(infra, f"{group}.two", {a0: 0, a1: 0, a2: 0})
    assert await take_over(infra.kafka_bootstrap, group, earlier) == {}  # only the first time
    assert await _committed(infra, group, [a.name, b.name]) == expected


async def test_the_table_runs_as_one_group_from_where_its_consumers_stood(infra: Infra) -> None:
    a, b = _topic("onegroup-a"), _topic("onegroup-b")
    await ensure_topics(infra.kafka_bootstrap, [a.name, b.name])
    on_a = await _produce(infra, a.name, 8)
    on_b = await _produce(infra, b.name, 4)
    prefix = f"onegroup-{uuid.uuid4().hex[:8]}"
    runtime = await isolated_runtime(infra, "onegroup", consumer_group_prefix=prefix)
    # Before: three consumer groups; "first" had applied up to offset 5 on every partition
    # of a, "second" up to 3, "third" nothing of b.
    await _commit(infra, f"{prefix}.first", {TopicPartition(a.name, p): 5 for p in range(3)})
    await _commit(infra, f"{prefix}.second", {TopicPartition(a.name, p): 3 for p in range(3)})
    # "first" had applied offsets 3 and 4 of partition 0 too: found in its inbox, skipped.
    async with unit_of_work(runtime.sessions) as session:
        await session.execute(
            insert(runtime.tables.inbox),
            [{"consumer": f"{prefix}.first", "event_id": e.event_id} for e in on_a[0][3:5]],
        )
    seen: dict[str, list[uuid.UUID]] = {"first": [], "second": [], "third": []}

    def recording(name: str) -> Handler:
        async def handle(session: AsyncSession, event: Event) -> None:
            seen[name].append(event.event_id)

        return handle

    runtime.subscribe(a, "first", recording("first"))
    runtime.subscribe(b, "third", recording("third"))
    runtime.subscribe(a, "second", recording("second"))

    def ids(events: Sent, first_offset: dict[int, int]) -> list[list[uuid.UUID]]:
        return [[e.event_id for e in events[p][first_offset.get(p, 0) :]] for p in range(3)]

    def in_partitions(got: list[uuid.UUID], wanted: list[list[uuid.UUID]]) -> bool:
        """``got`` holds each partition's ``wanted``, in order, and nothing else."""
        if len(got) != sum(map(len, wanted)):
            return False
        return all([i for i in got if i in set(part)] == part for part in wanted)

    first = ids(on_a, {0: 5, 1: 3, 2: 3})  # from 3 on each partition, 3 and 4 of 0 skipped
    second = ids(on_a, {0: 3, 1: 3, 2: 3})
    third = ids(on_b, {})
    async with runtime.running():

        async def applied() -> bool:
            return (
                len(seen["first"]) >= 13 and len(seen["second"]) >= 15 and len(seen["third"]) >= 12
            )

        await eventually(applied, within=60)
        ends = {TopicPartition(t.name, p): n for t, n in ((a, 8), (b, 4)) for p in range(3)}

        async def committed_to_the_end() -> bool:
            return await _committed(infra, prefix, [a.name, b.name]) == ends

        await eventually(committed_to_the_end, within=30)
        groups = {getattr(s, "group_id", None) for s in runtime.broker.subscribers}
    assert in_partitions(seen["first"], first), seen["first"]
    assert in_partitions(seen["second"], second), seen["second"]
    assert in_partitions(seen["third"], third), seen["third"]
    assert groups == {prefix}
