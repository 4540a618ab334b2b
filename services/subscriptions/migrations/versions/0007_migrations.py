"""subscriptions: the price a subscription bills and when its period ends, and the product it
moves to at its next renewal

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 20:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COLUMNS = (
    ("stripe_price_id", sa.String(100)),
    ("current_period_end", sa.BigInteger()),
    ("scheduled_product_id", sa.String(40)),
    ("scheduled_price_id", sa.String(100)),
)


def upgrade() -> None:
    for name, type_ in COLUMNS:
        op.add_column(
            "subscriptions", sa.Column(name, type_, nullable=True), schema="subscriptions"
        )


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("subscriptions", name, schema="subscriptions")
