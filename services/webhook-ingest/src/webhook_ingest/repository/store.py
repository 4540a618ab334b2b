"""The ingest hot path's storage: a lean asyncpg pool of its own, a group commit, and what
becomes of each verified event — its row, and its contract event for the outbox (or held
back until Stripe's figures are read, ``service/enrichment.py``).

A verified event is always stored: one that cannot be normalized, or whose JSON Postgres
refuses, is kept (raw if need be) and marked for an operator's attention instead of being
refused, so Stripe never redelivers it for days.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

import asyncpg
import orjson
import structlog

from billing_kit.db import asyncpg_dsn
from billing_kit.outbox import Outbox
from webhook_ingest import repository
from webhook_ingest.replicas import AgencyDirectory
from webhook_ingest.repository.group_commit import (
    REFUSED,
    EventRow,
    GroupCommit,
    LeanConnection,
    OutboxRow,
    columns,
)
from webhook_ingest.rules.normalize import figures_lookup, normalize

log = structlog.get_logger(__name__)


_OUTAGES = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class EventStore:
    """Stores verified Stripe events exactly once, each with its normalized contract event
    (group-committed), and wakes the outbox relay or the enricher."""

    def __init__(
        self,
        database_url: str,
        outbox: Outbox,
        agencies: AgencyDirectory,
        pool_size: int = 10,
        max_batch: int = 128,
    ) -> None:
        self.dsn = asyncpg_dsn(database_url)
        self.outbox = outbox
        self.agencies = agencies
        self.pool_size = pool_size
        self.held = asyncio.Event()
        """Set when contract events were held back for Stripe's figures: wakes the enricher."""
        self._pool: Any = None
        self._opening = asyncio.Lock()
        self.writer = GroupCommit(self.connection_pool, outbox.wake, self.held.set, max_batch)

    async def connection_pool(self) -> Any:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self.dsn,
                        min_size=1,
                        max_size=self.pool_size,
                        command_timeout=10,
                        timeout=5,
                        connection_class=LeanConnection,
                    )
        return self._pool

    async def close(self) -> None:
        await self.writer.close()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def record(self, event: Mapping[str, Any], endpoint: str, raw: str | None = None) -> bool:
        """Store ``event`` (``raw``: its body as received); False when it was already stored."""
        return await self.writer.write(*await self._rows(event, endpoint, raw))

    async def _rows(
        self, event: Mapping[str, Any], endpoint: str, raw: str | None
    ) -> tuple[EventRow, OutboxRow | None]:
        outbox: OutboxRow | None = None
        attention: str | None = None
        try:
            agency_id = await self.agencies.agency_of(event, self.connection_pool)
            normalized = normalize(event, agency_id)
            lookup = figures_lookup(event) if normalized is not None else None
        except Exception as exc:  # a shape we do not understand: kept, not refused
            if isinstance(exc, _OUTAGES) and not isinstance(exc, REFUSED):
                raise  # the database is away: not the event's fault
            normalized = None
            attention = f"not normalized: {exc!r}"[:2000]
            log.error("stripe event not normalized", stripe_event_id=event["id"], error=repr(exc))
        if normalized is not None:
            entry = self.outbox.row(normalized.topic, normalized.event)
            outbox = (
                entry["event_id"],
                entry["topic"],
                entry["key"],
                entry["event_type"],
                entry["body"],
                orjson.dumps(entry["headers"]).decode(),
                None if lookup is None else orjson.dumps(dataclasses.asdict(lookup)).decode(),
            )
        row: EventRow = (
            event["id"],
            event["type"],
            event.get("account"),
            bool(event.get("livemode")),
            event["created"],
            _text(event.get("api_version")),
            raw if raw is not None else json.dumps(event),
            endpoint,
            attention,
        )
        return row, outbox

    async def retry_marked(self, start: int, end: int) -> int:
        """Store again the events of ``[start, end]`` kept for attention (after a fix, say):
        each that now normalizes and stores is published and no longer marked. Returns how
        many were."""
        pool = await self.connection_pool()
        async with pool.acquire() as conn:
            marked = await repository.marked(conn, start, end)
        repaired = 0
        for found in marked:
            event = orjson.loads(found["body"])
            row, outbox = await self._rows(event, found["endpoint"], found["body"])
            if row[-1] is not None:
                continue  # still not normalized
            try:
                async with pool.acquire() as conn, conn.transaction():
                    stored = await repository.store_again(conn, row[0], columns([(row, outbox)]))
            except REFUSED:
                continue  # still not storable as JSON
            if stored is not None:
                self.writer.wake(stored)
                repaired += 1
        return repaired

    async def known_accounts(self) -> Sequence[str]:
        async with (await self.connection_pool()).acquire() as conn:
            return await repository.known_accounts(conn)

    async def needing_attention(self, start: int, end: int) -> list[str]:
        async with (await self.connection_pool()).acquire() as conn:
            return await repository.needing_attention(conn, start, end)
