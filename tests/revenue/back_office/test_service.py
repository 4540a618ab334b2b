"""The platform's overview on a real database: each agency's GMV and fees are its own
summary's, the totals are the agencies' sums whatever the page, the rates count what the
ledger and the invoices hold, the SaaS figures and each agency's balance follow the latest
announcement whatever order they came in."""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing_contracts.billing_balances import (
    BalanceAmount,
    StripeBalanceSnapshot,
    StripePayoutSnapshot,
)
from billing_contracts.invoicing_collections import CollectionSnapshot
from billing_contracts.subscriptions_agency_plans import AgencyPlanSnapshot
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from revenue import repository
from revenue.back_office.schemas import PlatformOverview
from revenue.back_office.service import BackOffice
from revenue.models import InvoiceFacts, LedgerEntry, Reconciliation
from revenue.rules import AgencyPage, WorkspacePage, rollup_delta
from revenue.service import Revenue
from revenue.stripe_gateway import RevenueStripe
from tests.helpers.databases import service_sessions

pytestmark = [pytest.mark.integration]

Sessions = async_sessionmaker[AsyncSession]
START, END = date(2027, 3, 1), date(2027, 5, 31)
IN_PERIOD = datetime(2027, 4, 10, 12, tzinfo=UTC)


@pytest.fixture
async def sessions(infra: Infra) -> AsyncIterator[Sessions]:
    async with service_sessions(infra.database_url, "revenue") as made:
        yield made


def _id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


def _revenue(session: AsyncSession) -> Revenue:
    return Revenue.of(session, cast(RevenueStripe, None))  # nothing here reads Stripe


async def _record(
    session: AsyncSession, agency: str, kind: str, gross: int, fee: int, at: datetime
) -> None:
    """A ledger entry of ``agency`` and the rollups it adds to, as the ledger writes them."""
    stripe_fee = abs(gross) * 3 // 100
    net = gross - stripe_fee - fee
    entry = LedgerEntry(
        entry_id=_id("txn"), kind=kind, agency_id=agency, workspace_id="ws_1",
        stripe_account_id=f"acct_{agency}", currency="usd", gross_cents=gross,
        stripe_fee_cents=stripe_fee, platform_fee_cents=fee, net_cents=net, occurred_at=at,
    )  # fmt: skip
    await repository.record_entries(session, [entry])
    repository.add_to_rollups(
        session, agency_id=agency, workspace_id="ws_1", day=at.date(), currency="usd",
        delta=rollup_delta(kind, gross, stripe_fee, fee, net),
    )  # fmt: skip
    await repository.remember_account(session, f"acct_{agency}", agency)


async def _overview(
    sessions: Sessions, limit: int, after: str | None = None, days: tuple[date, date] = (START, END)
) -> PlatformOverview:
    async with unit_of_work(sessions) as session:
        return await BackOffice(session).overview("usd", *days, AgencyPage(limit, after))


async def _all_agencies(
    sessions: Sessions, limit: int, days: tuple[date, date]
) -> tuple[PlatformOverview, list[str]]:
    """The first page, and every agency listed by following ``agencies_next``."""
    first = page = await _overview(sessions, limit, days=days)
    listed = [a.agency_id for a in page.agencies]
    while page.agencies_next is not None:
        page = await _overview(sessions, limit, page.agencies_next, days)
        assert page.gmv_cents == first.gmv_cents  # the totals count every agency on any page
        listed += [a.agency_id for a in page.agencies]
    return first, listed


PERIODS = [
    (START, END),  # whole months
    (date(2027, 3, 17), date(2027, 5, 9)),  # edge days and a whole month
    (date(2027, 4, 30), date(2027, 4, 30)),  # one day
    (date(2026, 12, 20), date(2028, 1, 3)),  # edge days, whole months of two years
]


@pytest.mark.parametrize("days", PERIODS, ids=[f"{s}..{e}" for s, e in PERIODS])
async def test_each_agency_has_its_own_summarys_figures_and_the_totals_are_their_sums(
    sessions: Sessions, days: tuple[date, date]
) -> None:
    rng = random.Random(7)
    agencies = sorted(_id("agency") for _ in range(5))
    first_day, last_day = days
    edges = [first_day - timedelta(days=1), first_day, last_day, last_day + timedelta(days=1)]
    recorded: list[tuple[str, date, int, int]] = []  # agency, day, gross, platform fee
    async with unit_of_work(sessions) as session:
        for agency in agencies:
            moved_on = edges + [START + timedelta(days=rng.randint(-40, 130)) for _ in range(4)]
            for day in moved_on:
                at = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=23)
                gross = rng.randint(100, 90_000)
                await _record(session, agency, "charge", gross, gross // 200, at)
                recorded.append((agency, day, gross, gross // 200))
            await _record(session, agency, "refund", -500, 0, IN_PERIOD)  # not GMV
    wanted = {
        agency: (
            sum(g for a, d, g, _ in recorded if a == agency and first_day <= d <= last_day),
            sum(f for a, d, _, f in recorded if a == agency and first_day <= d <= last_day),
        )
        for agency in agencies
    }
    async with unit_of_work(sessions) as session:
        for agency in agencies:
            summary = json.loads(
                await repository.summary_json(
                    session, agency, "usd", *days, WorkspacePage(limit=10)
                )
            )
            assert (summary["gross_cents"], summary["platform_fee_cents"]) == wanted[agency]
    for limit in (1, 2, 100):
        first, listed = await _all_agencies(sessions, limit, days)
        assert listed == agencies
        rows = {a.agency_id: a for a in (await _overview(sessions, 100, days=days)).agencies}
        for agency in agencies:
            assert (rows[agency].gmv_cents, rows[agency].platform_fees_cents) == wanted[agency]
        assert first.gmv_cents == sum(gmv for gmv, _ in wanted.values()) > 0
        assert first.platform_fees_cents == sum(fee for _, fee in wanted.values())


async def test_rates_count_the_invoices_charged_and_the_disputes_opened_in_the_days(
    sessions: Sessions,
) -> None:
    agency, quiet = _id("agency"), _id("agency")
    seconds = int(IN_PERIOD.timestamp())
    before = int(datetime(2027, 2, 27, tzinfo=UTC).timestamp())
    async with unit_of_work(sessions) as session:
        for n in range(8):  # charged in the days: 3 failed first (one paid later), 5 paid
            failed = seconds + n if n < 3 else None
            paid = seconds + 3_600 + n if n != 0 else None
            session.add(
                InvoiceFacts(invoice_id=_id("in"), agency_id=agency, first_failed_at=failed,
                             paid_at=paid)
            )  # fmt: skip
        # first charged before the days: not counted, though paid in them
        session.add(
            InvoiceFacts(
                invoice_id=_id("in"), agency_id=agency, first_failed_at=before, paid_at=seconds
            )
        )
        for _ in range(4):
            await _record(session, agency, "charge", 10_000, 50, IN_PERIOD)
        await _record(session, agency, "dispute", -10_000, 0, IN_PERIOD + timedelta(days=3))
        await _record(session, agency, "charge", 10_000, 50, datetime(2027, 6, 2, tzinfo=UTC))
        await repository.remember_account(session, "acct_quiet", quiet)
    rows = {a.agency_id: a for a in (await _overview(sessions, 100)).agencies}
    assert rows[agency].decline_rate == 0.375
    assert rows[agency].dispute_rate == 0.25
    assert rows[quiet].decline_rate is None
    assert rows[quiet].dispute_rate is None
    assert rows[quiet].gmv_cents == 0


def _plan(agency: str, status: str, amount: int, interval: str = "month") -> AgencyPlanSnapshot:
    return AgencyPlanSnapshot.model_validate(
        {
            "agency_plan_id": f"plan_of_{agency}", "agency_id": agency, "plan_id": "pp_1",
            "plan_name": "Studio", "amount_cents": amount, "currency": "usd",
            "interval": interval, "status": status, "stripe_account_id": f"acct_{agency}",
            "stripe_subscription_id": f"sub_{agency}", "stripe_payment_method_id": "pm_1",
            "billing_cycle_anchor": 0, "created_at": IN_PERIOD,
        }
    )  # fmt: skip


def _collection(
    invoice: str, agency: str, status: str, attempts: int, paid_at: datetime | None = None
) -> CollectionSnapshot:
    return CollectionSnapshot(
        invoice_id=invoice, agency_id=agency, stripe_invoice_id=f"in_{invoice}",
        amount_due_cents=4_900, currency="usd", status=status, attempt_count=attempts,
        paid_at=paid_at,
    )  # fmt: skip


async def test_saas_figures_follow_the_latest_announcement_whatever_order_they_came_in(
    sessions: Sessions,
) -> None:
    rng = random.Random(11)
    for run in range(1, 7):  # fresh agencies each time, their announcements shuffled
        paying, failing, yearly = _id("agency"), _id("agency"), _id("agency")
        told = [IN_PERIOD + timedelta(minutes=n) for n in range(4)]
        paid_at = IN_PERIOD + timedelta(minutes=2)
        after_the_days = datetime(2027, 7, 1, tzinfo=UTC)
        announcements: list[tuple[AgencyPlanSnapshot | CollectionSnapshot, datetime]] = [
            (_plan(paying, "incomplete", 4_900), told[0]),
            (_plan(paying, "active", 4_900), told[1]),
            (_plan(failing, "active", 4_900), told[0]),
            (_plan(failing, "past_due", 4_900), told[2]),
            (_plan(yearly, "active", 100_001, "year"), told[0]),
            (_collection(_id("c"), yearly, "paid", 1, after_the_days), told[0]),
        ]
        once, twice = _id("c"), _id("c")
        announcements += [
            # announced before collections carried Stripe's paid_at: collected when told
            (_collection(_id("c"), paying, "paid", 1), told[1]),
            (_collection(once, paying, "open", 0), told[0]),
            (_collection(once, paying, "paid", 1, paid_at), told[2]),
            (_collection(twice, failing, "open", 1), told[1]),
            (_collection(twice, failing, "open", 2), told[3]),
        ]
        rng.shuffle(announcements)
        for snapshot, at in announcements + announcements[:3]:  # some told twice
            async with unit_of_work(sessions) as session:
                if isinstance(snapshot, AgencyPlanSnapshot):
                    await BackOffice(session).apply_agency_plan(snapshot, at)
                else:
                    await BackOffice(session).apply_collection(snapshot, at)
        overview = await _overview(sessions, 1_000)
        assert overview.saas_mrr_cents == run * (4_900 + 4_900 + 8_333)  # 100,001 / 12 half-up
        assert overview.saas_collected_cents == run * 4_900 * 2  # the yearly fee: paid after
        assert overview.saas_failing_cents == run * 4_900  # open after two attempts
        statuses = {a.agency_id: a.saas_plan_status for a in overview.agencies}
        assert {paying: "active", failing: "past_due", yearly: "active"}.items() <= (
            statuses.items()
        )


def _balance(agency: str, available: int, told_at: int) -> StripeBalanceSnapshot:
    return StripeBalanceSnapshot(
        stripe_event_id=_id("evt"), stripe_created=told_at, stripe_account_id=f"acct_{agency}",
        balance_owner=f"acct_{agency}", available=[BalanceAmount(amount=available, currency="usd")],
    )  # fmt: skip


async def test_the_balance_covers_the_next_fee_once_payouts_and_fees_paid_since_are_taken(
    sessions: Sessions,
) -> None:
    agency = _id("agency")
    told_at = int(IN_PERIOD.timestamp())

    async def covers() -> bool | None:
        rows = {a.agency_id: a for a in (await _overview(sessions, 100)).agencies}
        return rows[agency].balance_covers_next_fee

    async with unit_of_work(sessions) as session:
        await BackOffice(session).apply_agency_plan(_plan(agency, "active", 4_900), IN_PERIOD)
    assert await covers() is None  # Stripe has not told the balance yet
    async with unit_of_work(sessions) as session:
        await BackOffice(session).apply_balance(_balance(agency, 12_000, told_at))
        await BackOffice(session).apply_balance(_balance(agency, 1_000, told_at - 60))  # older
    assert await covers() is True
    payout = StripePayoutSnapshot(
        stripe_event_id=_id("evt"), stripe_created=told_at, stripe_account_id=f"acct_{agency}",
        payout_id=_id("po"), status="in_transit", amount=6_000, currency="usd",
        arrival_date=told_at + 86_400, automatic=True, created=told_at,
    )  # fmt: skip
    async with unit_of_work(sessions) as session:
        await _revenue(session).apply_payout(agency, payout)
    assert await covers() is True  # 6,000 left
    async with unit_of_work(sessions) as session:
        paid = _collection(_id("c"), agency, "paid", 1, IN_PERIOD + timedelta(hours=1))
        await BackOffice(session).apply_collection(paid, IN_PERIOD)
    assert await covers() is False  # 1,100 left for a 4,900 fee
    async with unit_of_work(sessions) as session:
        failed = payout.model_copy(update={"status": "failed", "stripe_created": told_at + 99})
        await _revenue(session).apply_payout(agency, failed)
    assert await covers() is True  # the failed payout's 6,000 came back: 7,100 left
    async with unit_of_work(sessions) as session:
        owed = _collection(_id("c"), agency, "open", 1).model_copy(
            update={"amount_due_cents": 8_000}
        )
        await BackOffice(session).apply_collection(owed, IN_PERIOD)
    assert await covers() is False  # the next fee is the open invoice's 8,000
    async with unit_of_work(sessions) as session:
        ended = _plan(agency, "canceled", 4_900)
        await BackOffice(session).apply_agency_plan(ended, IN_PERIOD + timedelta(days=1))
    assert await covers() is None  # an ended plan charges nothing more


async def test_accounts_not_reconciled_are_counted_and_name_their_agency(
    sessions: Sessions,
) -> None:
    healthy, healing = _id("agency"), _id("agency")
    checks = [(healthy, "acct_a", "reconciled"), (healing, "acct_b", "reconciled"),
              (healing, "acct_c", "healing")]  # fmt: skip
    async with unit_of_work(sessions) as session:
        for agency, account, status in checks:
            await repository.remember_account(session, account, agency)
            await repository.save_reconciliation(
                session,
                Reconciliation(stripe_account_id=account, agency_id=agency, status=status,
                               checked_at=IN_PERIOD),
            )  # fmt: skip
    overview = await _overview(sessions, 100)
    assert overview.reconciliation.status == "healing"
    assert overview.reconciliation.accounts_mismatched == 1
    rows = {a.agency_id: a.reconciliation for a in overview.agencies}
    assert rows == {healthy: "reconciled", healing: "healing"}
