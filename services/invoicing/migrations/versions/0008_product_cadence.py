"""invoicing: the cadence of each product in the replica, for the client portal

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 17:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoicing"


def upgrade() -> None:
    op.add_column(
        "products",
        sa.Column("cadence", sa.String(length=20), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("products", "cadence", schema=SCHEMA)
