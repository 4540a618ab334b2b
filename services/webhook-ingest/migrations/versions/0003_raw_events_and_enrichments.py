"""raw events marked for attention; contract events waiting for Stripe's figures

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 22:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "webhook_ingest"


def upgrade() -> None:
    op.alter_column(
        "stripe_events",
        "payload",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=True,
        schema=SCHEMA,
    )
    op.add_column("stripe_events", sa.Column("raw", sa.Text(), nullable=True), schema=SCHEMA)
    op.add_column("stripe_events", sa.Column("attention", sa.Text(), nullable=True), schema=SCHEMA)
    op.create_table(
        "enrichments",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("lookup", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enrichments")),
        sa.UniqueConstraint("event_id", name=op.f("uq_enrichments_event_id")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_webhook_ingest_enrichments_topic"),
        "enrichments",
        ["topic", "key", "id"],
        unique=False,
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_webhook_ingest_enrichments_topic"), table_name="enrichments", schema=SCHEMA
    )
    op.drop_table("enrichments", schema=SCHEMA)
    # The old schema needs a payload: a body Postgres refused as JSON is kept as a string.
    op.execute(
        f"UPDATE {SCHEMA}.stripe_events SET payload = jsonb_build_object('raw', raw) "
        "WHERE payload IS NULL"
    )
    op.drop_column("stripe_events", "attention", schema=SCHEMA)
    op.drop_column("stripe_events", "raw", schema=SCHEMA)
    op.alter_column(
        "stripe_events",
        "payload",
        existing_type=postgresql.JSONB(astext_type=sa.Text()),
        nullable=False,
        schema=SCHEMA,
    )
