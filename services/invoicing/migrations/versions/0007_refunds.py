"""invoicing: each refund of a payment, so a refund that fails comes off the refunded total

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 16:50:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoicing"


def upgrade() -> None:
    op.create_table(
        "refunds",
        sa.Column("refund_id", sa.String(length=100), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=100), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("refund_id", name=op.f("pk_refunds")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_refunds_payment_intent_id"),
        "refunds",
        ["payment_intent_id"],
        schema=SCHEMA,
    )
    # What the charges said so far is the refunded total known until now.
    op.add_column(
        "payments",
        sa.Column("refunded_by_charge", sa.BigInteger(), nullable=False, server_default="0"),
        schema=SCHEMA,
    )
    op.execute(f"UPDATE {SCHEMA}.payments SET refunded_by_charge = amount_refunded")
    op.alter_column("payments", "refunded_by_charge", server_default=None, schema=SCHEMA)


def downgrade() -> None:
    op.drop_column("payments", "refunded_by_charge", schema=SCHEMA)
    op.drop_index(
        op.f("ix_invoicing_refunds_payment_intent_id"), table_name="refunds", schema=SCHEMA
    )
    op.drop_table("refunds", schema=SCHEMA)
