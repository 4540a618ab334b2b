"""revenue: each connected account's last comparison of its ledger with Stripe's balance
transactions (the summary's ``reconciliation``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.create_table(
        "reconciliations",
        sa.Column("stripe_account_id", sa.String(length=100), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("checked_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("differences", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stripe_account_id", name=op.f("pk_reconciliations")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_reconciliations_agency_id"),
        "reconciliations",
        ["agency_id"],
        schema=SCHEMA,
    )
    # Every account with movements is reconciled: known from its ledger entries too.
    op.execute(
        f"INSERT INTO {SCHEMA}.account_agencies (stripe_account_id, agency_id)"
        f" SELECT DISTINCT ON (stripe_account_id) stripe_account_id, agency_id"
        f" FROM {SCHEMA}.ledger_entries ORDER BY stripe_account_id"
        " ON CONFLICT DO NOTHING"
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_revenue_reconciliations_agency_id"), table_name="reconciliations", schema=SCHEMA
    )
    op.drop_table("reconciliations", schema=SCHEMA)
