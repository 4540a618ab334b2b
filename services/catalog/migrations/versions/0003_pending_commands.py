"""catalog: pending records of new products, committed before Stripe is called

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 16:40:00.000000
"""

from collections.abc import Sequence

from billing_kit.migration_ops import create_pending_commands_v1, drop_pending_commands_v1

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_pending_commands_v1("catalog")


def downgrade() -> None:
    drop_pending_commands_v1("catalog")
