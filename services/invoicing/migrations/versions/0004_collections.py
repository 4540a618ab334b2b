"""invoicing: SaaS-fee collections, their manual retries and steps, agencies' plans

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 02:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "invoicing"


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def _big(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column[object]:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=True)


def upgrade() -> None:
    op.create_table(
        "agency_plans",
        _text("agency_id", 100),
        _text("agency_plan_id", 40),
        _text("plan_id", 40),
        _text("plan_name", 99),
        _big("amount_cents"),
        _text("currency", 3),
        _text("interval", 10),
        _text("status", 30),
        _text("stripe_account_id", 100),
        _text("stripe_subscription_id", 100),
        _text("stripe_payment_method_id", 100),
        _big("billing_cycle_anchor"),
        _at("event_at"),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_plans")),
        schema=SCHEMA,
    )
    op.create_table(
        "collections",
        _text("id", 40),
        _text("stripe_invoice_id", 100),
        _text("stripe_account_id", 100),
        _text("agency_id", 100, nullable=True),
        _text("stripe_subscription_id", 100, nullable=True),
        _text("status", 20),
        _text("currency", 3),
        _big("amount_due"),
        _text("failure_code", 100, nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        _at("next_automatic_retry_at", nullable=True),
        _at("stripe_created_at"),
        _big("seen_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collections")),
        sa.UniqueConstraint("stripe_invoice_id", name=op.f("uq_collections_stripe_invoice_id")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_collections_agency_id"),
        "collections",
        ["agency_id", "stripe_created_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "collection_retries",
        _text("id", 40),
        _text("invoice_id", 40),
        _text("agency_id", 100, nullable=True),
        _text("stripe_account_id", 100),
        _text("stripe_invoice_id", 100),
        _text("stripe_payment_method_id", 100, nullable=True),
        _text("currency", 3),
        _big("amount_due"),
        _text("state", 30),
        _text("outcome", 20, nullable=True),
        _text("failure_reason", 500, nullable=True),
        _json("previous_schedule"),
        sa.Column("pay_attempts", sa.Integer(), nullable=False),
        _big("available_cents", nullable=True),
        _at("funds_signal_at", nullable=True),
        _at("checked_at", nullable=True),
        _at("started_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_retries")),
        schema=SCHEMA,
    )
    op.create_index(
        "uq_collection_retries_running",
        "collection_retries",
        ["invoice_id"],
        unique=True,
        schema=SCHEMA,
        postgresql_where=sa.text("state NOT IN ('succeeded', 'failed')"),
    )
    op.create_index(
        op.f("ix_invoicing_collection_retries_state"),
        "collection_retries",
        ["state", "updated_at"],
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_collection_retries_stripe_account_id"),
        "collection_retries",
        ["stripe_account_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "collection_retry_steps",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        _text("retry_id", 40),
        _text("step", 40),
        _text("state", 30),
        _json("detail"),
        _at("at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_collection_retry_steps")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_invoicing_collection_retry_steps_retry_id"),
        "collection_retry_steps",
        ["retry_id", "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("collection_retry_steps", schema=SCHEMA)
    op.drop_table("collection_retries", schema=SCHEMA)
    op.drop_table("collections", schema=SCHEMA)
    op.drop_table("agency_plans", schema=SCHEMA)
