"""revenue: the platform overview's totals read the agencies' rollups of one currency and
period without walking every agency, and each agency's payouts since its last told balance
by account

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 06:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.create_index(
        op.f("ix_revenue_agency_rollups_currency"),
        "agency_rollups",
        ["currency", "grain", "period_start"],
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_payouts_stripe_account_id"),
        "payouts",
        ["stripe_account_id", "currency", "created"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revenue_payouts_stripe_account_id"), "payouts", schema=SCHEMA)
    op.drop_index(op.f("ix_revenue_agency_rollups_currency"), "agency_rollups", schema=SCHEMA)
