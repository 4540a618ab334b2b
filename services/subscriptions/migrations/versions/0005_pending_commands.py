"""subscriptions: pending records of client subscriptions and the platform's plans,
committed before Stripe is called

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 16:45:00.000000
"""

from collections.abc import Sequence

from billing_kit.migration_ops import create_pending_commands_v1, drop_pending_commands_v1

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_pending_commands_v1("subscriptions")


def downgrade() -> None:
    drop_pending_commands_v1("subscriptions")
