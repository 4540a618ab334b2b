"""catalog: the connected account Stripe no longer knows (deleted, or the platform's access
revoked), kept so the agency's Connect status says ``disconnected`` until a new one is made

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06 17:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "agencies",
        sa.Column("disconnected_account_id", sa.String(length=100), nullable=True),
        schema="catalog",
    )


def downgrade() -> None:
    op.drop_column("agencies", "disconnected_account_id", schema="catalog")
