"""revenue: rollups per UTC year, month and day (per workspace, and per agency), rebuilt
from the ledger, in place of the monthly rollups

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 01:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = "revenue"
FIGURES = ("gross_cents", "refunded_cents", "disputed_cents", "stripe_fee_cents",
           "platform_fee_cents", "net_cents", "entries")  # fmt: skip

# How an entry adds to the figures (revenue.rules.rollup_delta), as SQL over the ledger.
_LEDGER_FIGURES = """
    coalesce(sum(gross_cents) FILTER (WHERE kind = 'charge'), 0),
    coalesce(-sum(gross_cents) FILTER (WHERE kind = 'refund'), 0),
    coalesce(-sum(gross_cents) FILTER (WHERE kind IN ('dispute', 'dispute_reversal')), 0),
    sum(stripe_fee_cents),
    sum(platform_fee_cents)
        - coalesce(sum(gross_cents) FILTER (WHERE kind = 'application_fee_refund'), 0),
    sum(net_cents),
    count(*)
"""

_PERIOD = """
    CASE grain WHEN 'day' THEN (occurred_at AT TIME ZONE 'UTC')::date
               ELSE date_trunc(grain, occurred_at AT TIME ZONE 'UTC')::date END
"""


def _keys(*, workspace: bool) -> list[sa.Column[str]]:
    return [
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("grain", sa.String(length=5), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        *([sa.Column("workspace_id", sa.String(length=100), nullable=False)] if workspace else []),
    ]


def _figures() -> list[sa.Column[int]]:
    return [sa.Column(name, sa.BigInteger(), nullable=False) for name in FIGURES]


def upgrade() -> None:
    keys = ["agency_id", "currency", "grain", "period_start"]
    op.create_table(
        "workspace_rollups",
        *_keys(workspace=True),
        *_figures(),
        sa.PrimaryKeyConstraint(*keys, "workspace_id", name=op.f("pk_workspace_rollups")),
        schema=SCHEMA,
    )
    op.create_table(
        "agency_rollups",
        *_keys(workspace=False),
        *_figures(),
        sa.PrimaryKeyConstraint(*keys, name=op.f("pk_agency_rollups")),
        schema=SCHEMA,
    )
    columns = ", ".join(FIGURES)
    op.execute(
        f"INSERT INTO {SCHEMA}.workspace_rollups (agency_id, currency, grain, period_start,"
        f" workspace_id, {columns})"
        f" SELECT agency_id, currency, grain, {_PERIOD}, coalesce(workspace_id, ''),"
        f" {_LEDGER_FIGURES}"
        f" FROM {SCHEMA}.ledger_entries"
        " CROSS JOIN (VALUES ('year'), ('month'), ('day')) AS grains (grain)"
        " GROUP BY 1, 2, 3, 4, 5"
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.agency_rollups (agency_id, currency, grain, period_start,"
        f" {columns})"
        f" SELECT agency_id, currency, grain, period_start,"
        f" {', '.join(f'sum({name})' for name in FIGURES)}"
        f" FROM {SCHEMA}.workspace_rollups WHERE grain IN ('month', 'day')"
        " GROUP BY 1, 2, 3, 4"
    )
    op.drop_table("revenue_rollups", schema=SCHEMA)


def downgrade() -> None:
    op.create_table(
        "revenue_rollups",
        sa.Column("agency_id", sa.String(length=100), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("workspace_id", sa.String(length=100), nullable=False),
        *_figures()[:-1],
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "agency_id", "currency", "month", "workspace_id", name=op.f("pk_revenue_rollups")
        ),
        schema=SCHEMA,
    )
    op.execute(
        f"INSERT INTO {SCHEMA}.revenue_rollups (agency_id, currency, month, workspace_id,"
        f" {', '.join(FIGURES)})"
        f" SELECT agency_id, currency, period_start, workspace_id, {', '.join(FIGURES)}"
        f" FROM {SCHEMA}.workspace_rollups WHERE grain = 'month'"
    )
    op.drop_table("agency_rollups", schema=SCHEMA)
    op.drop_table("workspace_rollups", schema=SCHEMA)
