"""What the owner reads: the summary, built by Postgres from the rollups, the subscriptions'
charging health, and MRR's histories (with the states they are made of, kept as told)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import Row, Table, TextClause, and_, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from revenue.models import InvoiceFacts, SubscriptionHealth, SubscriptionStateRow
from revenue.rules import (
    ROLLUP_FIGURES,
    Span,
    SubscriptionHistory,
    SubscriptionState,
    WorkspacePage,
    spans,
)

_SUMS = ", ".join(f"sum({name})::bigint AS {name}" for name in ROLLUP_FIGURES)
_TOTALS = ", ".join(f"coalesce(sum({name}), 0)::bigint AS {name}" for name in ROLLUP_FIGURES)


def _span_condition(n: int, prefix: str, *, one_period: bool = False) -> str:
    """Span ``n`` of the agency's currency: an index range (over ``one_period``, an
    equality, so the rows come in ``workspace_id`` order)."""
    period = (
        f"period_start = :{prefix}first_{n}"
        if one_period
        else f"period_start BETWEEN :{prefix}first_{n} AND :{prefix}last_{n}"
    )
    return (
        f"agency_id = :agency_id AND currency = :currency AND grain = :{prefix}grain_{n}"
        f" AND {period}"
    )


def _rows_in_spans(
    table: str, spans: int, prefix: str, condition: str = "", *, one_period: bool = False
) -> str:
    """A table's rows in ``spans`` spans, each read on its own."""
    return " UNION ALL ".join(
        f"SELECT * FROM revenue.{table}"
        f" WHERE {_span_condition(n, prefix, one_period=one_period)}{condition}"
        for n in range(spans)
    )


def _page_ids(spans: int, after: str) -> str:
    """The ids of the first ``limit`` + 1 workspaces with a row in any of ``spans`` spans:
    the workspaces of the range's years in order (one row each per year), each kept once the
    workspace-ordered index shows a row of one of the spans for it, until the page is full.
    Widest spans first: a busy workspace is found by its first look."""
    found_in = " OR ".join(
        f"EXISTS (SELECT FROM revenue.workspace_rollups AS r"
        f" WHERE {_span_condition(n, 'ws_')} AND r.workspace_id = y.workspace_id)"
        for n in reversed(range(spans))  # ``rules.spans`` lists the days first
    )
    return f"""
    SELECT y.workspace_id FROM (
        SELECT DISTINCT workspace_id FROM revenue.workspace_rollups
        WHERE agency_id = :agency_id AND currency = :currency AND grain = 'year'
          AND period_start BETWEEN :first_year AND :last_year{after}
        ORDER BY workspace_id
    ) AS y
    WHERE {found_in}
    ORDER BY y.workspace_id LIMIT CAST(:limit AS integer) + 1"""


RECONCILED = """CASE WHEN count(*) = 0 THEN 'unchecked'
                     WHEN bool_and(status = 'reconciled') THEN 'reconciled'
                     WHEN bool_or(status = 'mismatch') THEN 'mismatch'
                     ELSE 'healing' END"""
"""How a set of accounts' last checks (rows of ``reconciliations``) read as one status."""

_RECONCILIATION = f"""
    SELECT json_build_object('status', {RECONCILED}, 'checked_at', min(checked_at))
    FROM revenue.reconciliations WHERE agency_id = :agency_id"""
"""The agency's accounts' last checks, as the summary's ``reconciliation``."""


@functools.cache
def _summary_statement(
    workspace_spans: int, agency_spans: int, after: bool, one_period: bool
) -> TextClause:
    """Totals and months over every workspace; the workspaces themselves one page at a
    time, in ``workspace_id`` order, ``workspaces_next`` naming the last one of a page that
    has more after it. Over ``one_period`` (a year, a month, a day) each workspace has one
    row, so the page is read in index order and nothing after it is read; over several
    spans, the page's ids come first, then only their rows are summed."""
    after_condition = " AND workspace_id > :after" if after else ""
    agency_rows = _rows_in_spans("agency_rollups", agency_spans, "")
    if one_period:
        page = f"""
    SELECT workspace_id, {", ".join(ROLLUP_FIGURES)}
    FROM ({_rows_in_spans("workspace_rollups", 1, "ws_", after_condition, one_period=True)}) AS r
    ORDER BY r.workspace_id LIMIT CAST(:limit AS integer) + 1"""
    else:
        in_page = f"{after_condition} AND workspace_id <= (SELECT max(workspace_id) FROM ids)"
        page = f"""
    SELECT workspace_id, {_SUMS}
    FROM ({_rows_in_spans("workspace_rollups", workspace_spans, "ws_", in_page)}) AS r
    GROUP BY r.workspace_id ORDER BY r.workspace_id"""
    ids = "" if one_period else f"ids AS ({_page_ids(workspace_spans, after_condition)}), "
    return text(f"""
WITH {ids}page AS ({page}
), listed AS (
    SELECT * FROM page ORDER BY workspace_id LIMIT :limit
), months AS (
    SELECT to_char(period_start, 'YYYY-MM') AS month, {_SUMS}
    FROM ({agency_rows}) AS r GROUP BY 1
), totals AS (
    SELECT CAST(:currency AS text) AS currency, CAST(:period_from AS date) AS period_from,
           CAST(:period_to AS date) AS period_to, {_TOTALS},
           CASE WHEN (SELECT count(*) FROM page) > :limit
                THEN (SELECT max(workspace_id) FROM listed) END AS workspaces_next
    FROM months
)
SELECT left(row_to_json(totals)::text, -1)
    || ',"reconciliation":' || ({_RECONCILIATION})::text
    || ',"workspaces":' || coalesce((
        SELECT json_agg(w ORDER BY w.workspace_id NULLS FIRST)
        FROM (SELECT nullif(workspace_id, '') AS workspace_id, {", ".join(ROLLUP_FIGURES)}
              FROM listed) AS w)::text, '[]')
    || ',"months":' || coalesce((SELECT json_agg(m ORDER BY m.month) FROM months AS m)::text,
                                '[]')
    || '}}'
FROM totals
""")


def span_params(found: list[Span], prefix: str) -> dict[str, object]:
    params: dict[str, object] = {}
    for n, span in enumerate(found):
        params.update(
            {
                f"{prefix}grain_{n}": span.grain,
                f"{prefix}first_{n}": span.first,
                f"{prefix}last_{n}": span.last,
            }
        )
    return params


async def summary_json(
    session: AsyncSession,
    agency_id: str,
    currency: str,
    start: date,
    end: date,
    page: WorkspacePage,
) -> str:
    """The owner's summary from ``start`` to ``end`` (UTC days, inclusive) as JSON text,
    built by Postgres: totals and months from the agency's months and edge days, then a
    page of workspaces from their years, months and edge days."""
    per_workspace = spans(start, end)
    per_agency = spans(start, end, years=False)
    one_period = len(per_workspace) == 1 and per_workspace[0].first == per_workspace[0].last
    statement = _summary_statement(
        len(per_workspace), len(per_agency), page.after is not None, one_period
    )
    params = {
        "agency_id": agency_id,
        "currency": currency,
        "period_from": start,
        "period_to": end,
        "limit": page.limit,
        **({"after": page.after} if page.after is not None else {}),
        **span_params(per_workspace, "ws_"),
        "first_year": start.replace(month=1, day=1),
        "last_year": end.replace(month=1, day=1),
        **span_params(per_agency, ""),
    }
    found = (await session.execute(statement, params)).scalar_one()
    assert isinstance(found, str)
    return found


async def charging_health(session: AsyncSession, agency_id: str) -> Sequence[Row[Any]]:
    """Per subscription: status, when an invoice of it was last paid, and the first failed
    attempt among its invoices still unpaid."""
    invoices = InvoiceFacts.__table__.alias("i")  # type: ignore[attr-defined]
    last_paid = (
        select(func.max(invoices.c.paid_at))
        .where(invoices.c.subscription_id == col(SubscriptionHealth.subscription_id))
        .scalar_subquery()
    )
    failing = (
        select(func.min(invoices.c.first_failed_at))
        .where(
            and_(
                invoices.c.subscription_id == col(SubscriptionHealth.subscription_id),
                invoices.c.status.not_in(("paid", "void")),
            )
        )
        .scalar_subquery()
    )
    query = (
        select(
            col(SubscriptionHealth.subscription_id),
            col(SubscriptionHealth.workspace_id),
            col(SubscriptionHealth.status),
            col(SubscriptionHealth.stripe_product_id),
            last_paid.label("last_paid_at"),
            failing.label("failing_since"),
        )
        .where(col(SubscriptionHealth.agency_id) == agency_id)
        .order_by(col(SubscriptionHealth.workspace_id), col(SubscriptionHealth.subscription_id))
    )
    return (await session.execute(query)).all()


# --- MRR -------------------------------------------------------------------------------

_STATES: Table = SubscriptionStateRow.__table__  # type: ignore[attr-defined]


async def record_subscription_state(session: AsyncSession, state: SubscriptionStateRow) -> None:
    """A subscription's state as an event told it, once."""
    await session.execute(insert(_STATES).on_conflict_do_nothing(), [state.model_dump()])


async def mrr_histories(
    session: AsyncSession, agencies: Sequence[str], currency: str, workspace_id: str | None
) -> dict[str, list[SubscriptionHistory]]:
    """The agencies' subscriptions (of one workspace, if named) with their states in
    ``currency`` and when each first invoice was paid, by agency."""
    health = select(
        col(SubscriptionHealth.subscription_id),
        col(SubscriptionHealth.workspace_id),
        col(SubscriptionHealth.agency_id),
    ).where(col(SubscriptionHealth.agency_id).in_(agencies))
    if workspace_id is not None:
        health = health.where(col(SubscriptionHealth.workspace_id) == workspace_id)
    owners = {sub: (ws, agency) for sub, ws, agency in await session.execute(health)}
    if not owners:
        return {}
    ids = sorted(owners)
    s = _STATES.c
    states: dict[str, list[SubscriptionState]] = {}
    rows = await session.execute(
        select(s.subscription_id, s.at, s.status, s.monthly_cents).where(
            s.subscription_id.in_(ids), s.currency == currency
        )
    )
    for sub, at, status, cents in rows:
        states.setdefault(sub, []).append(SubscriptionState(at, status, cents))
    first_paid = dict(
        (
            await session.execute(
                select(col(InvoiceFacts.subscription_id), func.min(col(InvoiceFacts.paid_at)))
                .where(col(InvoiceFacts.subscription_id).in_(ids))
                .group_by(col(InvoiceFacts.subscription_id))
            )
        )
        .tuples()
        .all()
    )
    found: dict[str, list[SubscriptionHistory]] = {}
    for sub in ids:
        if sub in states:
            workspace, agency = owners[sub]
            found.setdefault(agency, []).append(
                SubscriptionHistory(sub, workspace or "", first_paid.get(sub), tuple(states[sub]))
            )
    return found
