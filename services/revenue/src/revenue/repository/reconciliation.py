"""The reconciliation's queries: the accounts to check, an account's ledger over some time,
and each account's last check."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from revenue.models import AccountAgency, LedgerEntry, Reconciliation


async def known_accounts(session: AsyncSession) -> list[tuple[str, str]]:
    """Every connected account with its agency, in account order."""
    query = select(col(AccountAgency.stripe_account_id), col(AccountAgency.agency_id))
    rows = (await session.execute(query.order_by(col(AccountAgency.stripe_account_id)))).all()
    return [(account, agency) for account, agency in rows]


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


async def save_reconciliation(session: AsyncSession, checked: Reconciliation) -> None:
    values = checked.model_dump()
    await session.execute(
        insert(Reconciliation)
        .values(**values)
        .on_conflict_do_update(index_elements=["stripe_account_id"], set_=values)
    )
