"""revenue: ledger entries, rollups, attribution facts, charging health

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def _id(name: str, *, nullable: bool = True, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=100), nullable=nullable, primary_key=primary_key)


def _cents(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "account_agencies",
        _id("stripe_account_id", nullable=False),
        _id("agency_id", nullable=False),
        sa.PrimaryKeyConstraint("stripe_account_id", name=op.f("pk_account_agencies")),
        schema=SCHEMA,
    )
    op.create_table(
        "invoices",
        _id("invoice_id", nullable=False),
        _id("stripe_account_id"),
        _id("agency_id"),
        _id("workspace_id"),
        _id("subscription_id"),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("status_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=True),
        sa.Column("paid_at", sa.BigInteger(), nullable=True),
        sa.Column("first_failed_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_invoices_subscription_id"),
        "invoices",
        ["subscription_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "ledger_entries",
        _id("entry_id", nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        _id("agency_id", nullable=False),
        _id("workspace_id"),
        _id("invoice_id"),
        _id("subscription_id"),
        _id("charge_id"),
        _id("source_id"),
        _id("stripe_account_id", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _cents("gross_cents"),
        _cents("stripe_fee_cents"),
        _cents("platform_fee_cents"),
        _cents("net_cents"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_ledger_entries")),
        schema=SCHEMA,
    )
    for name, columns in (
        ("ix_revenue_ledger_entries_agency_id", ["agency_id", "occurred_at"]),
        ("ix_revenue_ledger_entries_stripe_account_id", ["stripe_account_id", "occurred_at"]),
        ("ix_revenue_ledger_entries_charge_id", ["charge_id"]),
    ):
        op.create_index(op.f(name), "ledger_entries", columns, schema=SCHEMA)
    op.create_table(
        "payment_links",
        _id("charge_id", nullable=False),
        _id("payment_intent_id"),
        _id("invoice_id"),
        _id("agency_id"),
        _id("workspace_id"),
        _id("subscription_id"),
        sa.PrimaryKeyConstraint("charge_id", name=op.f("pk_payment_links")),
        schema=SCHEMA,
    )
    op.create_table(
        "revenue_rollups",
        _id("agency_id", nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        _id("workspace_id", nullable=False),
        _cents("gross_cents"),
        _cents("refunded_cents"),
        _cents("disputed_cents"),
        _cents("stripe_fee_cents"),
        _cents("platform_fee_cents"),
        _cents("net_cents"),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "agency_id", "currency", "month", "workspace_id", name=op.f("pk_revenue_rollups")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "subscriptions",
        _id("subscription_id", nullable=False),
        _id("agency_id", nullable=False),
        _id("workspace_id"),
        sa.Column("status", sa.String(length=40), nullable=True),
        sa.Column("status_seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", name=op.f("pk_subscriptions")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_subscriptions_agency_id"), "subscriptions", ["agency_id"], schema=SCHEMA
    )


def downgrade() -> None:
    for table in (
        "subscriptions",
        "revenue_rollups",
        "payment_links",
        "ledger_entries",
        "invoices",
        "account_agencies",
    ):
        op.drop_table(table, schema=SCHEMA)
