"""revenue: each subscription's states as its events told them (the owner's MRR)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.create_table(
        "subscription_states",
        sa.Column("subscription_id", sa.String(length=100), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=40), nullable=False),
        sa.Column("monthly_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint(
            "subscription_id", "at", "status", "monthly_cents", name=op.f("pk_subscription_states")
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("subscription_states", schema=SCHEMA)
