"""Tables of the SaaS fees, in the invoicing schema (``InvoicingTable``'s metadata, so
Alembic sees them beside the service's own): the replica of agencies' plans, the platform's
collections from agencies' Stripe balances and their manual retries with each step done."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from invoicing.models import InvoicingTable


class AgencyPlan(InvoicingTable, table=True):
    """Replica of an agency's SaaS-fee plan (subscriptions' ``agency_plan.*`` events)."""

    __tablename__ = "agency_plans"

    agency_id: str = Field(primary_key=True, max_length=100)
    agency_plan_id: str = Field(max_length=40)
    plan_id: str = Field(max_length=40)
    plan_name: str = Field(max_length=99)
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    interval: str = Field(max_length=10)
    status: str = Field(max_length=30)
    stripe_account_id: str = Field(max_length=100)
    stripe_subscription_id: str = Field(max_length=100)
    stripe_payment_method_id: str = Field(max_length=100)
    billing_cycle_anchor: int = Field(sa_type=BigInteger)
    event_at: datetime = Field(sa_type=DateTime(timezone=True))
    """``occurred_at`` of the newest event applied."""


class Collection(InvoicingTable, table=True):
    """A platform invoice charged to an agency's Stripe balance, as Stripe last described it."""

    __tablename__ = "collections"
    __table_args__ = (Index(None, "agency_id", "stripe_created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    stripe_invoice_id: str = Field(max_length=100, unique=True)
    stripe_account_id: str = Field(max_length=100)
    """The paying agency's connected account (the invoice's ``customer_account``)."""
    agency_id: str | None = Field(default=None, max_length=100)
    stripe_subscription_id: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    amount_due: int = Field(default=0, sa_type=BigInteger)
    failure_code: str | None = Field(default=None, max_length=100)
    attempt_count: int = 0
    next_automatic_retry_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    stripe_created_at: datetime = Field(sa_type=DateTime(timezone=True))
    seen_at: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of the newest invoice event applied."""
    paid_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When Stripe says it was paid."""


RUNNING_RETRY = "state NOT IN ('succeeded', 'failed')"


class CollectionRetry(InvoicingTable, table=True):
    """A manual retry of a failed collection: payouts paused, funds awaited, the invoice paid
    from the balance, the payout schedule restored. Each step is committed before the next."""

    __tablename__ = "collection_retries"
    __table_args__ = (
        Index(
            "uq_collection_retries_running",
            "invoice_id",
            unique=True,
            postgresql_where=text(RUNNING_RETRY),
        ),
        Index(None, "state", "updated_at"),
        Index(None, "stripe_account_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    invoice_id: str = Field(max_length=40)
    agency_id: str | None = Field(default=None, max_length=100)
    stripe_account_id: str = Field(max_length=100)
    stripe_invoice_id: str = Field(max_length=100)
    stripe_payment_method_id: str | None = Field(default=None, max_length=100)
    currency: str = Field(max_length=3)
    amount_due: int = Field(sa_type=BigInteger)
    state: str = Field(max_length=30)
    outcome: str | None = Field(default=None, max_length=20)
    """``succeeded`` or ``failed`` once decided; ``restoring_payouts`` then ends in it."""
    failure_reason: str | None = Field(default=None, max_length=500)
    previous_schedule: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    """The payout schedule found before pausing; restored at the end, whatever the end."""
    pay_attempts: int = 0
    """Numbers the pay calls: each attempt has its own Stripe idempotency key."""
    available_cents: int | None = Field(default=None, sa_type=BigInteger)
    funds_signal_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When Stripe last said the account's balance moved (``balance.available``) or the
    invoice closed: a waiting retry looks again."""
    checked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    started_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class CollectionRetryStep(InvoicingTable, table=True):
    """One step of a retry, as done: the saga's history (each also announced as an event)."""

    __tablename__ = "collection_retry_steps"
    __table_args__ = (Index(None, "retry_id", "id"),)

    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger)
    retry_id: str = Field(max_length=40)
    step: str = Field(max_length=40)
    state: str = Field(max_length=30)
    detail: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    at: datetime = Field(sa_type=DateTime(timezone=True))
