"""Kafka plumbing: the FastStream broker of a service, its producers' durability and topic
creation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware

from billing_kit.settings import SINGLE_BROKER, KafkaDurability

log = structlog.get_logger(__name__)


def broker_unreachable(exc: Exception) -> bool:
    """Errors that say "the broker is away", worth waiting out, as opposed to a refusal."""
    if isinstance(exc, KafkaConnectionError | OSError | TimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


def new_broker(
    bootstrap_servers: str, client_id: str, durability: KafkaDurability = SINGLE_BROKER
) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        **durability.producer_options(),
        middlewares=[KafkaTelemetryMiddleware()],  # consumers continue the message's trace
        logger=None,
        graceful_timeout=10.0,
    )


async def ensure_topics(
    bootstrap_servers: str,
    names: Iterable[str],
    *,
    partitions: int = 3,
    durability: KafkaDurability = SINGLE_BROKER,
) -> None:
    """Create the topics a service needs with its durability; existing ones are left alone."""
    wanted = sorted(set(names))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        new_topics = [new_topic(name, partitions, durability) for name in missing]
        with contextlib.suppress(TopicAlreadyExistsError):  # another replica was quicker
            await admin.create_topics(new_topics)
        log.info("topics created", topics=missing)
    finally:
        await admin.close()


def new_topic(name: str, partitions: int, durability: KafkaDurability) -> NewTopic:
    return NewTopic(
        name,
        partitions,
        replication_factor=durability.replication_factor,
        topic_configs=durability.topic_config(),
    )


async def rewind_past_end(consumer: AIOKafkaConsumer) -> list[TopicPartition]:
    """Partitions ``consumer`` reads beyond their end, moved to their beginning.

    A broker that lost its topics (the embedded one, restarted) makes them again with
    offsets from 0, and answers a read past the end with nothing rather than an error: a
    consumer that had read up to offset n would skip the first n messages of the new topic.
    Read from the beginning instead (consumers are idempotent; a requester ignores replies
    it is not waiting for).

    A partition's end is the high watermark of the consumer's own latest fetch: it is never
    behind what the consumer has read from a live partition. (The embedded broker's
    ``ListOffsets`` answers the base offset of the last record batch + 1, behind the records
    of a batch of several, so its "latest" offsets cannot tell a live partition from a
    partition made again.)"""
    rewound = []
    for partition in consumer.assignment():
        end = consumer.highwater(partition)
        if end is not None and await consumer.position(partition) > end:
            await consumer.seek_to_beginning(partition)
            rewound.append(partition)
    return rewound
