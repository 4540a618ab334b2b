"""catalog: outbox_dead_letters (rows the broker refused for good)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:50:00.000000
"""

from collections.abc import Sequence

from billing_kit.migration_ops import create_outbox_dead_letters_v1, drop_outbox_dead_letters_v1

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_dead_letters_v1("catalog")


def downgrade() -> None:
    drop_outbox_dead_letters_v1("catalog")
