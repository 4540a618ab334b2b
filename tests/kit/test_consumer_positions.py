"""The check that moves a consumer back within a topic the broker made again must never fire
on a live topic: a consumer reading while messages keep arriving is never rewound, and reads
every message once."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from billing_devstack import Infra
from billing_kit.kafka import ensure_topics, rewind_past_end

pytestmark = [pytest.mark.integration]

MESSAGES = 3_000


async def test_a_consumer_keeping_up_with_a_live_topic_is_never_rewound(infra: Infra) -> None:
    topic = f"kit.positions-{uuid.uuid4().hex[:8]}"
    await ensure_topics(infra.kafka_bootstrap, [topic])
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, linger_ms=1)
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"{topic}-readers",
        auto_offset_reset="earliest",
        max_poll_records=20,
    )
    await producer.start()
    await consumer.start()
    read: dict[TopicPartition, list[int]] = {}
    rewound: list[TopicPartition] = []
    checks = 0
    try:

        async def produce() -> None:
            for n in range(MESSAGES):
                await producer.send(topic, str(n).encode(), key=str(n % 7).encode())
                if n % 10 == 0:
                    await asyncio.sleep(0.005)  # a steady stream for a few seconds, not a burst
            await producer.flush()

        async def consume() -> None:
            while sum(map(len, read.values())) < MESSAGES:
                for partition, records in (await consumer.getmany(timeout_ms=100)).items():
                    read.setdefault(partition, []).extend(r.offset for r in records)

        async def check() -> None:
            nonlocal checks
            while sum(map(len, read.values())) < MESSAGES:
                rewound.extend(await rewind_past_end(consumer))
                checks += 1
                await asyncio.sleep(0)

        async with asyncio.timeout(90):
            await asyncio.gather(produce(), consume(), check())
    finally:
        await consumer.stop()
        await producer.stop()

    assert rewound == [], (checks, rewound)
    assert checks >= 5, checks  # the check really ran while messages flowed
    for offsets in read.values():
        assert offsets == list(range(len(offsets)))  # each once, in order, nothing read again
    assert sum(map(len, read.values())) == MESSAGES
