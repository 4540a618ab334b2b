"""What an operator asks of a service's outbox: its backlog, and its dead letters (listed,
and sent again through the outbox once their cause is fixed)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, Table, delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

REDRIVEN_COLUMNS = ("event_id", "topic", "key", "event_type", "body", "headers")


@dataclass(frozen=True)
class Backlog:
    events: int
    oldest_age_seconds: float
    """By the database's clock; 0 when nothing waits."""


async def outbox_backlog(engine: AsyncEngine, table: Table) -> Backlog:
    """How many events wait in an outbox table, and for how long the oldest has."""
    age = func.extract("epoch", func.now() - func.min(table.c.created_at))
    async with engine.connect() as conn:
        events, oldest = (await conn.execute(select(func.count(), age))).one()
    return Backlog(int(events), float(oldest or 0))


async def list_dead_letters(engine: AsyncEngine, dead_letters: Table, limit: int) -> list[Row[Any]]:
    """The oldest ``limit`` outbox dead letters, with their errors."""
    async with engine.connect() as conn:
        query = select(dead_letters).order_by(dead_letters.c.id).limit(limit)
        return list((await conn.execute(query)).all())


async def redrive_dead_letters(
    engine: AsyncEngine, dead_letters: Table, outbox: Table, ids: Sequence[int] | None
) -> list[int]:
    """Move dead letters (those of ``ids``, or all) back into the outbox, in one transaction;
    the relay publishes them like any new row. Returns the ids moved."""
    async with engine.begin() as conn:
        query = select(dead_letters).order_by(dead_letters.c.id).with_for_update(skip_locked=True)
        if ids is not None:
            query = query.where(dead_letters.c.id.in_(ids))
        rows = (await conn.execute(query)).all()
        if not rows:
            return []
        # An event already back in the outbox (re-driven twice at once) is not written twice.
        await conn.execute(
            insert(outbox).on_conflict_do_nothing(index_elements=["event_id"]),
            [{column: getattr(row, column) for column in REDRIVEN_COLUMNS} for row in rows],
        )
        moved = [row.id for row in rows]
        await conn.execute(delete(dead_letters).where(dead_letters.c.id.in_(moved)))
    return moved
