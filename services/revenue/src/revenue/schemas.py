"""Request and response models of the revenue API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field


class Figures(BaseModel):
    gross_cents: int = 0
    platform_fee_cents: int = 0
    stripe_fee_cents: int = 0
    refunded_cents: int = 0
    disputed_cents: int = 0
    net_cents: int = 0


class WorkspaceFigures(Figures):
    workspace_id: str | None
    """Null for movements no workspace could be found for."""


class MonthFigures(Figures):
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    """A UTC calendar month; at the period's edges, only its days in the period."""


Currency = Annotated[str, Query(pattern=r"^[a-z]{3}$")]
"""A currency asked for: three lower-case letters (ISO 4217, as Stripe writes it)."""


class Reconciliation(BaseModel):
    """How the agency's ledger last compared with Stripe's balance transactions. Revenue
    checks every connected account on a schedule (and again soon after Stripe was away)
    and applies a movement that is missing or different through the ledger's own
    idempotent path, so a late webhook never counts it twice."""

    status: ReconciliationStatus = Field(
        "unchecked",
        description="`reconciled`: the last check of each of the agency's accounts found "
        "the ledger equal to Stripe's balance transactions, to the cent. `healing`: a check "
        "found movements missing or different and applied them (the figures already count "
        "them; the next check, moments later, confirms). `mismatch`: the ledger holds an "
        "entry Stripe does not have, which revenue does not remove by itself (left for an "
        "operator). `unchecked`: no check has read Stripe yet.",
    )
    checked_at: datetime | None = Field(
        None,
        description="When the oldest of the accounts' last checks ended; null when `unchecked`.",
    )


class Summary(Figures):
    """What the agency made over the UTC days from ``period_from`` to ``period_to``:
    ``net_cents = gross_cents - refunded_cents - disputed_cents - stripe_fee_cents -
    platform_fee_cents``, equal to the sum of the net of Stripe's balance transactions
    created in those days."""

    currency: str
    period_from: date
    """First day counted (UTC): the ``from`` asked."""
    period_to: date
    """Last day counted (UTC), inclusive: the ``to`` asked."""
    workspaces_next: str | None = None
    """More workspaces than listed: pass this as ``workspaces_after`` for the next page;
    null on the last page."""
    workspaces: list[WorkspaceFigures] = Field(default_factory=list)
    """A page of the workspaces, in id order (the totals count them all)."""
    months: list[MonthFigures] = Field(default_factory=list)
    reconciliation: Reconciliation = Field(default_factory=Reconciliation)


class SubscriptionCharging(BaseModel):
    subscription_id: str
    workspace_id: str | None
    status: str | None
    stripe_product_id: str | None = None
    """The Stripe product it sells (its first item's)."""
    last_paid_at: datetime | None
    failing_since: datetime | None
    """The first failed attempt of the invoices still unpaid; null while it charges fine."""


class SubscriptionList(BaseModel):
    data: list[SubscriptionCharging]


class _Payout(BaseModel):
    """What a payout carried to the agency's bank, from the balance transactions it settled:
    ``amount_cents = gross_cents - refunded_cents - disputed_cents - stripe_fee_cents -
    platform_fee_cents + other_cents``, to the cent."""

    payout_id: str
    status: str
    """``pending``, ``in_transit``, then ``paid``, ``failed`` or ``canceled``."""
    arrival_date: date
    """The day Stripe expects it in the bank (UTC)."""
    automatic: bool
    """Made by the account's payout schedule. Only an automatic payout names the balance
    transactions it settled (Stripe does not reconcile a manual one)."""
    currency: str
    amount_cents: int
    gross_cents: int = 0
    refunded_cents: int = 0
    disputed_cents: int = 0
    stripe_fee_cents: int = 0
    platform_fee_cents: int = 0
    other_cents: int = 0
    """What moved outside client revenue (the platform's SaaS fees taken from the balance,
    Stripe's adjustments)."""
    transactions_known: bool = False
    """Whether the balance transactions it settled are known (Stripe lists them once an
    automatic payout is paid); the figures are 0 until then."""


class PayoutSummary(_Payout):
    transactions: int = 0
    """How many balance transactions it settled."""


class PayoutList(BaseModel):
    data: list[PayoutSummary]
    """Latest arrival first."""


class PayoutTransactionOut(BaseModel):
    balance_transaction_id: str
    type: str
    """Stripe's balance transaction type (``charge``, ``refund``, ``adjustment``…)."""
    workspace_id: str | None
    invoice_id: str | None
    """The Stripe invoice the money belongs to, when it is client revenue."""
    gross_cents: int
    fee_cents: int
    """Stripe's fees and the platform's together."""
    net_cents: int
    created: datetime


class PayoutDetail(_Payout):
    """A payout with the balance transactions it settled, oldest first, whose ``net_cents``
    add up to ``amount_cents``."""

    transactions: list[PayoutTransactionOut] = Field(default_factory=list)


class MrrMonthOut(BaseModel):
    """MRR at the end of a UTC month and how it moved from the month before:
    ``mrr_cents = previous mrr_cents + new + expansion + reactivated - contraction - churned``."""

    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    mrr_cents: int
    """What the subscriptions counting at the month's end bring in per month: each from its
    first paid invoice on, while ``active`` or ``past_due``; a yearly price as a twelfth."""
    new_cents: int
    """Subscriptions counting for the first time."""
    expansion_cents: int
    """Subscriptions moved to a dearer price."""
    contraction_cents: int
    """Subscriptions moved to a cheaper price."""
    churned_cents: int
    """Subscriptions that stopped counting (ended, or no longer charged)."""
    reactivated_cents: int
    """Subscriptions counting again, or of a workspace that had churned paying again."""
    active_subscriptions: int


class Mrr(BaseModel):
    currency: str
    arr_cents: int
    """The last month's MRR times twelve."""
    months: list[MrrMonthOut]


class Names(BaseModel):
    """What the agency calls its workspaces (by id) and products (by Stripe product id)."""

    workspaces: dict[str, str] = Field(default_factory=dict)
    products: dict[str, str] = Field(default_factory=dict)


ReconciliationStatus = Literal["reconciled", "healing", "mismatch", "unchecked"]
