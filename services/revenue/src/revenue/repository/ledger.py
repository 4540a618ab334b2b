"""The ledger's queries: its entries, each once, and the rollups they add to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from billing_kit.db import staged
from billing_kit.sql_arrays import arrays, unnest_insert
from revenue.models import AgencyRollup, LedgerEntry, WorkspaceRollup
from revenue.rules import ROLLUP_FIGURES, rollup_periods


async def record_entries(session: AsyncSession, entries: Sequence[LedgerEntry]) -> set[str]:
    """Insert the entries whose balance transaction is not in yet (in key order, one
    statement); the ids of those that were new."""
    if not entries:
        return set()
    rows = [e.model_dump(exclude={"recorded_at"}) for e in sorted(entries, key=_entry_id)]
    inserted = await session.execute(_RECORD_ENTRIES, arrays(rows, _ENTRY_COLUMNS))
    return set(inserted.scalars())


def _entry_id(entry: LedgerEntry) -> str:
    return entry.entry_id


# Tables written a batch at a time, by statements whose text is the same whatever the
# batch's size (``billing_kit.sql_arrays``: rows inserted from one array per column), built
# once.
_AGENCY_ROLLUPS: Table = AgencyRollup.__table__  # type: ignore[attr-defined]
_LEDGER: Table = LedgerEntry.__table__  # type: ignore[attr-defined]
_WORKSPACE_ROLLUPS: Table = WorkspaceRollup.__table__  # type: ignore[attr-defined]

_ENTRY_COLUMNS = [c.key for c in _LEDGER.columns if c.key != "recorded_at"]
_RECORD_ENTRIES = (
    unnest_insert(_LEDGER, _ENTRY_COLUMNS).on_conflict_do_nothing().returning(_LEDGER.c.entry_id)
)

_ROLLUP_SUMS = (*ROLLUP_FIGURES, "entries")


def _adding_up(table: Table) -> tuple[Insert, list[str], list[str]]:
    """Rollup rows inserted, or added to the row of their key: with the key's columns and
    every column given."""
    keys = [c.name for c in table.primary_key]
    statement = unnest_insert(table, [*keys, *_ROLLUP_SUMS])
    add = {name: table.c[name] + statement.excluded[name] for name in _ROLLUP_SUMS}
    return (
        statement.on_conflict_do_update(index_elements=keys, set_=add),
        keys,
        [*keys, *_ROLLUP_SUMS],
    )


_ADD_TO_ROLLUPS = [_adding_up(_AGENCY_ROLLUPS), _adding_up(_WORKSPACE_ROLLUPS)]
"""Per table (0: agency, 1: workspace): how its sums are added, its key and its columns."""

RollupSums = dict[tuple[int, tuple[Any, ...]], dict[str, int]]
"""Per rollup row ((0: agency table, 1: workspace table), primary key): what to add."""


def add_to_rollups(
    session: AsyncSession,
    *,
    agency_id: str,
    workspace_id: str,
    day: date,
    currency: str,
    delta: dict[str, int],
    entries: int = 1,
) -> None:
    """Add one entry to its agency's month and day and to its workspace's year, month and
    day (``entries=-1`` with a negated ``delta`` takes it out), at the end of the
    transaction: the sums of all its entries are written together (``write_rollups``)."""
    staged_sums = staged(session, "revenue.rollups", dict, write_rollups)
    for grain, start in rollup_periods(day):
        keys: list[tuple[int, tuple[Any, ...]]] = [
            (1, (agency_id, currency, grain, start, workspace_id))
        ]
        if grain != "year":
            keys.append((0, (agency_id, currency, grain, start)))
        for key in keys:
            sums = staged_sums.setdefault(key, dict.fromkeys(_ROLLUP_SUMS, 0))
            for name in ROLLUP_FIGURES:
                sums[name] += delta.get(name, 0)
            sums["entries"] += entries


async def write_rollups(session: AsyncSession, staged_sums: RollupSums) -> None:
    """The transaction's rollup sums: one ``INSERT … ON CONFLICT DO UPDATE`` per table, the
    agency table first and each table's rows in key order, so that two transactions adding
    to the same rows lock them in the same order (no deadlock, however their events
    interleave) and each row is written once however many entries add to it."""
    for index, (statement, keys, columns) in enumerate(_ADD_TO_ROLLUPS):
        rows = [
            {**dict(zip(keys, key, strict=True)), **sums}
            for (which, key), sums in sorted(staged_sums.items())
            if which == index
        ]
        if rows:
            await session.execute(statement, arrays(rows, columns))


async def ledger_entry(session: AsyncSession, entry_id: str) -> LedgerEntry | None:
    query = select(LedgerEntry).where(col(LedgerEntry.entry_id) == entry_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()
