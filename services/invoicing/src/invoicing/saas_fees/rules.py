"""Advice for an agency whose payout schedule makes a Stripe-balance failure likely, from the
SaaS-fee guide: payouts that empty the balance just before the plan bills leave nothing to
take. Pure rules, no I/O.

- Daily payouts empty the available balance every day: the plan's charge finds only what
  arrived since the last payout.
- Weekly payouts before the billing day take more in months with more of that weekday (a
  1st-of-month plan with Monday payouts: months with five Mondays before it pay out more).
- Monthly payouts a few days before the billing day empty the balance just before it.
Each warning comes with the two ways out: align the schedule (monthly, the day after the
billing day) or keep a minimum balance of at least the plan's amount.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHLY_PAYOUT_WINDOW_DAYS = 7
"""A monthly payout this many days (or fewer) before the billing day empties it first."""


@dataclass(frozen=True)
class Advice:
    code: str
    message: str


def _money(cents: int, currency: str) -> str:
    return f"{cents / 100:,.2f} {currency.upper()}"


def _ordinal(day: int) -> str:
    suffix = "th" if 10 <= day % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def payout_advice(
    schedule: dict[str, Any],
    *,
    billing_anchor: int,
    interval: str,
    amount_cents: int,
    currency: str,
) -> list[Advice]:
    """What to tell an agency whose ``schedule`` (Stripe's ``settings.payouts.schedule``)
    pays out before its plan bills (``billing_anchor``: unix seconds of a billing moment)."""
    anchor = dt.datetime.fromtimestamp(billing_anchor, dt.UTC)
    billing_day = anchor.day
    when = (
        f"on the {_ordinal(billing_day)} of each month"
        if interval == "month"
        else f"every year on {anchor:%B} {_ordinal(billing_day)}"
    )
    warning = _warning(schedule, when, billing_day)
    if warning is None:
        return []
    align_day = billing_day % 28 + 1
    return [
        warning,
        Advice(
            "align_payout_schedule",
            f"Pay out monthly on the {_ordinal(align_day)}, the day after the plan bills, so "
            "each payout leaves the plan's charge paid first; or switch payouts to manual "
            "shortly before each billing day and back after it.",
        ),
        Advice(
            "keep_minimum_balance",
            f"Keep a minimum balance of at least {_money(amount_cents, currency)} in your "
            "Stripe balance (Dashboard → Settings → Business → External payout accounts and "
            "scheduling), so automatic payouts never take what the plan needs.",
        ),
    ]


def _warning(schedule: dict[str, Any], when: str, billing_day: int) -> Advice | None:
    interval = schedule.get("interval", "manual")
    if interval == "daily":
        return Advice(
            "payouts_drain_balance",
            f"Daily payouts empty your available balance every day, and the plan is charged "
            f"to that balance {when}: it may find too little and fail.",
        )
    if interval == "weekly":
        weekday = str(schedule.get("weekly_anchor") or "monday")
        day_name = weekday.capitalize()
        return Advice(
            "payouts_drain_balance",
            f"Weekly payouts every {day_name} empty your available balance, and the plan is "
            f"charged to it {when}: months with more {day_name}s pay out more before the "
            "billing day, leaving less to pay it — the charge may fail in those months.",
        )
    if interval == "monthly":
        payout_day = int(schedule.get("monthly_anchor") or 1)
        gap = (billing_day - payout_day) % 31
        if 0 < gap <= MONTHLY_PAYOUT_WINDOW_DAYS:
            return Advice(
                "payouts_drain_balance",
                f"Monthly payouts on the {_ordinal(payout_day)} empty your available balance "
                f"{gap} day(s) before the plan is charged {when}: the charge may find too "
                "little and fail.",
            )
    return None
