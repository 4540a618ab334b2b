"""Tables of the subscriptions schema: replicas of catalog's agencies and products, client
workspaces, their one Stripe customer each, and client subscriptions. The SaaS fees' tables
(the platform's plans, agencies' plans) are in ``subscriptions.saas_fees.models``, on the
same metadata."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Numeric, String, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from billing_kit.db import schema_metadata
from billing_kit.pending_commands import pending_commands_table
from billing_kit.tables import add_kit_tables


class SubscriptionsTable(SQLModel, registry=registry(metadata=schema_metadata("subscriptions"))):
    """Base of every table in the subscriptions schema."""


kit_tables = add_kit_tables(SubscriptionsTable.metadata)
pending_commands = pending_commands_table(SubscriptionsTable.metadata)
"""Pending records of client subscriptions and the platform's plans
(``billing_kit.pending_commands``)."""


def created_at_field() -> Any:
    """A ``created_at`` column the database fills in."""
    return Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class ProductReplica(SubscriptionsTable, table=True):
    """catalog's products as last announced (``catalog.products.v1``)."""

    __tablename__ = "product_replicas"

    product_id: str = Field(sa_type=String(40), primary_key=True)
    agency_id: str = Field(sa_type=String(100), index=True)
    name: str = Field(sa_type=String(99))
    cadence: str = Field(sa_type=String(20))
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(sa_type=String(3))
    status: str = Field(sa_type=String(20))
    stripe_account_id: str = Field(sa_type=String(100))
    stripe_price_id: str = Field(sa_type=String(100))
    revision: int


class AgencyReplica(SubscriptionsTable, table=True):
    """Whether an agency may bill, as catalog last announced (``catalog.agencies.v1``)."""

    __tablename__ = "agency_replicas"

    agency_id: str = Field(sa_type=String(100), primary_key=True)
    stripe_account_id: str | None = Field(default=None, sa_type=String(100))
    charges_enabled: bool
    suspended: bool


class Workspace(SubscriptionsTable, table=True):
    """A client workspace of an agency, with whom Stripe bills for it."""

    __tablename__ = "workspaces"

    id: str = Field(sa_type=String(100), primary_key=True)
    agency_id: str = Field(sa_type=String(100), index=True)
    name: str = Field(sa_type=String(200))
    billing_contact_email: str | None = Field(default=None, sa_type=String(320))
    billing_contact_name: str | None = Field(default=None, sa_type=String(200))
    client_members: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False)
    )
    """``{user_id, email, name, joined_at}`` in the order they joined."""
    default_days_until_due: int | None = Field(default=None, sa_type=Integer)
    """Payment terms of the workspace's new subscriptions (else 30 days)."""
    revision: int = 1
    created_at: datetime | None = created_at_field()

    @property
    def billing_email(self) -> str | None:
        """The billing contact, else the first client member to have joined."""
        if self.billing_contact_email:
            return self.billing_contact_email
        return str(self.client_members[0]["email"]) if self.client_members else None


class BillingCustomer(SubscriptionsTable, table=True):
    """The one Stripe customer of a workspace on its agency's connected account."""

    __tablename__ = "billing_customers"

    workspace_id: str = Field(sa_type=String(100), primary_key=True)
    stripe_account_id: str = Field(sa_type=String(100), primary_key=True)
    agency_id: str = Field(sa_type=String(100))
    stripe_customer_id: str = Field(sa_type=String(100), unique=True)
    email: str | None = Field(default=None, sa_type=String(320))
    created_at: datetime | None = created_at_field()


class Subscription(SubscriptionsTable, table=True):
    """A recurring product billed to one client workspace on the agency's account."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index(None, "agency_id", "workspace_id", "created_at"),
        Index(
            "ix_subscriptions_autopay_invoice_id",
            "autopay_invoice_id",
            postgresql_where=text("autopay_invoice_id IS NOT NULL"),
        ),
    )

    id: str = Field(sa_type=String(40), primary_key=True)
    agency_id: str = Field(sa_type=String(100))
    workspace_id: str = Field(sa_type=String(100))
    product_id: str = Field(sa_type=String(40))
    cadence: str = Field(sa_type=String(20))
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(sa_type=String(3))
    application_fee_percent: Decimal = Field(sa_type=Numeric(5, 2))
    billing_email: str | None = Field(default=None, sa_type=String(320))
    days_until_due: int | None = Field(default=None, sa_type=Integer)
    """Payment terms of its invoices while the client pays by invoice."""
    collection_method: str = Field(default="send_invoice", sa_type=String(30))
    """``send_invoice`` (each invoice emailed with Pay now) until the client pays with a
    payment method that can be saved, then ``charge_automatically``."""
    autopay_invoice_id: str | None = Field(default=None, sa_type=String(100))
    """A paid invoice whose payment method is still to be made the default for renewals:
    the pending record of that switch, set by the invoice mirror and cleared once done."""
    default_payment_method_id: str | None = Field(default=None, sa_type=String(100))
    stripe_account_id: str = Field(sa_type=String(100))
    stripe_customer_id: str = Field(sa_type=String(100))
    stripe_subscription_id: str = Field(sa_type=String(100), unique=True)
    stripe_price_id: str | None = Field(default=None, sa_type=String(100))
    """The price Stripe bills now (``product_id``'s, once a migration took effect)."""
    status: str = Field(sa_type=String(30))
    status_seen_at: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of the newest event applied to ``status``; older ones are ignored."""
    current_period_end: int | None = Field(default=None, sa_type=BigInteger)
    """When the period being billed ends: the next renewal (Unix seconds)."""
    scheduled_product_id: str | None = Field(default=None, sa_type=String(40))
    """The product the subscription moves to at its next renewal (a migration waiting)."""
    scheduled_price_id: str | None = Field(default=None, sa_type=String(100))
    latest_invoice_id: str | None = Field(default=None, sa_type=String(100))
    latest_invoice_status: str | None = Field(default=None, sa_type=String(20))
    hosted_invoice_url: str | None = Field(default=None, sa_type=String(2000))
    latest_invoice_created: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of ``latest_invoice_id``: a newer invoice takes its place."""
    created_at: datetime | None = created_at_field()
    canceled_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
