"""Migration operations for the kit's tables, called from each service's Alembic migrations.

Each function is frozen once a migration uses it: a later change to the kit's tables gets a
new function (``..._v2``) and a new migration in every service, so history never changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql


def _created_at(name: str = "created_at") -> sa.Column[object]:
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _event_columns() -> list[sa.Column[object]]:
    """An outbox row's event, as ``outbox`` and ``outbox_dead_letters`` both keep it."""
    return [
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("event_type", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    ]


def create_kit_tables_v1(schema: str) -> None:
    """``idempotency_keys``, ``inbox`` and ``outbox`` as the kit first defined them."""
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("body", sa.LargeBinary(), nullable=True),
        sa.Column("media_type", sa.String(length=100), nullable=True),
        _created_at(),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema=schema,
    )
    op.create_table(
        "inbox",
        sa.Column("consumer", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        _created_at("processed_at"),
        sa.PrimaryKeyConstraint("consumer", "event_id", name=op.f("pk_inbox")),
        schema=schema,
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        *_event_columns(),
        _created_at(),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("event_id", name=op.f("uq_outbox_event_id")),
        schema=schema,
    )


def drop_kit_tables_v1(schema: str) -> None:
    for table in ("outbox", "inbox", "idempotency_keys"):
        op.drop_table(table, schema=schema)


def create_outbox_dead_letters_v1(schema: str) -> None:
    """``outbox_dead_letters``: rows the broker refused for good, with their error."""
    op.create_table(
        "outbox_dead_letters",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        *_event_columns(),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        _created_at("failed_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_dead_letters")),
        schema=schema,
    )


def drop_outbox_dead_letters_v1(schema: str) -> None:
    op.drop_table("outbox_dead_letters", schema=schema)


def create_pending_commands_v1(schema: str) -> None:
    """``pending_commands``: commands that create Stripe objects, committed before Stripe is
    called (``billing_kit.pending_commands``)."""
    op.create_table(
        "pending_commands",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("agency_id", sa.String(length=100), nullable=True),
        sa.Column("idempotency_scope", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("request", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _created_at(),
        _created_at("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_commands")),
        sa.UniqueConstraint(
            "idempotency_scope",
            "idempotency_key",
            name=op.f("uq_pending_commands_idempotency_scope_idempotency_key"),
        ),
        schema=schema,
    )
    op.create_index(
        op.f(f"ix_{schema}_pending_commands_status"),
        "pending_commands",
        ["status", "updated_at"],
        schema=schema,
    )


def drop_pending_commands_v1(schema: str) -> None:
    op.drop_table("pending_commands", schema=schema)
