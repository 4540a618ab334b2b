"""The ledger's arithmetic and the reconcile comparison, without infrastructure."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from revenue.api.pages import chart_bars, money
from revenue.models import InvoiceFacts
from revenue.rules import (
    ROLLUP_FIGURES,
    Figures,
    Span,
    day_of,
    kind_of_balance_transaction,
    payout_figures,
    payout_status_applies,
    rollup_delta,
    rollup_periods,
    spans,
)
from revenue.schemas import MonthFigures, Summary
from revenue.service import invoice_status_applies
from revenue.service.reconciler import differences
from tests.helpers.revenue.ledger import entry_of

pytestmark = pytest.mark.unit


def txn(
    kind: str, amount: int, *, stripe_fee: int = 0, app_fee: int = 0, **extra: Any
) -> dict[str, Any]:
    details = [{"type": "stripe_fee", "amount": stripe_fee}] if stripe_fee else []
    details += [{"type": "application_fee", "amount": app_fee}] if app_fee else []
    fee = stripe_fee + app_fee
    return {"id": f"txn_{kind}_{amount}", "type": kind, "amount": amount, "fee": fee,
            "fee_details": details, "net": amount - fee, "currency": "usd",
            "created": 1_790_000_000, **extra}  # fmt: skip


MIX = [
    txn("charge", 250_000, stripe_fee=7_280, app_fee=1_250),
    txn("refund", -20_000),
    txn("application_fee_refund", 100),
    txn("adjustment", -50_000, stripe_fee=1_500, reporting_category="dispute"),
    txn("adjustment", 50_000, reporting_category="dispute_reversal"),
    txn("payout", -100_000),
    txn("stripe_balance_payment_debit", -9_900),
]


def test_only_client_billing_movements_are_ledger_kinds() -> None:
    kinds = [kind_of_balance_transaction(t) for t in MIX]
    assert kinds == ["charge", "refund", "application_fee_refund", "dispute",
                     "dispute_reversal", None, None]  # fmt: skip


def test_figures_split_stripe_s_fee_from_the_platform_s() -> None:
    figures = Figures.from_stripe(MIX[0])
    assert (figures.gross, figures.stripe_fee, figures.platform_fee, figures.net) == (
        250_000, 7_280, 1_250, 241_470,
    )  # fmt: skip


@pytest.mark.parametrize("order", list(itertools.permutations(range(5)))[::17])
def test_the_summary_identity_holds_for_any_mix_in_any_order(order: tuple[int, ...]) -> None:
    totals = dict.fromkeys(ROLLUP_FIGURES, 0)
    for index in order:
        t = MIX[index]
        kind = kind_of_balance_transaction(t)
        assert kind is not None
        f = Figures.from_stripe(t)
        delta = rollup_delta(kind, f.gross, f.stripe_fee, f.platform_fee, f.net)
        for name in totals:
            totals[name] += delta[name]
    assert totals == {"gross_cents": 250_000, "refunded_cents": 20_000, "disputed_cents": 0,
                      "stripe_fee_cents": 8_780, "platform_fee_cents": 1_150,
                      "net_cents": 220_070}  # fmt: skip
    assert totals["net_cents"] == (
        totals["gross_cents"] - totals["refunded_cents"] - totals["disputed_cents"]
        - totals["stripe_fee_cents"] - totals["platform_fee_cents"]
    )  # fmt: skip


def test_days_are_utc_calendar_days() -> None:
    assert day_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 3, 31)
    assert day_of(datetime(2026, 3, 31, 20, 30, tzinfo=timezone(timedelta(hours=-5)))) == date(
        2026, 4, 1
    )
    assert rollup_periods(date(2026, 3, 31)) == (
        ("year", date(2026, 1, 1)), ("month", date(2026, 3, 1)), ("day", date(2026, 3, 31))
    )  # fmt: skip


def _days_of(found: list[Span]) -> list[date]:
    """Every day the rollup rows of ``found`` add up, in order."""
    days: list[date] = []
    for span in found:
        last = {
            "day": span.last,
            "month": (span.last + timedelta(days=31)).replace(day=1) - timedelta(days=1),
            "year": date(span.last.year, 12, 31),
        }[span.grain]
        days.extend(span.first + timedelta(days=n) for n in range((last - span.first).days + 1))
    return sorted(days)


def test_spans_cover_exactly_the_days_asked_with_the_fewest_rows() -> None:
    assert spans(date(2026, 1, 1), date(2026, 12, 31)) == [
        Span("year", date(2026, 1, 1), date(2026, 1, 1))
    ]
    assert spans(date(2026, 6, 1), date(2026, 6, 30)) == [
        Span("month", date(2026, 6, 1), date(2026, 6, 1))
    ]
    assert spans(date(2026, 2, 10), date(2026, 3, 5)) == [
        Span("day", date(2026, 2, 10), date(2026, 2, 28)),
        Span("day", date(2026, 3, 1), date(2026, 3, 5)),
    ]
    assert spans(date(2025, 11, 15), date(2028, 2, 28)) == [
        Span("day", date(2025, 11, 15), date(2025, 11, 30)),
        Span("day", date(2028, 2, 1), date(2028, 2, 28)),
        Span("month", date(2025, 12, 1), date(2025, 12, 1)),
        Span("month", date(2028, 1, 1), date(2028, 1, 1)),
        Span("year", date(2026, 1, 1), date(2027, 1, 1)),
    ]
    assert spans(date(2026, 5, 2), date(2026, 5, 1)) == []
    starts = [date(2027, 12, 31) + timedelta(days=n) for n in range(0, 800, 7)]
    for start, length, years in itertools.product(
        starts, (0, 1, 29, 31, 59, 365, 800), (True, False)
    ):
        end = start + timedelta(days=length)
        found = spans(start, end, years=years)
        assert _days_of(found) == [start + timedelta(days=n) for n in range(length + 1)]
        assert len(found) <= (5 if years else 3)
        assert years or all(span.grain != "year" for span in found)


def test_a_paid_invoice_never_goes_back_and_ties_move_forward() -> None:
    facts = InvoiceFacts(invoice_id="in_1", status="open", status_seen_at=100)
    assert not invoice_status_applies(facts, "draft", 90)
    assert invoice_status_applies(facts, "paid", 100)
    facts.status = "paid"
    assert not invoice_status_applies(facts, "open", 200)
    facts.status, facts.status_seen_at = "uncollectible", 100
    assert not invoice_status_applies(facts, "open", 200)  # nothing goes back to open
    assert invoice_status_applies(facts, "paid", 150)
    assert not invoice_status_applies(facts, None, 300)
    assert invoice_status_applies(InvoiceFacts(invoice_id="in_2"), "draft", 0)


def test_reconcile_finds_every_kind_of_difference() -> None:
    entries = [entry_of(t) for t in MIX[:5]]
    assert differences(MIX, entries) == []
    wrong = [entry_of(MIX[0], net_cents=241_469), *entries[1:3], entry_of(txn("refund", -1))]
    found = {d.entry_id: d.problem for d in differences(MIX, wrong)}
    assert set(found) == {"txn_charge_250000", "txn_adjustment_-50000", "txn_adjustment_50000",
                          "txn_refund_-1"}  # fmt: skip
    assert "missing from the ledger" in found["txn_adjustment_-50000"]
    assert "not a movement of this period" in found["txn_refund_-1"]


def test_money_reads_as_dollars_and_cents() -> None:
    assert money(123_456_78) == "$123,456.78"
    assert money(-5) == "-$0.05"


def test_the_chart_scales_to_the_best_month() -> None:
    summary = Summary(currency="usd", period_from=date(2026, 1, 1), period_to=date(2026, 2, 28))
    summary.months.extend(
        [MonthFigures(month="2026-01", gross_cents=1000, net_cents=900),
         MonthFigures(month="2026-02", gross_cents=500, net_cents=-10)]
    )  # fmt: skip
    january, february = chart_bars(summary)
    assert january.gross_height == pytest.approx(2 * february.gross_height)
    assert february.net_height == 0
    assert january.gross_y + january.gross_height == february.gross_y + february.gross_height


PAYOUT_HISTORIES = [
    [("pending", 100), ("in_transit", 100), ("paid", 300)],
    [("in_transit", 100), ("failed", 200)],
    [("pending", 100), ("in_transit", 200), ("canceled", 200)],
    [("in_transit", 100), ("in_transit", 150), ("paid", 150)],
]


@pytest.mark.parametrize("history", PAYOUT_HISTORIES)
def test_a_payout_ends_in_its_last_status_whatever_order_its_events_come_in(
    history: list[tuple[str, int]],
) -> None:
    for order in itertools.permutations(history):
        (status, seen), *rest = order
        for told, at in rest:
            if payout_status_applies(status, seen, told, at):
                status, seen = told, at
        assert status == history[-1][0], order


def test_a_payout_s_figures_add_up_to_its_net_with_what_is_not_revenue_apart() -> None:
    figures = payout_figures(
        {
            "charge": (15_000, 490, 75, 14_435),
            "refund": (-500, 0, 0, -500),
            "dispute": (-2_000, 1_500, 0, -3_500),
            None: (95, 0, 0, 95),
        }
    )
    assert figures == {
        "gross_cents": 15_000, "refunded_cents": 500, "disputed_cents": 2_000,
        "stripe_fee_cents": 1_990, "platform_fee_cents": 75, "net_cents": 10_530,
        "other_cents": 95,
    }  # fmt: skip
    assert figures["net_cents"] == (
        figures["gross_cents"] - figures["refunded_cents"] - figures["disputed_cents"]
        - figures["stripe_fee_cents"] - figures["platform_fee_cents"] + figures["other_cents"]
    )  # fmt: skip
