"""invoicing: the invoice mirror (invoices, payments, subscriptions), agency and product replicas

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 23:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoicing"


def _id(name: str, *, nullable: bool = True, length: int = 100) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _cents(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "agencies",
        _id("agency_id", nullable=False),
        _id("stripe_account_id"),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("profile_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agencies")),
        schema=SCHEMA,
    )
    op.create_table(
        "invoices",
        _id("id", nullable=False, length=40),
        _id("stripe_invoice_id", nullable=False),
        _id("stripe_account_id"),
        _id("agency_id"),
        _id("workspace_id"),
        _id("stripe_customer_id"),
        _id("stripe_subscription_id"),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        _cents("amount_due"),
        _cents("amount_paid"),
        _cents("amount_remaining"),
        _cents("subtotal"),
        _cents("planned_application_fee", nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=2000), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("last_payment_error", sa.String(length=500), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("stripe_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("announced", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("stripe_invoice_id", name=op.f("uq_invoices_stripe_invoice_id")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_invoices_agency_id"),
        "invoices",
        ["agency_id", "workspace_id", "stripe_created_at"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_invoices_stripe_subscription_id"),
        "invoices",
        ["stripe_subscription_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "payments",
        _id("payment_intent_id", nullable=False),
        _id("stripe_account_id"),
        _id("stripe_invoice_id"),
        _id("charge_id"),
        _cents("application_fee", nullable=True),
        _cents("amount_refunded"),
        _id("dispute_id"),
        sa.Column("dispute_status", sa.String(length=40), nullable=True),
        _cents("dispute_amount", nullable=True),
        sa.Column("dispute_reason", sa.String(length=100), nullable=True),
        sa.Column("dispute_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("looked_up", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("payment_intent_id", name=op.f("pk_payments")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_payments_charge_id"), "payments", ["charge_id"], schema=SCHEMA
    )
    op.create_index(
        op.f("ix_invoicing_payments_stripe_invoice_id"),
        "payments",
        ["stripe_invoice_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "subscriptions",
        _id("stripe_subscription_id", nullable=False),
        _id("stripe_account_id"),
        _id("agency_id"),
        _id("workspace_id"),
        _id("stripe_customer_id"),
        _id("product_id"),
        _id("stripe_product_id"),
        _id("stripe_price_id"),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        _cents("amount_cents", nullable=True),
        sa.Column("application_fee_percent", sa.Float(), nullable=True),
        sa.Column("current_period_end", sa.BigInteger(), nullable=True),
        sa.Column("cancel_at_period_end", sa.Boolean(), nullable=False),
        sa.Column("seen_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stripe_subscription_id", name=op.f("pk_subscriptions")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_subscriptions_agency_id"),
        "subscriptions",
        ["agency_id", "workspace_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "products",
        _id("product_id", nullable=False, length=40),
        _id("agency_id"),
        sa.Column("name", sa.String(length=99), nullable=False),
        _id("stripe_price_id", nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_products")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_products_stripe_price_id"),
        "products",
        ["stripe_price_id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("products", schema=SCHEMA)
    op.drop_table("subscriptions", schema=SCHEMA)
    op.drop_table("payments", schema=SCHEMA)
    op.drop_table("invoices", schema=SCHEMA)
    op.drop_table("agencies", schema=SCHEMA)
