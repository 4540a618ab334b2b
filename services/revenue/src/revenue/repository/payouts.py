"""The payouts' queries: each payout as its events tell it, the balance transactions it
settled, and their sums."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlalchemy import RowMapping, Table, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from revenue.models import LedgerEntry, Payout, PayoutTransaction

_LEDGER: Table = LedgerEntry.__table__  # type: ignore[attr-defined]
_PAYOUTS: Table = Payout.__table__  # type: ignore[attr-defined]
_PAYOUT_TRANSACTIONS: Table = PayoutTransaction.__table__  # type: ignore[attr-defined]


async def payout_locked(session: AsyncSession, payout: Payout) -> Payout:
    """The payout's row, made from ``payout`` on first need, locked for this transaction."""
    await session.execute(insert(_PAYOUTS).on_conflict_do_nothing(), [payout.model_dump()])
    query = (
        select(Payout)
        .where(col(Payout.payout_id) == payout.payout_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one()


async def save_payout_transactions(
    session: AsyncSession, transactions: Sequence[PayoutTransaction]
) -> None:
    """A payout's settled transactions, each once (the same list told again adds nothing)."""
    if transactions:
        rows = [t.model_dump() for t in transactions]
        await session.execute(insert(_PAYOUT_TRANSACTIONS).on_conflict_do_nothing(), rows)


async def payouts_of(
    session: AsyncSession, agency_id: str, first: date, last: date, limit: int
) -> Sequence[Payout]:
    """The agency's payouts arriving from ``first`` to ``last`` (inclusive), latest first."""
    query = (
        select(Payout)
        .where(
            col(Payout.agency_id) == agency_id,
            col(Payout.arrival_date) >= first,
            col(Payout.arrival_date) <= last,
        )
        .order_by(col(Payout.arrival_date).desc(), col(Payout.payout_id))
        .limit(limit)
    )
    return (await session.execute(query)).scalars().all()


PayoutSums = dict[str | None, tuple[int, int, int, int]]
"""Per ledger kind (None: not client revenue): gross, stripe fee, platform fee, net."""


async def payout_sums(
    session: AsyncSession, payout_ids: Sequence[str]
) -> dict[str, tuple[PayoutSums, int]]:
    """Per payout: its transactions' sums per kind, and how many there are."""
    t = _PAYOUT_TRANSACTIONS.c
    query = (
        select(
            t.payout_id,
            t.kind,
            func.sum(t.gross_cents),
            func.sum(t.stripe_fee_cents),
            func.sum(t.platform_fee_cents),
            func.sum(t.net_cents),
            func.count(),
        )
        .where(t.payout_id.in_(payout_ids))
        .group_by(t.payout_id, t.kind)
    )
    found: dict[str, tuple[PayoutSums, int]] = {}
    for payout_id, kind, gross, stripe_fee, platform_fee, net, count in await session.execute(
        query
    ):
        sums, counted = found.get(payout_id, ({}, 0))
        sums[kind] = (int(gross), int(stripe_fee), int(platform_fee), int(net))
        found[payout_id] = (sums, counted + int(count))
    return found


async def payout_of_agency(session: AsyncSession, agency_id: str, payout_id: str) -> Payout | None:
    query = select(Payout).where(
        col(Payout.payout_id) == payout_id, col(Payout.agency_id) == agency_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def payout_transactions(session: AsyncSession, payout_id: str) -> Sequence[RowMapping]:
    """A payout's transactions, oldest first, each with the workspace and invoice its
    ledger entry names (none for what is not client revenue)."""
    t, entry = _PAYOUT_TRANSACTIONS.c, _LEDGER.c
    query = (
        select(*_PAYOUT_TRANSACTIONS.c, entry.workspace_id, entry.invoice_id)
        .select_from(
            _PAYOUT_TRANSACTIONS.outerjoin(_LEDGER, entry.entry_id == t.balance_transaction_id)
        )
        .where(t.payout_id == payout_id)
        .order_by(t.created, t.balance_transaction_id)
    )
    return (await session.execute(query)).mappings().all()
