"""revenue: connected accounts' payouts and the balance transactions each settled

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 02:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.create_table(
        "payouts",
        sa.Column("payout_id", sa.String(length=100), nullable=False),
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_seen_at", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("arrival_date", sa.Date(), nullable=False),
        sa.Column("automatic", sa.Boolean(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("transactions_known", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_payouts")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_payouts_agency_id"),
        "payouts",
        ["agency_id", "arrival_date"],
        schema=SCHEMA,
    )
    op.create_table(
        "payout_transactions",
        sa.Column("payout_id", sa.String(length=100), nullable=False),
        sa.Column("balance_transaction_id", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=True),
        sa.Column("source_id", sa.String(length=100), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("gross_cents", sa.BigInteger(), nullable=False),
        sa.Column("stripe_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("platform_fee_cents", sa.BigInteger(), nullable=False),
        sa.Column("net_cents", sa.BigInteger(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "payout_id", "balance_transaction_id", name=op.f("pk_payout_transactions")
        ),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("payout_transactions", schema=SCHEMA)
    op.drop_index(op.f("ix_revenue_payouts_agency_id"), table_name="payouts", schema=SCHEMA)
    op.drop_table("payouts", schema=SCHEMA)
