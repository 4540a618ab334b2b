"""Outbox rows the broker can never take (larger than it accepts, or bound for a topic that
does not exist and cannot be made) are moved aside into ``outbox_dead_letters`` with their
error, so that one such row never stops the relay; an operator decides what becomes of them.
"""

from __future__ import annotations

from typing import Any

from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from prometheus_client import Counter
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    MetaData,
    Row,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

OUTBOX_DEAD_LETTERS = Counter(
    "outbox_dead_letters_total",
    "Outbox rows the broker refused for good, moved to outbox_dead_letters",
    ["service", "topic"],
)

UNDELIVERABLE = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)
"""Refusals that no retry can change: the row itself is at fault."""


class UnknownTopicError(Exception):
    """The topic is missing from a reachable broker, and creating it failed."""


def dead_letters_table(metadata: MetaData) -> Table:
    return Table(
        "outbox_dead_letters",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=False),
        Column("event_id", UUID(as_uuid=True), nullable=False),
        Column("topic", String(200), nullable=False),
        Column("key", String(200), nullable=False),
        Column("event_type", String(200), nullable=False),
        Column("body", Text, nullable=False),
        Column("headers", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("error", Text, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def dead_letter(row: Row[Any], error: BaseException) -> dict[str, Any]:
    """The dead-letter row of an outbox row, its error kept for whoever looks into it."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "topic": row.topic,
        "key": row.key,
        "event_type": row.event_type,
        "body": row.body,
        "headers": row.headers,
        "created_at": row.created_at,
        "error": f"{type(error).__name__}: {error}"[:2000],
    }
