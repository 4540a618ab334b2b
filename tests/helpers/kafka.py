"""Reading topics directly, by partition, without joining a consumer group."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from billing_contracts import ALL_TOPICS, Event, Topic
from billing_contracts.customer_requests import INVOICING_CUSTOMER_REPLIES_TOPIC
from billing_contracts.registry import REQUEST_CHANNELS
from billing_kit.kafka import ensure_topics

SERVICE_TOPICS = (
    *(name for topic in ALL_TOPICS for name in (topic.name, topic.dlq)),
    *(channel.name for channel in REQUEST_CHANNELS),
    INVOICING_CUSTOMER_REPLIES_TOPIC,
)
"""Every topic the services make at start-up: events with their dead letters, requests and
replies."""


async def read_topic(bootstrap: str, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record on ``topic`` right now, partition by partition."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer.topics()  # fetches fresh metadata
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[bytes, bytes]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < end for tp, end in ends.items()])

        while await behind():
            batch = await consumer.getmany(timeout_ms=500)
            for partition_records in batch.values():
                records.extend(partition_records)
        return records
    finally:
        await consumer.stop()


async def keys_on(bootstrap: str, topic: str) -> set[str]:
    return {r.key.decode() for r in await read_topic(bootstrap, topic) if r.key is not None}


async def publish(bootstrap: str, topic: Topic, *events: Event) -> None:
    """Put events on a topic the way a service's relay would (key = aggregate id)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for event in events:
            await producer.send_and_wait(
                topic.name,
                event.model_dump_json().encode(),
                key=event.aggregate_id().encode(),
                headers=[("event_id", str(event.event_id).encode())],
            )
    finally:
        await producer.stop()


async def restore_topics(bootstrap: str) -> None:
    """The embedded broker forgets its topics when it stops: give the running services back
    the topics they made at start-up."""
    await ensure_topics(bootstrap, SERVICE_TOPICS)


class Record(NamedTuple):
    """What the broker hands over of a message (the fields the inbox reads)."""

    topic: str
    partition: int
    offset: int
    value: bytes
    key: bytes | None = None
    headers: Sequence[tuple[str, bytes]] = ()
