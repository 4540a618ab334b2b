"""What the back-office reads besides the ledger: each agency's SaaS-fee plan, the SaaS-fee
collections and the connected accounts' available balances (tables of the revenue schema)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field

from revenue.models import RevenueTable, aware, cents


class AgencyPlanFacts(RevenueTable, table=True):
    """The SaaS-fee plan the platform charges an agency, as subscriptions last announced it."""

    __tablename__ = "agency_plans"

    agency_id: str = Field(primary_key=True, max_length=100)
    agency_plan_id: str = Field(max_length=100)
    plan_name: str = Field(max_length=300)
    amount_cents: int = cents()
    currency: str = Field(max_length=3)
    interval: str = Field(max_length=10)
    status: str = Field(max_length=40)
    """The plan's Stripe subscription status."""
    stripe_account_id: str = Field(max_length=100)
    told_at: datetime = aware()
    """When the announcement was made: a later one wins."""


class SaasCollection(RevenueTable, table=True):
    """A SaaS-fee invoice the platform collects from an agency's Stripe balance, as invoicing
    last announced it."""

    __tablename__ = "saas_collections"
    __table_args__ = (Index(None, "agency_id", "paid_at"),)

    invoice_id: str = Field(primary_key=True, max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    amount_due_cents: int = cents()
    currency: str = Field(max_length=3)
    status: str = Field(max_length=20)
    attempt_count: int = Field(default=0, sa_type=BigInteger)
    paid_at: datetime | None = aware(nullable=True)
    told_at: datetime = aware()
    """When the announcement was made: a later one wins."""


class AccountBalance(RevenueTable, table=True):
    """A connected account's available balance in one currency, as Stripe last told it
    (``balance.available``)."""

    __tablename__ = "account_balances"

    stripe_account_id: str = Field(primary_key=True, max_length=100)
    currency: str = Field(primary_key=True, max_length=3)
    available_cents: int = cents()
    told_at: int = Field(sa_type=BigInteger)
    """Stripe ``created`` of the event: a later one wins."""
