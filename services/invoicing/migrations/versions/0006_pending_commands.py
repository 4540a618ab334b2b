"""invoicing: pending records of one-off invoices, committed before Stripe is called

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 16:30:00.000000
"""

from collections.abc import Sequence

from billing_kit.migration_ops import create_pending_commands_v1, drop_pending_commands_v1

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_pending_commands_v1("invoicing")


def downgrade() -> None:
    drop_pending_commands_v1("invoicing")
