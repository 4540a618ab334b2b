"""Payout advice: which payout schedules drain the balance before the plan bills."""

from __future__ import annotations

import datetime as dt

import pytest

from invoicing.saas_fees.rules import payout_advice

pytestmark = pytest.mark.unit

FIRST_OF_MONTH = int(dt.datetime(2026, 12, 1, 0, 30, tzinfo=dt.UTC).timestamp())


def _codes(schedule: dict[str, object], anchor: int = FIRST_OF_MONTH) -> list[str]:
    advice = payout_advice(
        schedule, billing_anchor=anchor, interval="month", amount_cents=4900, currency="usd"
    )
    return [a.code for a in advice]


def test_weekly_monday_payouts_against_a_first_of_month_plan() -> None:
    advice = payout_advice(
        {"interval": "weekly", "weekly_anchor": "monday", "delay_days": 2},
        billing_anchor=FIRST_OF_MONTH,
        interval="month",
        amount_cents=4900,
        currency="usd",
    )
    assert [a.code for a in advice] == [
        "payouts_drain_balance",
        "align_payout_schedule",
        "keep_minimum_balance",
    ]
    assert "Monday" in advice[0].message
    assert "1st of each month" in advice[0].message
    assert "2nd" in advice[1].message
    assert "49.00 USD" in advice[2].message


def test_daily_payouts_drain_the_balance() -> None:
    assert _codes({"interval": "daily"})[0] == "payouts_drain_balance"


@pytest.mark.parametrize(
    ("payout_day", "warned"), [(28, True), (25, True), (2, False), (15, False)]
)
def test_monthly_payouts_warned_only_just_before_the_billing_day(
    payout_day: int, warned: bool
) -> None:
    codes = _codes({"interval": "monthly", "monthly_anchor": payout_day})
    assert bool(codes) is warned


def test_manual_payouts_need_no_advice() -> None:
    assert _codes({"interval": "manual"}) == []


def test_a_yearly_plan_names_its_billing_date() -> None:
    advice = payout_advice(
        {"interval": "daily"},
        billing_anchor=FIRST_OF_MONTH,
        interval="year",
        amount_cents=49_000,
        currency="usd",
    )
    assert "December 1st" in advice[0].message
    assert "490.00 USD" in advice[2].message
