"""subscriptions: workspaces, billing customers, subscriptions

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:58:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subscriptions"


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("billing_contact_email", sa.String(length=320), nullable=True),
        sa.Column("billing_contact_name", sa.String(length=200), nullable=True),
        sa.Column("client_members", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_subscriptions_workspaces_agency_id"),
        "workspaces",
        ["agency_id"],
        unique=False,
        schema=SCHEMA,
    )
    op.create_table(
        "billing_customers",
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint(
            "workspace_id", "stripe_account_id", name=op.f("pk_billing_customers")
        ),
        sa.UniqueConstraint(
            "stripe_customer_id", name=op.f("uq_billing_customers_stripe_customer_id")
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("application_fee_percent", sa.Numeric(precision=5, scale=2), nullable=False),
        sa.Column("billing_email", sa.String(length=320), nullable=True),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_customer_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("latest_invoice_id", sa.String(length=100), nullable=True),
        sa.Column("latest_invoice_status", sa.String(length=20), nullable=True),
        sa.Column("hosted_invoice_url", sa.String(length=2000), nullable=True),
        _created_at(),
        sa.Column("canceled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_subscriptions_stripe_subscription_id")
        ),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_subscriptions_subscriptions_agency_id"),
        "subscriptions",
        ["agency_id", "workspace_id", "created_at"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_subscriptions_subscriptions_agency_id"),
        table_name="subscriptions",
        schema=SCHEMA,
    )
    op.drop_table("subscriptions", schema=SCHEMA)
    op.drop_table("billing_customers", schema=SCHEMA)
    op.drop_index(
        op.f("ix_subscriptions_workspaces_agency_id"), table_name="workspaces", schema=SCHEMA
    )
    op.drop_table("workspaces", schema=SCHEMA)
