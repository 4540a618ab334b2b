"""The summary's figures and pages of workspaces, read from rollups the ledger's own code
kept, against the same movements summed here: every kind of range (one day, days of a month,
edge days around whole months and years) and every page size, walked page by page."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_devstack import Infra
from billing_kit.db import create_engine, session_factory, unit_of_work
from revenue import repository
from revenue.rules import ROLLUP_FIGURES, WorkspacePage, rollup_delta
from tests.helpers.databases import migrated_database

pytestmark = [pytest.mark.integration]

AGENCY = "agency-pages"
FIRST_DAY = date(2025, 11, 1)
DAYS = 500


def _movements() -> list[tuple[str, date, dict[str, int]]]:
    """Workspaces busy every few days, some only now and then (so some ranges miss them),
    and movements no workspace was found for (workspace '')."""
    rng = random.Random(11)
    found: list[tuple[str, date, dict[str, int]]] = []
    for n in range(40):
        workspace = "" if n == 0 else f"ws-{n:03d}"
        for _ in range(rng.choice((1, 2, 30))):
            day = FIRST_DAY + timedelta(days=rng.randrange(DAYS))
            kind = rng.choice(("charge", "charge", "refund", "dispute"))
            gross = rng.randrange(100, 100_000) * (1 if kind == "charge" else -1)
            stripe_fee = 30 + gross * 29 // 1000 if kind == "charge" else 0
            platform_fee = gross * 5 // 1000 if kind == "charge" else 0
            net = gross - stripe_fee - platform_fee
            found.append((workspace, day, rollup_delta(kind, gross, stripe_fee, platform_fee, net)))
    return found


MOVEMENTS = _movements()

RANGES = (
    (date(2026, 3, 7), date(2026, 3, 7)),  # one day
    (date(2026, 3, 1), date(2026, 3, 31)),  # one month
    (date(2026, 1, 1), date(2026, 12, 31)),  # one year
    (date(2026, 3, 10), date(2026, 3, 24)),  # days of a month
    (date(2026, 2, 20), date(2026, 3, 5)),  # days of two months
    (date(2026, 1, 15), date(2026, 9, 14)),  # edge days and whole months
    (date(2025, 11, 20), date(2027, 2, 10)),  # edge days, months and a whole year
    (date(2020, 1, 1), date(2099, 12, 31)),  # whole years
)


def _expected(start: date, end: date) -> dict[str, Any]:
    totals = dict.fromkeys(ROLLUP_FIGURES, 0)
    workspaces: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ROLLUP_FIGURES, 0))
    months: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(ROLLUP_FIGURES, 0))
    for workspace, day, delta in MOVEMENTS:
        if start <= day <= end:
            for name, value in delta.items():
                totals[name] += value
                workspaces[workspace][name] += value
                months[f"{day:%Y-%m}"][name] += value
    return {
        **totals,
        "workspaces": [
            {"workspace_id": workspace or None, **figures}
            for workspace, figures in sorted(workspaces.items())
        ],
        "months": [{"month": month, **figures} for month, figures in sorted(months.items())],
    }


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(await migrated_database(infra.database_url, "revenue"), pool_size=2)
    factory = session_factory(engine)
    async with unit_of_work(factory) as session:
        for workspace, day, delta in MOVEMENTS:
            repository.add_to_rollups(
                session, agency_id=AGENCY, workspace_id=workspace, day=day, currency="usd",
                delta=delta,
            )  # fmt: skip
    yield factory
    await engine.dispose()


async def _summary(
    sessions: async_sessionmaker[AsyncSession], start: date, end: date, page: WorkspacePage
) -> dict[str, Any]:
    async with unit_of_work(sessions) as session:
        found = await repository.summary_json(session, AGENCY, "usd", start, end, page)
    summary: dict[str, Any] = json.loads(found)
    return summary


@pytest.mark.parametrize(("start", "end"), RANGES, ids=[f"{s}..{e}" for s, e in RANGES])
@pytest.mark.parametrize("limit", [1, 3, 7, 1000])
async def test_pages_of_workspaces_list_each_busy_workspace_once_under_the_same_totals(
    sessions: async_sessionmaker[AsyncSession], start: date, end: date, limit: int
) -> None:
    expected = _expected(start, end)
    assert expected["workspaces"], "every range has some movement"
    listed: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        summary = await _summary(sessions, start, end, WorkspacePage(limit=limit, after=after))
        assert {name: summary[name] for name in ROLLUP_FIGURES} == {
            name: expected[name] for name in ROLLUP_FIGURES
        }
        assert summary["months"] == expected["months"]
        assert (summary["period_from"], summary["period_to"]) == (str(start), str(end))
        assert 1 <= len(summary["workspaces"]) <= limit
        listed += summary["workspaces"]
        after = summary["workspaces_next"]
        if after is None:
            break
        assert len(summary["workspaces"]) == limit, "only the last page is short"
        assert after == (summary["workspaces"][-1]["workspace_id"] or "")
    assert listed == expected["workspaces"]
