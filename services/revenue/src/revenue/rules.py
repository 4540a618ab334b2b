"""The ledger's arithmetic, without I/O: which balance transactions are money movements of
client billing, and how one movement adds to the summary's figures.

A ledger entry keeps Stripe's balance transaction figures as they are (``gross`` is the
transaction's amount, signed; ``net = gross - stripe_fee - platform_fee``). The summary
splits them into what an owner reads:

- ``gross``: what clients paid (charges);
- ``refunded`` and ``disputed``: what went back (positive numbers; a won dispute's
  reinstatement lowers ``disputed``);
- ``stripe_fee``: Stripe's processing and dispute fees;
- ``platform_fee``: the platform's application fees, less the ones it refunded;
- ``net``: what reached the agency's balance, always the sum of the entries' ``net``.

So ``net = gross - refunded - disputed - stripe_fee - platform_fee`` holds for every sum.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.revenue_ledger import LedgerKind

LEDGER_KINDS: tuple[LedgerKind, ...] = (
    "charge",
    "refund",
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
    elif kind == "refund":
        delta["refunded_cents"] = -gross
    elif kind in ("dispute", "dispute_reversal"):
        delta["disputed_cents"] = -gross
    elif kind == "application_fee_refund":
        delta["platform_fee_cents"] = platform_fee - gross
    else:
        raise ValueError(f"not a ledger kind: {kind}")
    return delta


def month_of(moment: datetime) -> date:
    utc = moment.astimezone(UTC)
    return date(utc.year, utc.month, 1)


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def period_months(start: date, end: date) -> tuple[date, date]:
    """The whole months a summary from ``start`` to ``end`` (inclusive) covers: rollups are
    monthly, so a period always starts on the 1st and ends on the last day of a month."""
    last_day = calendar.monthrange(end.year, end.month)[1]
    return date(start.year, start.month, 1), date(end.year, end.month, last_day)
