"""The ledger's arithmetic, without I/O: which balance transactions are money movements of
client billing, and how one movement adds to the summary's figures.

A ledger entry keeps Stripe's balance transaction figures as they are (``gross`` is the
transaction's amount, signed; ``net = gross - stripe_fee - platform_fee``). The summary
splits them into what an owner reads:

- ``gross``: what clients paid (charges);
- ``refunded`` and ``disputed``: what went back (positive numbers; a refund that failed
  gives its amount back and lowers ``refunded``, a won dispute's reinstatement lowers
  ``disputed``);
- ``stripe_fee``: Stripe's processing and dispute fees;
- ``platform_fee``: the platform's application fees, less the ones it refunded;
- ``net``: what reached the agency's balance, always the sum of the entries' ``net``.

So ``net = gross - refunded - disputed - stripe_fee - platform_fee`` holds for every sum.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.revenue_ledger import LedgerKind

LEDGER_KINDS: tuple[LedgerKind, ...] = (
    "charge",
    "refund",
    "refund_failure",
    "dispute",
    "dispute_reversal",
    "application_fee_refund",
)


def kind_of_balance_transaction(txn: dict[str, Any]) -> LedgerKind | None:
    """The ledger kind of a Stripe balance transaction; None for what is not revenue
    (payouts, Stripe balance payments of the platform's own fees, ...)."""
    kind = txn.get("type")
    category = txn.get("reporting_category")
    if kind in ("charge", "payment"):
        return "charge"
    if kind in ("refund", "payment_refund"):
        return "refund"
    if kind == "refund_failure" or (kind == "adjustment" and category == "refund_failure"):
        return "refund_failure"
    if kind == "application_fee_refund":
        return "application_fee_refund"
    if kind in ("adjustment", "dispute") and category in ("dispute", "dispute_reversal"):
        return "dispute" if category == "dispute" else "dispute_reversal"
    return None


@dataclass(frozen=True)
class Figures:
    """A balance transaction's figures in cents."""

    balance_transaction_id: str
    currency: str
    gross: int
    stripe_fee: int
    platform_fee: int
    net: int
    created: int | None = None

    @classmethod
    def from_contract(cls, figures: BalanceFigures) -> Figures:
        # Fees that are neither Stripe's processing fee nor the platform's (taxes on fees)
        # are still Stripe's: counting them there keeps net = gross - fees.
        return cls(
            balance_transaction_id=figures.balance_transaction_id,
            currency=figures.currency,
            gross=figures.gross,
            stripe_fee=figures.stripe_fee + figures.other_fees,
            platform_fee=figures.application_fee,
            net=figures.net,
            created=figures.created,
        )

    @classmethod
    def from_stripe(cls, txn: dict[str, Any]) -> Figures:
        platform_fee = stripe_fee = 0
        for detail in txn.get("fee_details") or ():
            if detail.get("type") == "application_fee":
                platform_fee += int(detail["amount"])
            else:
                stripe_fee += int(detail["amount"])
        if not txn.get("fee_details"):
            stripe_fee = int(txn.get("fee") or 0)
        return cls(
            balance_transaction_id=str(txn["id"]),
            currency=str(txn["currency"]),
            gross=int(txn["amount"]),
            stripe_fee=stripe_fee,
            platform_fee=platform_fee,
            net=int(txn["net"]),
            created=int(txn["created"]) if txn.get("created") is not None else None,
        )


ROLLUP_FIGURES = (
    "gross_cents",
    "refunded_cents",
    "disputed_cents",
    "stripe_fee_cents",
    "platform_fee_cents",
    "net_cents",
)


def rollup_delta(
    kind: str, gross: int, stripe_fee: int, platform_fee: int, net: int
) -> dict[str, int]:
    """How one entry adds to each of the ``ROLLUP_FIGURES`` (see the module docstring)."""
    delta = dict.fromkeys(ROLLUP_FIGURES, 0)
    delta.update(stripe_fee_cents=stripe_fee, net_cents=net, platform_fee_cents=platform_fee)
    if kind == "charge":
        delta["gross_cents"] = gross
    elif kind in ("refund", "refund_failure"):
        delta["refunded_cents"] = -gross
    elif kind in ("dispute", "dispute_reversal"):
        delta["disputed_cents"] = -gross
    elif kind == "application_fee_refund":
        delta["platform_fee_cents"] = platform_fee - gross
    else:
        raise ValueError(f"not a ledger kind: {kind}")
    return delta


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


Grain = Literal["year", "month", "day"]


@dataclass(frozen=True)
class Span:
    """Rollup rows of one grain whose periods start from ``first`` to ``last`` (inclusive)."""

    grain: Grain
    first: date
    last: date


def day_of(moment: datetime) -> date:
    """The day a movement counts in: its UTC calendar day."""
    return moment.astimezone(UTC).date()


def rollup_periods(day: date) -> tuple[tuple[Grain, date], ...]:
    """The periods a movement of ``day`` adds to, coarsest first: its year, month and day."""
    return ("year", date(day.year, 1, 1)), ("month", day.replace(day=1)), ("day", day)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def spans(start: date, end: date, *, years: bool = True) -> list[Span]:
    """The fewest rollup rows that cover exactly the days from ``start`` to ``end``
    (inclusive): days at the edges of a partial month, whole months, and (with ``years``)
    whole years. Empty when ``end`` is before ``start``."""
    found: list[Span] = []
    if start.day != 1 and start <= end:  # the days before the first whole month
        head = min(end, _month_end(start))
        found.append(Span("day", start, head))
        start = head + timedelta(days=1)
    if start <= end and end != _month_end(end):  # the days after the last whole month
        found.append(Span("day", end.replace(day=1), end))
        end = end.replace(day=1) - timedelta(days=1)
    if start > end:
        return found
    first, last = start, end.replace(day=1)  # whole months from here on
    if not years:
        return [*found, Span("month", first, last)]
    if first.month != 1:  # the months before the first whole year
        head = min(last, date(first.year, 12, 1))
        found.append(Span("month", first, head))
        first = _next_month(head)
    if first <= last and last.month != 12:  # the months after the last whole year
        found.append(Span("month", date(last.year, 1, 1), last))
        last = date(last.year - 1, 12, 1)
    if first <= last:
        found.append(Span("year", first, date(last.year, 1, 1)))
    return found


@dataclass(frozen=True)
class WorkspacePage:
    """Which workspaces a summary lists: at most ``limit``, those whose id sorts after
    ``after`` ('' is the id of the movements no workspace was found for; None: from the
    first)."""

    limit: int
    after: str | None = None


WORKSPACES_PAGE = 1_000
"""How many workspaces a summary lists unless asked for another number."""
WORKSPACES_MAX = 10_000
FIRST_PAGE = WorkspacePage(limit=WORKSPACES_PAGE)
