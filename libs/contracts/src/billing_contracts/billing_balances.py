"""``billing.balances.v1`` — Stripe balances and payouts (what the SaaS-fee saga watches, and
what revenue reconciles payouts from).

Published by webhook-ingest; key = the account whose balance it is (``platform`` for the
platform's own) for ``balance.available``, the payout id for payouts.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from billing_contracts.billing_stripe import BalanceFigures, StripeObjectFacts
from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class BalanceAmount(Payload):
    amount: int
    currency: str


class StripeBalanceSnapshot(StripeObjectFacts):
    balance_owner: str
    """The connected account id, or ``platform``."""
    available: list[BalanceAmount] = Field(default_factory=list)
    pending: list[BalanceAmount] = Field(default_factory=list)


class StripePayoutSnapshot(StripeObjectFacts):
    payout_id: str
    status: str
    amount: int
    currency: str
    arrival_date: int | None = None
    automatic: bool | None = None
    method: str | None = None
    failure_code: str | None = None
    failure_message: str | None = None
    balance_transaction_id: str | None = None
    created: int | None = None
    balance_transactions: list[BalanceFigures] | None = None
    """For an automatic payout of a connected account, on ``payout.reconciliation_completed``
    (Stripe lists what a payout settled once its reconciliation completed): the balance
    transactions it settled (Stripe's ``balance_transactions?payout=``, the payout's own
    excluded), whose ``net`` adds up to ``amount``; read by webhook-ingest before publishing.
    Null on other events (and for a manual payout, which Stripe does not reconcile)."""


class StripeBalanceAvailable(Event):
    """``balance.available``: the available balance changed."""

    type: Literal["balance.available"] = "balance.available"
    payload: StripeBalanceSnapshot
    aggregate_field: ClassVar[str] = "balance_owner"


class _PayoutEvent(Event):
    payload: StripePayoutSnapshot
    aggregate_field: ClassVar[str] = "payout_id"


class StripePayoutCreated(_PayoutEvent):
    """``payout.created``."""

    type: Literal["payout.created"] = "payout.created"


class StripePayoutUpdated(_PayoutEvent):
    """``payout.updated``."""

    type: Literal["payout.updated"] = "payout.updated"


class StripePayoutPaid(_PayoutEvent):
    """``payout.paid``."""

    type: Literal["payout.paid"] = "payout.paid"


class StripePayoutFailed(_PayoutEvent):
    """``payout.failed``."""

    type: Literal["payout.failed"] = "payout.failed"


class StripePayoutCanceled(_PayoutEvent):
    """``payout.canceled``."""

    type: Literal["payout.canceled"] = "payout.canceled"


class StripePayoutReconciliationCompleted(_PayoutEvent):
    """``payout.reconciliation_completed``: the balance transactions an automatic payout
    settled can be listed (and the event carries them, ``balance_transactions``)."""

    type: Literal["payout.reconciliation_completed"] = "payout.reconciliation_completed"


STRIPE_BALANCES = Topic(
    name="billing.balances.v1",
    description="Stripe balances and payouts, normalized from webhooks. "
    "Key: account id (balance) or payout id.",
    events=(
        StripeBalanceAvailable,
        StripePayoutCreated,
        StripePayoutUpdated,
        StripePayoutPaid,
        StripePayoutFailed,
        StripePayoutCanceled,
        StripePayoutReconciliationCompleted,
    ),
)
