"""invoicing: invoices and subscriptions by workspace alone (another agency's workspace is
found without scanning the mirror)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 02:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoicing"


def upgrade() -> None:
    for table in ("invoices", "subscriptions"):
        op.create_index(
            op.f(f"ix_invoicing_{table}_workspace_id"), table, ["workspace_id"], schema=SCHEMA
        )


def downgrade() -> None:
    for table in ("invoices", "subscriptions"):
        op.drop_index(op.f(f"ix_invoicing_{table}_workspace_id"), table, schema=SCHEMA)
