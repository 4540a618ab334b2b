"""What an operator asks of a service's outbox: its backlog, and its dead letters (listed,
and sent again through the outbox once their cause is fixed)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine


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
