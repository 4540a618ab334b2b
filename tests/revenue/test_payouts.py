"""Payouts from their events, on a real database: a payout's status in its order whatever
order its events come in, the balance transactions it settled kept once, its figures from
them (adding up to its amount) and each transaction's workspace and invoice from the ledger;
an owner sees only their own agency's payouts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts.billing_balances import StripePayoutSnapshot
from billing_contracts.billing_stripe import BalanceFigures
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.errors import NotFoundError
from revenue import repository
from revenue.models import LedgerEntry
from revenue.service import Revenue
from revenue.stripe_gateway import RevenueStripe
from tests.helpers.databases import service_sessions

pytestmark = [pytest.mark.integration]

Sessions = async_sessionmaker[AsyncSession]
ARRIVES = int(datetime(2026, 3, 4, tzinfo=UTC).timestamp())


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Sessions]:
    async with service_sessions(infra.database_url, "revenue") as made:
        yield made


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:16]}"


def _txn(kind: str, gross: int, net: int, stripe_fee: int = 0, fee: int = 0) -> BalanceFigures:
    return BalanceFigures(
        balance_transaction_id=_id("txn"), currency="usd", gross=gross, net=net, type=kind,
        stripe_fee=stripe_fee, application_fee=fee, created=ARRIVES - 3 * 86_400,
    )  # fmt: skip


def _payout(
    payout_id: str, account: str, status: str, told_at: int, **fields: object
) -> StripePayoutSnapshot:
    return StripePayoutSnapshot.model_validate(
        {
            "stripe_event_id": _id("evt"),
            "stripe_created": told_at,
            "stripe_account_id": account,
            "payout_id": payout_id,
            "status": status,
            "amount": 14_030,
            "currency": "usd",
            "arrival_date": ARRIVES,
            "automatic": True,
            "created": ARRIVES - 86_400,
        }
        | fields
    )


async def _apply(sessions: Sessions, agency: str, *snapshots: StripePayoutSnapshot) -> None:
    for snapshot in snapshots:
        async with unit_of_work(sessions) as session:
            await Revenue.of(session, cast(RevenueStripe, None)).apply_payout(agency, snapshot)


async def test_a_payout_adds_up_to_its_amount_whatever_order_its_events_come_in(
    sessions: Sessions,
) -> None:
    agency, account, payout_id = _id("agency"), _id("acct"), _id("po")
    charge = _txn("charge", 10_000, 9_630, stripe_fee=320, fee=50)
    second = _txn("charge", 5_000, 4_805, stripe_fee=170, fee=25)
    refund = _txn("refund", -500, -500)
    saas_fee = _txn("stripe_balance_payment_debit", 95, 95)  # the platform's fee, outside revenue
    settled = [charge, second, refund, saas_fee]
    assert sum(t.net for t in settled) == 14_030
    async with unit_of_work(sessions) as session:  # the first charge is in the ledger
        session.add(
            LedgerEntry(
                entry_id=charge.balance_transaction_id,
                kind="charge",
                agency_id=agency,
                workspace_id="ws-1",
                invoice_id="in_1",
                charge_id="ch_1",
                source_id="ch_1",
                stripe_account_id=account,
                currency="usd",
                gross_cents=10_000,
                stripe_fee_cents=320,
                platform_fee_cents=50,
                net_cents=9_630,
                occurred_at=datetime.fromtimestamp(charge.created or 0, UTC),
            )
        )

    reconciled = _payout(payout_id, account, "paid", 300, balance_transactions=settled)
    await _apply(
        sessions, agency,
        reconciled, _payout(payout_id, account, "in_transit", 100),
        _payout(payout_id, account, "paid", 200), reconciled,
    )  # fmt: skip

    async with unit_of_work(sessions) as session:
        revenue = Revenue.of(session, cast(RevenueStripe, None))
        [listed] = await revenue.payouts(agency, date(2026, 3, 1), date(2026, 3, 31))
        detail = await revenue.payout(agency, payout_id)
        assert await revenue.payouts(agency, date(2026, 4, 1), date(2026, 4, 30)) == []
        with pytest.raises(NotFoundError):
            await revenue.payout(_id("agency"), payout_id)
    assert (listed.status, listed.arrival_date, listed.transactions) == (
        "paid",
        date(2026, 3, 4),
        4,
    )
    figures = (
        listed.gross_cents, listed.refunded_cents, listed.disputed_cents,
        listed.stripe_fee_cents, listed.platform_fee_cents, listed.other_cents,
    )  # fmt: skip
    assert figures == (15_000, 500, 0, 490, 75, 95)
    assert 15_000 - 500 - 490 - 75 + 95 == listed.amount_cents == 14_030
    assert sum(t.net_cents for t in detail.transactions) == detail.amount_cents
    by_id = {t.balance_transaction_id: t for t in detail.transactions}
    assert len(by_id) == 4
    first = by_id[charge.balance_transaction_id]
    assert (first.workspace_id, first.invoice_id, first.fee_cents) == ("ws-1", "in_1", 370)
    assert by_id[refund.balance_transaction_id].workspace_id is None


async def test_a_payout_that_failed_stays_failed_and_one_not_reconciled_shows_no_figures(
    sessions: Sessions,
) -> None:
    agency, account, payout_id = _id("agency"), _id("acct"), _id("po")
    await _apply(
        sessions, agency,
        _payout(payout_id, account, "failed", 500),
        _payout(payout_id, account, "in_transit", 400),
        _payout(payout_id, account, "pending", 600),
    )  # fmt: skip
    async with unit_of_work(sessions) as session:
        [listed] = await Revenue.of(session, cast(RevenueStripe, None)).payouts(
            agency, date(2026, 1, 1), date(2026, 12, 31)
        )
        row = await repository.payout_of_agency(session, agency, payout_id)
    assert (listed.status, listed.transactions_known, listed.transactions) == ("failed", False, 0)
    assert (listed.amount_cents, listed.gross_cents, listed.other_cents) == (14_030, 0, 0)
    assert row is not None
    assert row.status_seen_at == 500
