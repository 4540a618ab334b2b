"""Every query of the revenue service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Row, and_, cast, func, literal_column, select, text, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from revenue.models import (
    AccountAgency,
    InvoiceFacts,
    LedgerEntry,
    PaymentLink,
    RevenueRollup,
    SubscriptionHealth,
)
from revenue.rules import ROLLUP_FIGURES


async def record_entry(session: AsyncSession, entry: LedgerEntry) -> bool:
    """Insert the entry unless its balance transaction is already in; True when it was new."""
    values = entry.model_dump(exclude={"recorded_at"})
    inserted = await session.execute(
        insert(LedgerEntry)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["entry_id"])
        .returning(col(LedgerEntry.entry_id))
    )
    return inserted.first() is not None


async def add_to_rollup(
    session: AsyncSession,
    *,
    agency_id: str,
    workspace_id: str,
    month: date,
    currency: str,
    delta: dict[str, int],
) -> None:
    statement = insert(RevenueRollup).values(
        agency_id=agency_id,
        workspace_id=workspace_id,
        month=month,
        currency=currency,
        entries=1,
        **delta,
    )
    table = RevenueRollup.__table__  # type: ignore[attr-defined]
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["agency_id", "currency", "month", "workspace_id"],
            set_={
                name: table.c[name] + statement.excluded[name]
                for name in (*ROLLUP_FIGURES, "entries")
            },
        )
    )


def _sum(name: str) -> Any:
    # bigint, not numeric: the driver hands back ints, with no Decimal per figure and row.
    return cast(func.coalesce(func.sum(getattr(RevenueRollup, name)), 0), BigInteger).label(name)


async def summary_rows(
    session: AsyncSession, agency_id: str, currency: str, first: date, last: date
) -> Sequence[Row[Any]]:
    """Totals, per workspace and per month in one pass over the rollups (grouping sets),
    as ``(level, workspace_id, month, *ROLLUP_FIGURES)``; ``level`` (SQL ``GROUPING``) says
    which: 1 a workspace, 2 a month, 3 the total."""
    level = func.grouping(col(RevenueRollup.workspace_id), col(RevenueRollup.month))
    query = (
        select(
            level.label("level"),
            col(RevenueRollup.workspace_id),
            col(RevenueRollup.month),
            *(_sum(name) for name in ROLLUP_FIGURES),
        )
        .where(
            col(RevenueRollup.agency_id) == agency_id,
            col(RevenueRollup.currency) == currency,
            col(RevenueRollup.month) >= first,
            col(RevenueRollup.month) <= last,
        )
        .group_by(
            text("GROUPING SETS ((revenue_rollups.workspace_id), (revenue_rollups.month), ())")
        )
        .order_by(
            literal_column("level"), col(RevenueRollup.workspace_id), col(RevenueRollup.month)
        )
    )
    return (await session.execute(query)).all()


async def agency_of_account(session: AsyncSession, account_id: str) -> str | None:
    query = select(col(AccountAgency.agency_id)).where(
        col(AccountAgency.stripe_account_id) == account_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def remember_account(session: AsyncSession, account_id: str, agency_id: str) -> None:
    await session.execute(
        insert(AccountAgency)
        .values(stripe_account_id=account_id, agency_id=agency_id)
        .on_conflict_do_nothing()
    )


async def payment_link(session: AsyncSession, charge_id: str) -> PaymentLink | None:
    return await session.get(PaymentLink, charge_id)


async def save_payment_link(session: AsyncSession, link: PaymentLink) -> None:
    await session.execute(insert(PaymentLink).values(**link.model_dump()).on_conflict_do_nothing())


async def invoice(
    session: AsyncSession, invoice_id: str, *, for_update: bool = False
) -> InvoiceFacts | None:
    """The invoice's facts; with ``for_update`` created empty on first need and locked."""
    if for_update:
        await session.execute(
            insert(InvoiceFacts).values(invoice_id=invoice_id).on_conflict_do_nothing()
        )
    query = select(InvoiceFacts).where(col(InvoiceFacts.invoice_id) == invoice_id)
    if for_update:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def subscription(session: AsyncSession, subscription_id: str) -> SubscriptionHealth | None:
    query = (
        select(SubscriptionHealth)
        .where(col(SubscriptionHealth.subscription_id) == subscription_id)
        .with_for_update()
    )
    return (await session.execute(query)).scalar_one_or_none()


async def ensure_subscription(
    session: AsyncSession, subscription_id: str, agency_id: str, workspace_id: str | None
) -> SubscriptionHealth:
    await session.execute(
        insert(SubscriptionHealth)
        .values(subscription_id=subscription_id, agency_id=agency_id, workspace_id=workspace_id)
        .on_conflict_do_nothing()
    )
    found = await subscription(session, subscription_id)
    assert found is not None
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
            last_paid.label("last_paid_at"),
            failing.label("failing_since"),
        )
        .where(col(SubscriptionHealth.agency_id) == agency_id)
        .order_by(col(SubscriptionHealth.workspace_id), col(SubscriptionHealth.subscription_id))
    )
    return (await session.execute(query)).all()


async def ledger_entries(
    session: AsyncSession, account_id: str, start: datetime, end: datetime
) -> Sequence[LedgerEntry]:
    query = (
        select(LedgerEntry)
        .where(
            col(LedgerEntry.stripe_account_id) == account_id,
            col(LedgerEntry.occurred_at) >= start,
            col(LedgerEntry.occurred_at) < end,
        )
        .order_by(tuple_(col(LedgerEntry.occurred_at), col(LedgerEntry.entry_id)))
    )
    return (await session.execute(query)).scalars().all()
