"""catalog: agencies, products, outbox, inbox, idempotency keys

Revision ID: 0001
Revises:
Create Date: 2026-11-22 01:33:14.187000
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
    create_kit_tables_v1("catalog")
    op.create_table(
        "agencies",
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=True),
        sa.Column("charges_enabled", sa.Boolean(), nullable=False),
        sa.Column("payouts_enabled", sa.Boolean(), nullable=False),
        sa.Column("details_submitted", sa.Boolean(), nullable=False),
        sa.Column("account_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("suspended", sa.Boolean(), nullable=False),
        sa.Column("suspension_reason", sa.String(length=500), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agencies")),
        sa.UniqueConstraint("stripe_account_id", name=op.f("uq_agencies_stripe_account_id")),
        schema="catalog",
    )
    op.create_table(
        "products",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=99), nullable=False),
        sa.Column("description", sa.String(length=499), nullable=True),
        sa.Column("cadence", sa.String(length=20), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_product_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_price_id", sa.String(length=100), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_products")),
        schema="catalog",
    )
    op.create_index(
        op.f("ix_catalog_products_agency_id"),
        "products",
        ["agency_id", "status", "created_at"],
        unique=False,
        schema="catalog",
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_catalog_products_agency_id"), table_name="products", schema="catalog")
    op.drop_table("products", schema="catalog")
    op.drop_table("agencies", schema="catalog")
    drop_kit_tables_v1("catalog")
