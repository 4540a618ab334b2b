"""revenue: what the platform's back-office reads besides the ledger — each agency's SaaS-fee
plan, the SaaS-fee collections, the connected accounts' available balances — and the
agencies in id order (its pages)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 05:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"


def _text(name: str, length: int, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(length=length), nullable=nullable)


def upgrade() -> None:
    op.create_index(
        op.f("ix_revenue_account_agencies_agency_id"),
        "account_agencies",
        ["agency_id"],
        schema=SCHEMA,
    )
    op.create_table(
        "agency_plans",
        _text("agency_id", 100),
        _text("agency_plan_id", 100),
        _text("plan_name", 300),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        _text("currency", 3),
        _text("interval", 10),
        _text("status", 40),
        _text("stripe_account_id", 100),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_plans")),
        schema=SCHEMA,
    )
    op.create_table(
        "saas_collections",
        _text("invoice_id", 100),
        _text("agency_id", 100, nullable=True),
        sa.Column("amount_due_cents", sa.BigInteger(), nullable=False),
        _text("currency", 3),
        _text("status", 20),
        sa.Column("attempt_count", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("told_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_saas_collections")),
        schema=SCHEMA,
    )
    op.create_index(
        op.f("ix_revenue_saas_collections_agency_id"),
        "saas_collections",
        ["agency_id", "paid_at"],
        schema=SCHEMA,
    )
    op.create_table(
        "account_balances",
        _text("stripe_account_id", 100),
        _text("currency", 3),
        sa.Column("available_cents", sa.BigInteger(), nullable=False),
        sa.Column("told_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("stripe_account_id", "currency", name=op.f("pk_account_balances")),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_table("account_balances", schema=SCHEMA)
    op.drop_index(op.f("ix_revenue_saas_collections_agency_id"), "saas_collections", schema=SCHEMA)
    op.drop_table("saas_collections", schema=SCHEMA)
    op.drop_table("agency_plans", schema=SCHEMA)
    op.drop_index(op.f("ix_revenue_account_agencies_agency_id"), "account_agencies", schema=SCHEMA)
