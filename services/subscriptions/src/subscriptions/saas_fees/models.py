"""Tables of the SaaS fees, in the subscriptions schema (``SubscriptionsTable``'s metadata, so
Alembic sees them beside the service's own): the platform's plans and each agency's plan."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlmodel import Field

from subscriptions.models import SubscriptionsTable, created_at_field


class PlatformPlan(SubscriptionsTable, table=True):
    """A SaaS-fee plan the platform charges its agencies: a Product and recurring Price on
    the platform's own Stripe account."""

    __tablename__ = "platform_plans"

    id: str = Field(sa_type=String(40), primary_key=True)
    name: str = Field(sa_type=String(99))
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(sa_type=String(3))
    interval: str = Field(sa_type=String(10))
    status: str = Field(sa_type=String(20))
    stripe_product_id: str = Field(sa_type=String(100))
    stripe_price_id: str = Field(sa_type=String(100))
    created_at: datetime | None = created_at_field()


class AgencyPlan(SubscriptionsTable, table=True):
    """An agency on a platform plan: a subscription on the platform account whose customer is
    the agency's connected account, paid from that account's Stripe balance."""

    __tablename__ = "agency_plans"

    id: str = Field(sa_type=String(40), primary_key=True)
    agency_id: str = Field(sa_type=String(100), unique=True)
    plan_id: str = Field(sa_type=String(40))
    status: str = Field(sa_type=String(30))
    status_seen_at: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of the newest event applied to ``status``; older ones are ignored."""
    stripe_account_id: str = Field(sa_type=String(100))
    stripe_subscription_id: str = Field(sa_type=String(100), unique=True)
    stripe_payment_method_id: str = Field(sa_type=String(100))
    billing_cycle_anchor: int = Field(sa_type=BigInteger)
    latest_invoice_id: str | None = Field(default=None, sa_type=String(100))
    latest_invoice_status: str | None = Field(default=None, sa_type=String(20))
    latest_invoice_amount_due: int | None = Field(default=None, sa_type=BigInteger)
    created_at: datetime | None = created_at_field()
