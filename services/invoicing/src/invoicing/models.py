"""Tables of the invoicing schema: the invoice mirror, the payments behind invoices, the
subscriptions the portal shows and the replica of agencies' billing profiles. The SaaS fees'
tables (collections, their manual retries, agencies' plans) are in ``invoicing.saas_fees.models``,
on the same metadata.

Every mirrored row remembers the Stripe ``created`` of the newest event applied to it, so an
older event arriving late changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from billing_kit.db import schema_metadata
from billing_kit.pending_commands import pending_commands_table
from billing_kit.tables import add_kit_tables


class InvoicingTable(SQLModel, registry=registry(metadata=schema_metadata("invoicing"))):
    """Base of invoicing's tables: its own metadata, every table in the ``invoicing`` schema."""


kit_tables = add_kit_tables(InvoicingTable.metadata)
pending_commands = pending_commands_table(InvoicingTable.metadata)
"""Pending records of one-off invoices (``billing_kit.pending_commands``)."""


class Agency(InvoicingTable, table=True):
    """Replica of an agency's billing profile (catalog's events): may it start billing?"""

    __tablename__ = "agencies"

    agency_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str | None = Field(default=None, max_length=100)
    charges_enabled: bool = False
    suspended: bool = False
    profile_at: datetime = Field(sa_type=DateTime(timezone=True))
    """``occurred_at`` of the newest profile applied."""


class Invoice(InvoicingTable, table=True):
    """One Stripe invoice of an agency's connected account, as Stripe last described it."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index(None, "agency_id", "workspace_id", "stripe_created_at"),
        Index(None, "stripe_subscription_id"),
        Index(None, "workspace_id"),
    )

    id: str = Field(primary_key=True, max_length=40)
    stripe_invoice_id: str = Field(max_length=100, unique=True)
    stripe_account_id: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    stripe_customer_id: str | None = Field(default=None, max_length=100)
    stripe_subscription_id: str | None = Field(default=None, max_length=100)
    kind: str = Field(max_length=20)
    description: str | None = Field(default=None, max_length=500)
    status: str = Field(max_length=20)
    currency: str = Field(max_length=3)
    amount_due: int = Field(default=0, sa_type=BigInteger)
    amount_paid: int = Field(default=0, sa_type=BigInteger)
    amount_remaining: int = Field(default=0, sa_type=BigInteger)
    subtotal: int = Field(default=0, sa_type=BigInteger)
    planned_application_fee: int | None = Field(default=None, sa_type=BigInteger)
    """The fee we set on a one-off invoice; a subscription's follows its fee percent."""
    hosted_invoice_url: str | None = Field(default=None, max_length=2000)
    attempt_count: int = 0
    last_payment_error: str | None = Field(default=None, max_length=500)
    overdue: bool = False
    stripe_created_at: datetime = Field(sa_type=DateTime(timezone=True))
    paid_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    seen_at: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of the newest invoice event applied."""
    revision: int = 0
    """Grows with every change announced on ``invoicing.invoices.v1``."""
    announced: dict[str, Any] | None = Field(default=None, sa_type=JSONB(none_as_null=True))
    """The snapshot last announced, to tell what a change changed."""
    updated_at: datetime | None = Field(
        default=None,
        nullable=False,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "onupdate": func.now()},
    )


class Payment(InvoicingTable, table=True):
    """A payment intent and the charge that paid it: where refunds and disputes land.

    Kept even before we know its invoice (events do not come in order); the link comes from
    ``invoice_payment.paid`` or from asking Stripe.
    """

    __tablename__ = "payments"
    __table_args__ = (Index(None, "stripe_invoice_id"), Index(None, "charge_id"))

    payment_intent_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str | None = Field(default=None, max_length=100)
    stripe_invoice_id: str | None = Field(default=None, max_length=100)
    charge_id: str | None = Field(default=None, max_length=100)
    application_fee: int | None = Field(default=None, sa_type=BigInteger)
    amount_refunded: int = Field(default=0, sa_type=BigInteger)
    """The refunded total: refunds that failed no longer count (``refunded_total``)."""
    refunded_by_charge: int = Field(default=0, sa_type=BigInteger)
    """The most the charge's ``amount_refunded`` said (it only grows, but for a failed
    refund's amount, which Stripe takes out of it)."""
    dispute_id: str | None = Field(default=None, max_length=100)
    dispute_status: str | None = Field(default=None, max_length=40)
    dispute_amount: int | None = Field(default=None, sa_type=BigInteger)
    dispute_reason: str | None = Field(default=None, max_length=100)
    dispute_seen_at: int = Field(default=0, sa_type=BigInteger)
    looked_up: bool = False
    """Whether Stripe was asked for the invoice of this payment intent."""


class Refund(InvoicingTable, table=True):
    """A refund of a payment: it counts in the refunded total until it fails (a failed
    refund stays failed)."""

    __tablename__ = "refunds"
    __table_args__ = (Index(None, "payment_intent_id"),)

    refund_id: str = Field(primary_key=True, max_length=100)
    payment_intent_id: str = Field(max_length=100)
    amount: int = Field(sa_type=BigInteger)
    failed: bool = False


class Subscription(InvoicingTable, table=True):
    """A client subscription as Stripe last described it, for the client portal."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "agency_id", "workspace_id"), Index(None, "workspace_id"))

    stripe_subscription_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    stripe_customer_id: str | None = Field(default=None, max_length=100)
    product_id: str | None = Field(default=None, max_length=100)
    """Our catalog product id, from the subscription's metadata."""
    stripe_product_id: str | None = Field(default=None, max_length=100)
    stripe_price_id: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=30)
    currency: str | None = Field(default=None, max_length=3)
    amount_cents: int | None = Field(default=None, sa_type=BigInteger)
    application_fee_percent: float | None = None
    current_period_end: int | None = Field(default=None, sa_type=BigInteger)
    cancel_at_period_end: bool = False
    seen_at: int = Field(default=0, sa_type=BigInteger)


class Product(InvoicingTable, table=True):
    """Replica of an agency's product (catalog's events): the name clients see."""

    __tablename__ = "products"
    __table_args__ = (Index(None, "stripe_price_id"),)

    product_id: str = Field(primary_key=True, max_length=40)
    agency_id: str | None = Field(default=None, max_length=100)
    name: str = Field(max_length=99)
    cadence: str | None = Field(default=None, max_length=20)
    """``monthly``, ``yearly`` or ``one_time``; null for a product announced before it was kept."""
    stripe_price_id: str = Field(max_length=100)
    revision: int = 0
