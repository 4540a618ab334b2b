"""webhook-ingest: stored events index which invoice a payment intent paid, and the invoice's
events (a payment attributed from what is stored, not read from Stripe)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-20 10:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "webhook_ingest"


def upgrade() -> None:
    op.create_index(
        "ix_stripe_events_paid_payment_intent",
        "stripe_events",
        ["account", sa.text("(payload #>> '{data,object,payment,payment_intent}')")],
        schema=SCHEMA,
        postgresql_where=sa.text("type = 'invoice_payment.paid'"),
    )
    op.create_index(
        "ix_stripe_events_invoice",
        "stripe_events",
        ["account", sa.text("(payload #>> '{data,object,id}')")],
        schema=SCHEMA,
        postgresql_where=sa.text("type LIKE 'invoice.%'"),
    )


def downgrade() -> None:
    op.drop_index("ix_stripe_events_invoice", table_name="stripe_events", schema=SCHEMA)
    op.drop_index("ix_stripe_events_paid_payment_intent", table_name="stripe_events", schema=SCHEMA)
