"""Kafka plumbing: the FastStream broker of a service and topic creation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from faststream.kafka import KafkaBroker

log = structlog.get_logger(__name__)


def broker_unreachable(exc: Exception) -> bool:
    """Errors that say "the broker is away", worth waiting out, as opposed to a refusal."""
    if isinstance(exc, KafkaConnectionError | OSError | TimeoutError):
        return True
    return isinstance(exc, KafkaError) and bool(exc.retriable)


def new_broker(bootstrap_servers: str, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        bootstrap_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=False,
        logger=None,
        graceful_timeout=10.0,
    )


async def ensure_topics(
    bootstrap_servers: str, names: Iterable[str], *, partitions: int = 3
) -> None:
    """Create the topics a service needs; existing ones are left alone."""
    wanted = sorted(set(names))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="topic-setup")
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in wanted if name not in existing]
        if not missing:
            return
        new_topics = [NewTopic(name, partitions, replication_factor=1) for name in missing]
        with contextlib.suppress(TopicAlreadyExistsError):  # another replica was quicker
            await admin.create_topics(new_topics)
        log.info("topics created", topics=missing)
    finally:
        await admin.close()
