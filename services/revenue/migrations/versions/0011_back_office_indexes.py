"""revenue: the back-office reads a page of agencies' invoices and workspace names by agency

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 05:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def upgrade() -> None:
    op.create_index(op.f("ix_revenue_invoices_agency_id"), "invoices", ["agency_id"], schema=SCHEMA)
    op.create_index(
        op.f("ix_revenue_display_names_agency_id"),
        "display_names",
        ["agency_id", "kind"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_revenue_display_names_agency_id"), "display_names", schema=SCHEMA)
    op.drop_index(op.f("ix_revenue_invoices_agency_id"), "invoices", schema=SCHEMA)
