"""subscriptions: replicas, outbox, inbox, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:33:55.637984
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from billing_kit.migration_ops import create_kit_tables_v1, drop_kit_tables_v1

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables_v1("subscriptions")
    op.create_table(
        "agency_replicas",
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=True),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_replicas")),
        schema="subscriptions",
    )
    op.create_table(
        "product_replicas",
        sa.Column("product_id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=99), nullable=False),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_replicas")),
        schema="subscriptions",
    )
    op.create_index(
        op.f("ix_subscriptions_product_replicas_agency_id"),
        "product_replicas",
        ["agency_id"],
        unique=False,
        schema="subscriptions",
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_subscriptions_product_replicas_agency_id"),
        table_name="product_replicas",
        schema="subscriptions",
    )
    op.drop_table("product_replicas", schema="subscriptions")
    op.drop_table("agency_replicas", schema="subscriptions")
    drop_kit_tables_v1("subscriptions")
