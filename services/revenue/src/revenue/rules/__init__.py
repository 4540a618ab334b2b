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

The days, periods and pages a question reads are in ``rules.periods``, MRR and its movements
in ``rules.mrr``; their names are re-exported here, so ``from revenue.rules import X`` reads
any rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.revenue_ledger import LedgerKind
from revenue.rules.mrr import (
    MRR_STATUSES,
    MrrMonth,
    SubscriptionHistory,
    SubscriptionState,
    monthly_cents,
    mrr_months,
)
from revenue.rules.periods import (
    AGENCIES_MAX,
    AGENCIES_PAGE,
    FIRST_PAGE,
    MAX_YEARS,
    WORKSPACES_MAX,
    WORKSPACES_PAGE,
    AgencyPage,
    Grain,
    Page,
    Span,
    WorkspacePage,
    bounded,
    day_of,
    from_day,
    from_unix,
    period,
    rollup_periods,
    spans,
    this_year,
)

__all__ = [  # the names of rules.mrr and rules.periods, re-exported
    "AGENCIES_MAX",
    "AGENCIES_PAGE",
    "FIRST_PAGE",
    "MAX_YEARS",
    "MRR_STATUSES",
    "WORKSPACES_MAX",
    "WORKSPACES_PAGE",
    "AgencyPage",
    "Grain",
    "MrrMonth",
    "Page",
    "Span",
    "SubscriptionHistory",
    "SubscriptionState",
    "WorkspacePage",
    "bounded",
    "day_of",
    "from_day",
    "from_unix",
    "monthly_cents",
    "mrr_months",
    "period",
    "rollup_periods",
    "spans",
    "this_year",
]

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


def kind_of_figures(figures: BalanceFigures) -> LedgerKind | None:
    """``kind_of_balance_transaction`` of the figures an event carries."""
    return kind_of_balance_transaction(
        {"type": figures.type, "reporting_category": figures.reporting_category}
    )


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


_PAYOUT_RANK = {"pending": 0, "in_transit": 1, "paid": 2, "failed": 2, "canceled": 2}
"""How far along a payout's status is: ``paid``, ``failed`` and ``canceled`` end it."""


def payout_status_applies(current: str, seen_at: int, status: str, told_at: int) -> bool:
    """Whether a payout event's status (told at Stripe's ``told_at``) replaces the one kept:
    never after an end; else when further along, or as far along and newer."""
    if _PAYOUT_RANK.get(current, 0) == 2:
        return False
    rank, kept = _PAYOUT_RANK.get(status, 0), _PAYOUT_RANK.get(current, 0)
    return rank > kept or (rank == kept and told_at > seen_at)


def payout_figures(sums_by_kind: dict[str | None, tuple[int, int, int, int]]) -> dict[str, int]:
    """A payout's figures (``ROLLUP_FIGURES`` and ``other_cents``) from its transactions'
    (gross, stripe fee, platform fee, net) summed per ledger kind; ``other_cents`` is what
    moved outside client revenue (the platform's SaaS fees taken from the balance,
    adjustments), so ``net = gross - refunded - disputed - stripe_fee - platform_fee +
    other`` and ``net_cents`` is the payout's amount."""
    figures = dict.fromkeys((*ROLLUP_FIGURES, "other_cents"), 0)
    for kind, (gross, stripe_fee, platform_fee, net) in sums_by_kind.items():
        if kind is None:
            figures["other_cents"] += net
            figures["net_cents"] += net
            continue
        for name, value in rollup_delta(kind, gross, stripe_fee, platform_fee, net).items():
            figures[name] += value
    return figures
