"""subscriptions: platform (SaaS-fee) plans and agencies' plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "subscriptions"


def _created_at() -> sa.Column[object]:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "platform_plans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=99), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("interval", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stripe_product_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=100), nullable=False),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platform_plans")),
        schema=SCHEMA,
    )
    op.create_table(
        "agency_plans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("status_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_subscription_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_payment_method_id", sa.String(length=100), nullable=False),
        sa.Column("billing_cycle_anchor", sa.BigInteger(), nullable=False),
        sa.Column("latest_invoice_id", sa.String(length=100), nullable=True),
        sa.Column("latest_invoice_status", sa.String(length=20), nullable=True),
        sa.Column("latest_invoice_amount_due", sa.BigInteger(), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency_plans")),
        sa.UniqueConstraint("agency_id", name=op.f("uq_agency_plans_agency_id")),
        sa.UniqueConstraint(
            "stripe_subscription_id", name=op.f("uq_agency_plans_stripe_subscription_id")
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("agency_plans", schema=SCHEMA)
    op.drop_table("platform_plans", schema=SCHEMA)
