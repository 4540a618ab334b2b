"""revenue: workspace rollups in workspace order per span, for paging a summary over several
spans

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 05:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"
NAME = "ix_revenue_workspace_rollups_agency_id"


def upgrade() -> None:
    op.create_index(
        op.f(NAME),
        "workspace_rollups",
        ["agency_id", "currency", "grain", "workspace_id", "period_start"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(op.f(NAME), table_name="workspace_rollups", schema=SCHEMA)
