"""subscriptions: payment terms (days until an invoice is due, per workspace and per
subscription), how each subscription collects, the paid invoice whose payment method is to
be saved for renewals, and when its latest invoice was made

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 17:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "workspaces",
        sa.Column("default_days_until_due", sa.Integer(), nullable=True),
        schema="subscriptions",
    )
    op.add_column(
        "subscriptions",
        sa.Column("days_until_due", sa.Integer(), nullable=True),
        schema="subscriptions",
    )
    op.add_column(
        "subscriptions",
        sa.Column(
            "collection_method",
            sa.String(30),
            nullable=False,
            server_default="charge_automatically",
        ),
        schema="subscriptions",
    )
    op.add_column(
        "subscriptions",
        sa.Column("autopay_invoice_id", sa.String(100), nullable=True),
        schema="subscriptions",
    )
    op.add_column(
        "subscriptions",
        sa.Column("default_payment_method_id", sa.String(100), nullable=True),
        schema="subscriptions",
    )
    op.add_column(
        "subscriptions",
        sa.Column("latest_invoice_created", sa.BigInteger(), nullable=False, server_default="0"),
        schema="subscriptions",
    )
    op.create_index(
        "ix_subscriptions_autopay_invoice_id",
        "subscriptions",
        ["autopay_invoice_id"],
        schema="subscriptions",
        postgresql_where=sa.text("autopay_invoice_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_subscriptions_autopay_invoice_id", table_name="subscriptions", schema="subscriptions"
    )
    for column in (
        "latest_invoice_created",
        "default_payment_method_id",
        "autopay_invoice_id",
        "collection_method",
        "days_until_due",
    ):
        op.drop_column("subscriptions", column, schema="subscriptions")
    op.drop_column("workspaces", "default_days_until_due", schema="subscriptions")
