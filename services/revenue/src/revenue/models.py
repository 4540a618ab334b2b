"""Tables of the revenue schema: the ledger, its rollups, and the facts that attribute a
movement (which invoice a charge paid, whose invoice it is, which agency owns an account)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, func
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class RevenueTable(SQLModel, registry=registry(metadata=schema_metadata("revenue"))):
    pass


kit_tables = add_kit_tables(RevenueTable.metadata)


def cents() -> int:
    return Field(sa_column=Column(BigInteger, nullable=False))  # type: ignore[no-any-return]


def aware(*, nullable: bool = False) -> datetime:
    return Field(sa_column=Column(DateTime(timezone=True), nullable=nullable))  # type: ignore[no-any-return]


class LedgerEntry(RevenueTable, table=True):
    """One money movement: exactly one Stripe balance transaction of a connected account,
    with its figures as Stripe states them (``net = gross - stripe_fee - platform_fee``)."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index(None, "agency_id", "occurred_at"),
        Index(None, "stripe_account_id", "occurred_at"),
        Index(None, "charge_id"),
    )

    entry_id: str = Field(primary_key=True, max_length=100)
    """The balance transaction id: the natural key that makes recording idempotent."""
    kind: str = Field(max_length=40)
    agency_id: str = Field(max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    invoice_id: str | None = Field(default=None, max_length=100)
    subscription_id: str | None = Field(default=None, max_length=100)
    charge_id: str | None = Field(default=None, max_length=100)
    source_id: str | None = Field(default=None, max_length=100)
    stripe_account_id: str = Field(max_length=100)
    currency: str = Field(max_length=3)
    gross_cents: int = cents()
    stripe_fee_cents: int = cents()
    platform_fee_cents: int = cents()
    net_cents: int = cents()
    occurred_at: datetime = aware()
    recorded_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


class _RollupFigures(RevenueTable):
    """The summary's figures (``rules.ROLLUP_FIGURES``) and how many entries made them."""

    gross_cents: int = Field(sa_type=BigInteger, nullable=False)
    refunded_cents: int = Field(sa_type=BigInteger, nullable=False)
    disputed_cents: int = Field(sa_type=BigInteger, nullable=False)
    stripe_fee_cents: int = Field(sa_type=BigInteger, nullable=False)
    platform_fee_cents: int = Field(sa_type=BigInteger, nullable=False)
    net_cents: int = Field(sa_type=BigInteger, nullable=False)
    entries: int = Field(default=0, sa_type=BigInteger, nullable=False)


class WorkspaceRollup(_RollupFigures, table=True):
    """Sums of the ledger per agency, currency, workspace and period, kept in the same
    transaction as the entries, so summaries never scan the ledger. Every entry adds to its
    UTC year, month and day (``grain``; ``period_start`` is the period's first day), so any
    range of days is a few rows per workspace. ``workspace_id`` is '' for movements no
    workspace could be found for."""

    __tablename__ = "workspace_rollups"
    __table_args__ = (
        # A span's rows in workspace order: a page of workspaces over several spans reads
        # its ids from here and stops once the page is full.
        Index(None, "agency_id", "currency", "grain", "workspace_id", "period_start"),
    )

    agency_id: str = Field(primary_key=True, max_length=100)
    currency: str = Field(primary_key=True, max_length=3)
    grain: str = Field(primary_key=True, max_length=5)
    period_start: date = Field(primary_key=True, sa_type=Date)
    workspace_id: str = Field(primary_key=True, max_length=100)


class AgencyRollup(_RollupFigures, table=True):
    """The same sums over all of an agency's workspaces, per UTC month and day: the
    summary's months and totals read a row per month, not one per workspace and month."""

    __tablename__ = "agency_rollups"
    # the platform's totals: every agency's rows of one currency and period
    __table_args__ = (Index(None, "currency", "grain", "period_start"),)

    agency_id: str = Field(primary_key=True, max_length=100)
    currency: str = Field(primary_key=True, max_length=3)
    grain: str = Field(primary_key=True, max_length=5)
    period_start: date = Field(primary_key=True, sa_type=Date)


class InvoiceFacts(RevenueTable, table=True):
    """What revenue knows of a Stripe invoice: whose it is and how charging it went."""

    __tablename__ = "invoices"
    __table_args__ = (Index(None, "subscription_id"), Index(None, "agency_id"))

    invoice_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    subscription_id: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=20)
    status_seen_at: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    """Stripe ``created`` of the newest event applied to ``status``."""
    created: int | None = Field(default=None, sa_column=Column(BigInteger))
    paid_at: int | None = Field(default=None, sa_column=Column(BigInteger))
    first_failed_at: int | None = Field(default=None, sa_column=Column(BigInteger))


class PaymentLink(RevenueTable, table=True):
    """Where a charge's movements belong: the invoice it paid (null for a charge that paid
    none), the agency, workspace and subscription. Resolved once, then every movement of the
    charge (refunds, disputes, fee refunds) lands in the same place."""

    __tablename__ = "payment_links"

    charge_id: str = Field(primary_key=True, max_length=100)
    payment_intent_id: str | None = Field(default=None, max_length=100)
    invoice_id: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    subscription_id: str | None = Field(default=None, max_length=100)


class AccountAgency(RevenueTable, table=True):
    """Connected account → agency (an account never changes agency)."""

    __tablename__ = "account_agencies"
    __table_args__ = (Index(None, "agency_id"),)

    stripe_account_id: str = Field(primary_key=True, max_length=100)
    agency_id: str = Field(max_length=100)


class SubscriptionHealth(RevenueTable, table=True):
    """A client subscription as Stripe last described it."""

    __tablename__ = "subscriptions"
    __table_args__ = (Index(None, "agency_id"),)

    subscription_id: str = Field(primary_key=True, max_length=100)
    agency_id: str = Field(max_length=100)
    workspace_id: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=40)
    status_seen_at: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    stripe_product_id: str | None = Field(default=None, max_length=100)
    """The Stripe product its (first) item sells, as its latest event told."""


class Reconciliation(RevenueTable, table=True):
    """How a connected account's ledger last compared with Stripe's balance transactions."""

    __tablename__ = "reconciliations"
    __table_args__ = (Index(None, "agency_id"),)

    stripe_account_id: str = Field(primary_key=True, max_length=100)
    agency_id: str = Field(max_length=100)
    status: str = Field(max_length=20)
    """``reconciled``: the last check found the ledger equal to Stripe; ``healing``: it found
    differences and applied them (the next check confirms)."""
    checked_at: datetime = aware()
    """When the last check that read Stripe through ended."""
    differences: int = Field(default=0, sa_type=BigInteger)
    """Differences the last check found."""


class Payout(RevenueTable, table=True):
    """A payout of a connected account to its bank, as Stripe last described it."""

    __tablename__ = "payouts"
    __table_args__ = (
        Index(None, "agency_id", "arrival_date"),
        Index(None, "stripe_account_id", "currency", "created"),
    )

    payout_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str = Field(max_length=100)
    agency_id: str | None = Field(default=None, max_length=100)
    status: str = Field(max_length=20)
    status_seen_at: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    """Stripe ``created`` of the event that told the status."""
    amount_cents: int = cents()
    currency: str = Field(max_length=3)
    arrival_date: date = Field(sa_type=Date)
    automatic: bool = False
    created: int = Field(sa_type=BigInteger)
    transactions_known: bool = False
    """Whether the balance transactions it settled are recorded (``payout_transactions``)."""


class PayoutTransaction(RevenueTable, table=True):
    """A balance transaction an automatic payout settled, with Stripe's figures."""

    __tablename__ = "payout_transactions"

    payout_id: str = Field(primary_key=True, max_length=100)
    balance_transaction_id: str = Field(primary_key=True, max_length=100)
    type: str = Field(max_length=60)
    kind: str | None = Field(default=None, max_length=40)
    """Its ledger kind (``charge``, ``refund``…); null for what is not client revenue."""
    source_id: str | None = Field(default=None, max_length=100)
    currency: str = Field(max_length=3)
    gross_cents: int = cents()
    stripe_fee_cents: int = cents()
    platform_fee_cents: int = cents()
    net_cents: int = cents()
    created: datetime = aware()


class SubscriptionStateRow(RevenueTable, table=True):
    """A subscription as one of its events told it (status and monthly amount at Stripe's
    time): kept as told, so that MRR in any month is the same whatever order they came in."""

    __tablename__ = "subscription_states"

    subscription_id: str = Field(primary_key=True, max_length=100)
    at: int = Field(primary_key=True, sa_type=BigInteger)
    """Stripe ``created`` of the event."""
    status: str = Field(primary_key=True, max_length=40)
    monthly_cents: int = Field(primary_key=True, sa_type=BigInteger)
    """What its items bring in per month (``rules.monthly_cents``)."""
    currency: str = Field(max_length=3)


class DisplayName(RevenueTable, table=True):
    """What a person calls a workspace (its id) or a product (its Stripe product id), as the
    service that owns it last announced it."""

    __tablename__ = "display_names"
    __table_args__ = (Index(None, "agency_id", "kind"),)

    kind: str = Field(primary_key=True, max_length=20)
    """``workspace`` or ``product``."""
    key: str = Field(primary_key=True, max_length=100)
    agency_id: str = Field(max_length=100)
    name: str = Field(max_length=300)
    revision: int = Field(default=0, sa_type=BigInteger)
