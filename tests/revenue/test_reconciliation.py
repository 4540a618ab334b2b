"""Refund failures in the ledger's arithmetic, and reconciliation's comparison and schedule,
without infrastructure (Stripe and the database are fakes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from revenue.models import LedgerEntry
from revenue.rules import ROLLUP_FIGURES, Figures, kind_of_balance_transaction, rollup_delta
from revenue.service.reconciler import Difference, Reconciler, check_status, differences
from tests.helpers.revenue.ledger import entry_of

pytestmark = pytest.mark.unit

CREATED = 1_790_000_000  # 2026-09-21 UTC


def txn(txn_id: str, kind: str, amount: int, *, fee: int = 0, **extra: Any) -> dict[str, Any]:
    details = [{"type": "stripe_fee", "amount": fee}] if fee else []
    return {"id": txn_id, "type": kind, "amount": amount, "fee": fee, "fee_details": details,
            "net": amount - fee, "currency": "usd", "created": CREATED, **extra}  # fmt: skip


PAID = txn("txn_paid", "charge", 10_000, fee=320)
REFUNDED = txn("txn_refunded", "refund", -4_000)
GIVEN_BACK = txn("txn_back", "refund_failure", 4_000, reporting_category="refund_failure")


def test_a_failed_refund_gives_the_money_back_to_the_cent() -> None:
    assert kind_of_balance_transaction(GIVEN_BACK) == "refund_failure"
    adjustment = txn("txn_adj", "adjustment", 4_000, reporting_category="refund_failure")
    assert kind_of_balance_transaction(adjustment) == "refund_failure"
    totals = dict.fromkeys(ROLLUP_FIGURES, 0)
    for t in (PAID, REFUNDED, GIVEN_BACK):
        kind = kind_of_balance_transaction(t)
        assert kind is not None
        f = Figures.from_stripe(t)
        for name, value in rollup_delta(kind, f.gross, f.stripe_fee, f.platform_fee, f.net).items():
            totals[name] += value
    assert totals["refunded_cents"] == 0
    assert totals["net_cents"] == sum(t["net"] for t in (PAID, REFUNDED, GIVEN_BACK)) == 9_680
    assert totals["net_cents"] == (
        totals["gross_cents"] - totals["refunded_cents"] - totals["disputed_cents"]
        - totals["stripe_fee_cents"] - totals["platform_fee_cents"]
    )  # fmt: skip


def test_the_comparison_tells_missing_different_and_unknown_apart() -> None:
    stripe_has = [PAID, REFUNDED, GIVEN_BACK, txn("txn_payout", "payout", -5_000)]
    assert differences(stripe_has, [entry_of(PAID), entry_of(REFUNDED), entry_of(GIVEN_BACK)]) == []

    ledger = [
        entry_of(PAID, net_cents=9_679),
        entry_of(REFUNDED),
        entry_of(txn("txn_gone", "refund", -1)),
    ]
    found = {d.entry_id: d for d in differences(stripe_has, ledger)}
    assert {k: d.kind for k, d in found.items()} == {
        "txn_paid": "different", "txn_back": "missing", "txn_gone": "unknown",
    }  # fmt: skip
    assert found["txn_back"].transaction == GIVEN_BACK
    assert found["txn_paid"].transaction == PAID
    assert found["txn_gone"].transaction is None


def test_a_check_is_a_mismatch_only_for_entries_stripe_does_not_have() -> None:
    missing = Difference("txn_back", "missing", "missing", GIVEN_BACK)
    unknown = Difference("txn_gone", "not on Stripe", "unknown")
    assert check_status([]) == "reconciled"
    assert check_status([missing]) == "healing"
    assert check_status([missing, unknown]) == "mismatch"


def test_an_entry_s_day_is_its_balance_transaction_s() -> None:
    a_day_late = datetime.fromtimestamp(CREATED + 86_400, UTC)
    [late] = differences([REFUNDED], [entry_of(REFUNDED, occurred_at=a_day_late)])
    assert (late.kind, late.entry_id) == ("different", "txn_refunded")
    same_day = datetime.fromtimestamp(CREATED + 60, UTC)
    assert differences([REFUNDED], [entry_of(REFUNDED, occurred_at=same_day)]) == []


class FakeStripe:
    """Stripe's balance transactions of one account, or an outage."""

    def __init__(self, transactions: list[dict[str, Any]]) -> None:
        self.transactions = transactions
        self.away = False
        self.reads = 0

    async def balance_transactions(self, account: str, start: int, **_: Any) -> Any:
        self.reads += 1
        if self.away:
            import stripe

            raise stripe.APIConnectionError("Stripe is away")  # type: ignore[no-untyped-call]
        for t in self.transactions:
            yield t

    async def find_balance_transaction(self, account: str, txn_id: str) -> None:
        return None


class FakeReconciler(Reconciler):
    """The schedule and the settling of differences, the ledger and database faked."""

    def __init__(self, stripe: FakeStripe, ledger: dict[str, LedgerEntry]) -> None:
        super().__init__(
            None,  # type: ignore[arg-type]
            None,  # type: ignore[arg-type]
            stripe,  # type: ignore[arg-type]
            service="revenue-test",
            every=900.0,
            retry=2.0,
            settle=0.0,
            lookback_days=35,
        )
        self.ledger = ledger
        self.kept: list[tuple[str, int]] = []

    async def check(self, account: str, agency_id: str) -> int:
        found = differences(
            [t async for t in self.stripe.balance_transactions(account, 0)],
            list(self.ledger.values()),
        )
        for difference in found:
            assert difference.transaction is not None
            self.ledger[difference.entry_id] = entry_of(difference.transaction)
        self.kept.append((account, len(found)))
        return len(found)


def known_accounts_are(monkeypatch: pytest.MonkeyPatch, accounts: list[tuple[str, str]]) -> None:
    """The reconciler's database: ``accounts`` are the connected accounts it knows."""
    from revenue import repository
    from revenue.service import reconciler as module

    class NoSession:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *_: object) -> None:
            return None

    async def known_accounts(_: object) -> list[tuple[str, str]]:
        return accounts

    monkeypatch.setattr(module, "unit_of_work", lambda _: NoSession())
    monkeypatch.setattr(repository, "known_accounts", known_accounts)


class Schedule:
    """``run_forever``'s loop with a clock of its own: each round waits what the last one
    said, and so do the pauses between the accounts of a sweep."""

    def __init__(self, reconciler: Reconciler, monkeypatch: pytest.MonkeyPatch) -> None:
        import asyncio

        self.now = 0.0
        self.pauses: list[float] = []
        self.reconciler = reconciler
        reconciler.clock = lambda: self.now

        async def sleep(seconds: float) -> None:
            self.pauses.append(seconds)
            self.now += seconds

        monkeypatch.setattr(asyncio, "sleep", sleep)

    async def round(self) -> float:
        wait = await self.reconciler.check_all()
        self.now += wait
        return wait


async def test_the_schedule_checks_again_soon_after_healing_or_an_outage(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stripe = FakeStripe([PAID, REFUNDED, GIVEN_BACK])
    fake = FakeReconciler(stripe, {"txn_paid": entry_of(PAID), "txn_refunded": entry_of(REFUNDED)})
    known_accounts_are(monkeypatch, [("acct_1", "agency-1")])
    schedule = Schedule(fake, monkeypatch)

    assert await schedule.round() == 2.0  # healed the refund failure: confirm soon
    assert "txn_back" in fake.ledger
    assert await schedule.round() == 898.0  # reconciled: the next sweep, 900 s after this one
    stripe.away = True
    assert await schedule.round() == 2.0  # Stripe away: logged, tried again soon
    assert await schedule.round() == 2.0
    stripe.away = False
    assert await schedule.round() == 2.0  # back after the outage: everything, then again
    assert await schedule.round() == 900.0
    assert fake.kept == [("acct_1", 1), ("acct_1", 0), ("acct_1", 0), ("acct_1", 0)]


async def test_a_sweep_spreads_its_accounts_and_checks_a_settling_one_again_on_the_way(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stripe = FakeStripe([PAID])
    fake = FakeReconciler(stripe, {"txn_paid": entry_of(PAID)})
    known_accounts_are(monkeypatch, [(f"acct_{n}", f"agency-{n}") for n in range(4)])
    schedule = Schedule(fake, monkeypatch)

    assert await schedule.round() == 562.5  # the next sweep 900 s after this one began
    assert schedule.pauses == [112.5] * 3  # 450 s over four accounts, none before the first
    stripe.transactions = [PAID, GIVEN_BACK]  # a movement the ledger lacks
    assert await schedule.round() == 562.5
    # acct_0 healed it, and was checked again (2 s later: due) before acct_1, the sweep
    # going on at its pace.
    assert fake.kept[4:] == [("acct_0", 1), ("acct_0", 0), ("acct_1", 0), ("acct_2", 0),
                             ("acct_3", 0)]  # fmt: skip
    assert schedule.pauses == [112.5] * 6


async def test_accounts_due_again_together_are_spread_too(monkeypatch: pytest.MonkeyPatch) -> None:
    stripe = FakeStripe([PAID])
    fake = FakeReconciler(stripe, {"txn_paid": entry_of(PAID)})
    accounts = [(f"acct_{n}", f"agency-{n}") for n in range(5)]
    known_accounts_are(monkeypatch, accounts)
    schedule = Schedule(fake, monkeypatch)
    fake.next_sweep = 1000.0  # between sweeps: four accounts' differences settled at once
    fake.settling = {account: (agency, 0.0) for account, agency in accounts[:4]}

    async def not_read(_: object) -> list[tuple[str, str]]:
        raise AssertionError("a round between sweeps needs no list of the accounts")

    from revenue import repository

    monkeypatch.setattr(repository, "known_accounts", not_read)

    assert await schedule.round() == 999.25  # then nothing before the next sweep
    assert [account for account, _ in fake.kept] == ["acct_0", "acct_1", "acct_2", "acct_3"]
    assert schedule.pauses == [0.25] * 3  # half of the 2 s a difference settles, over four
    assert fake.settling == {}


def test_the_dashboard_tells_how_the_figures_compare_with_stripe() -> None:
    from datetime import date

    from revenue.api.pages import render_dashboard
    from revenue.schemas import Reconciliation, Summary

    def shown(reconciliation: Reconciliation) -> str:
        summary = Summary(
            currency="usd",
            period_from=date(2026, 1, 1),
            period_to=date(2026, 12, 31),
            reconciliation=reconciliation,
        )
        page = render_dashboard("agency-1", summary, [], [])
        return page.split('id="reconciliation">', 1)[1].split("</div>", 1)[0]

    at = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)
    assert shown(Reconciliation()) == "Not yet compared with Stripe"
    assert shown(Reconciliation(status="reconciled", checked_at=at)) == (
        "Matches Stripe, checked 2026-12-06 16:30 UTC"
    )
    assert shown(Reconciliation(status="healing", checked_at=at)).startswith("Movements Stripe")
    assert shown(Reconciliation(status="mismatch", checked_at=at)).startswith("An entry here")
