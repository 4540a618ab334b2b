"""The back-office's queries: every agency's figures read as its own summary reads them,
SaaS-fee plans and collections, balances, reconciliation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from revenue.back_office.models import AccountBalance, AgencyPlanFacts, SaasCollection
from revenue.repository import RECONCILED, span_params
from revenue.rules import Span, from_day, spans


async def _keep_newer(session: AsyncSession, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Rows as told, each unless a later telling of it (``told_at``) is kept."""
    statement = insert(table)
    keys = [c.name for c in table.primary_key]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=keys,
            set_={c.name: statement.excluded[c.name] for c in table.c if c.name not in keys},
            where=table.c.told_at <= statement.excluded.told_at,
        ),
        list(rows),
    )


async def remember_agency_plan(session: AsyncSession, plan: AgencyPlanFacts) -> None:
    await _keep_newer(session, AgencyPlanFacts.__table__, [plan.model_dump()])  # type: ignore[attr-defined]


async def remember_collection(session: AsyncSession, collection: SaasCollection) -> None:
    await _keep_newer(session, SaasCollection.__table__, [collection.model_dump()])  # type: ignore[attr-defined]


async def remember_balances(session: AsyncSession, balances: Sequence[AccountBalance]) -> None:
    if balances:
        rows = [b.model_dump() for b in sorted(balances, key=lambda b: b.currency)]
        await _keep_newer(session, AccountBalance.__table__, rows)  # type: ignore[attr-defined]


def _in_spans(found: list[Span]) -> tuple[str, dict[str, object]]:
    """A condition on rollup rows in the spans, and its parameters."""
    condition = " OR ".join(
        f"(grain = :grain_{n} AND period_start BETWEEN :first_{n} AND :last_{n})"
        for n in range(len(found))
    )
    return f"({condition})", span_params(found, "")


async def platform_totals(
    session: AsyncSession, currency: str, start: date, end: date
) -> dict[str, int | str]:
    """The platform's GMV and fees over every agency, its SaaS fees collected in the days
    and failing now, and how many accounts are not reconciled."""
    in_spans, params = _in_spans(spans(start, end, years=False))
    statement = text(f"""
    WITH money AS (
      SELECT coalesce(sum(gross_cents), 0) AS gmv_cents,
             coalesce(sum(platform_fee_cents), 0) AS platform_fees_cents
      FROM revenue.agency_rollups WHERE currency = :currency AND {in_spans})
    SELECT money.gmv_cents, money.platform_fees_cents,
      (SELECT coalesce(sum(amount_due_cents), 0) FROM revenue.saas_collections
       WHERE currency = :currency AND status = 'paid'
         AND coalesce(paid_at, told_at) >= :start AND coalesce(paid_at, told_at) < :end)
         AS saas_collected_cents,
      (SELECT coalesce(sum(amount_due_cents), 0) FROM revenue.saas_collections
       WHERE currency = :currency AND status = 'open' AND attempt_count > 0)
         AS saas_failing_cents,
      (SELECT {RECONCILED} FROM revenue.reconciliations) AS status,
      (SELECT count(*) FROM revenue.reconciliations WHERE status <> 'reconciled')
         AS accounts_mismatched
    FROM money""")
    found = await session.execute(
        statement, {"currency": currency, **_day_bounds(start, end), **params}
    )
    return dict(found.mappings().one())


def _day_bounds(start: date, end: date) -> dict[str, datetime]:
    """The days from ``start`` to ``end`` inclusive as a half-open UTC range (the calendar's
    last day ends at its last moment)."""
    last = datetime.max.replace(tzinfo=UTC)
    after = from_day(end) + timedelta(days=1) if end < date.max else last
    return {"start": from_day(start), "end": after}


async def saas_plans(session: AsyncSession, currency: str) -> Sequence[AgencyPlanFacts]:
    """Every agency's plan in ``currency``."""
    query = select(AgencyPlanFacts).where(col(AgencyPlanFacts.currency) == currency)
    return (await session.execute(query)).scalars().all()


async def agencies_after(session: AsyncSession, after: str | None, limit: int) -> list[str]:
    """Up to ``limit`` + 1 agencies (a connected account or a SaaS plan) in id order."""
    statement = text("""
    SELECT agency_id FROM (SELECT agency_id FROM revenue.account_agencies
                           UNION SELECT agency_id FROM revenue.agency_plans) AS a
    WHERE agency_id > :after ORDER BY agency_id LIMIT CAST(:limit AS integer) + 1""")
    found = await session.execute(statement, {"after": after or "", "limit": limit})
    return list(found.scalars().all())


async def agency_rows(
    session: AsyncSession, agencies: list[str], currency: str, start: date, end: date
) -> dict[str, dict[str, Any]]:
    """Per agency of the page: GMV and platform fees in the days (its rollups, as its
    summary reads them), invoices first charged in the days and how many of them failed,
    charges and disputes in the days, client workspaces, its SaaS plan, the available
    balance estimated now, and its accounts' reconciliation."""
    in_spans, params = _in_spans(spans(start, end, years=False))
    statement = text(f"""
    WITH page AS (SELECT unnest(CAST(:agencies AS text[])) AS agency_id),
    money AS (
      SELECT agency_id, sum(gross_cents) AS gmv_cents, sum(platform_fee_cents) AS fees_cents
      FROM revenue.agency_rollups
      WHERE agency_id IN (SELECT agency_id FROM page) AND currency = :currency AND {in_spans}
      GROUP BY agency_id),
    charged AS (
      SELECT agency_id, count(*) AS invoices,
             count(*) FILTER (WHERE first_failed_at IS NOT NULL) AS declined
      FROM revenue.invoices
      WHERE agency_id IN (SELECT agency_id FROM page)
        AND least(paid_at, first_failed_at) >= :start_unix
        AND least(paid_at, first_failed_at) < :end_unix
      GROUP BY agency_id),
    moved AS (
      SELECT agency_id, count(*) FILTER (WHERE kind = 'charge') AS charges,
             count(*) FILTER (WHERE kind = 'dispute') AS disputes
      FROM revenue.ledger_entries
      WHERE agency_id IN (SELECT agency_id FROM page) AND currency = :currency
        AND occurred_at >= :start AND occurred_at < :end
      GROUP BY agency_id),
    workspaces AS (
      SELECT agency_id, count(*) AS client_workspaces FROM revenue.display_names
      WHERE kind = 'workspace' AND agency_id IN (SELECT agency_id FROM page)
      GROUP BY agency_id),
    checked AS (
      SELECT agency_id, {RECONCILED} AS reconciliation FROM revenue.reconciliations
      WHERE agency_id IN (SELECT agency_id FROM page) GROUP BY agency_id),
    balances AS (
      SELECT p.agency_id, b.available_cents
        - coalesce((SELECT sum(o.amount_cents) FROM revenue.payouts AS o
                    WHERE o.stripe_account_id = p.stripe_account_id
                      AND o.currency = p.currency AND o.created >= b.told_at
                      AND o.status NOT IN ('failed', 'canceled')), 0)
        - coalesce((SELECT sum(c.amount_due_cents) FROM revenue.saas_collections AS c
                    WHERE c.agency_id = p.agency_id AND c.currency = p.currency
                      AND c.status = 'paid' AND c.paid_at >= to_timestamp(b.told_at)), 0)
        AS available_cents
      FROM revenue.agency_plans AS p JOIN revenue.account_balances AS b
        ON b.stripe_account_id = p.stripe_account_id AND b.currency = p.currency
      WHERE p.agency_id IN (SELECT agency_id FROM page)),
    owed AS (
      SELECT agency_id, sum(amount_due_cents) AS open_cents FROM revenue.saas_collections
      WHERE agency_id IN (SELECT agency_id FROM page) AND status = 'open'
      GROUP BY agency_id)
    SELECT page.agency_id, coalesce(gmv_cents, 0) AS gmv_cents,
           coalesce(fees_cents, 0) AS platform_fees_cents, coalesce(invoices, 0) AS invoices,
           coalesce(declined, 0) AS declined, coalesce(charges, 0) AS charges,
           coalesce(disputes, 0) AS disputes,
           coalesce(client_workspaces, 0) AS client_workspaces,
           coalesce(reconciliation, 'unchecked') AS reconciliation,
           plan.status AS saas_plan_status,
           CASE WHEN plan.status NOT IN ('canceled', 'incomplete_expired')
                THEN coalesce(owed.open_cents, plan.amount_cents) END AS saas_fee_cents,
           balances.available_cents
    FROM page
    LEFT JOIN money USING (agency_id) LEFT JOIN charged USING (agency_id)
    LEFT JOIN moved USING (agency_id) LEFT JOIN workspaces USING (agency_id)
    LEFT JOIN checked USING (agency_id) LEFT JOIN balances USING (agency_id)
    LEFT JOIN owed USING (agency_id)
    LEFT JOIN revenue.agency_plans AS plan USING (agency_id)""")
    bounds = _day_bounds(start, end)
    found = await session.execute(
        statement,
        {
            "agencies": agencies,
            "currency": currency,
            **bounds,
            "start_unix": int(bounds["start"].timestamp()),
            "end_unix": int(bounds["end"].timestamp()),
            **params,
        },
    )
    return {row["agency_id"]: dict(row) for row in found.mappings()}
