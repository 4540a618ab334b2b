"""revenue: the product a subscription sells, and what workspaces and products are called
(the dashboard names them)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 02:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.add_column(
        "subscriptions",
        sa.Column("stripe_product_id", sa.String(length=100), nullable=True),
        schema=SCHEMA,
    )
    op.create_table(
        "display_names",
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "key", name=op.f("pk_display_names")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("display_names", schema=SCHEMA)
    op.drop_column("subscriptions", "stripe_product_id", schema=SCHEMA)
