"""Tables of the webhook_ingest schema: every Stripe event received (deduplicated by its id,
which doubles as the delivery log), the contract events waiting for Stripe's figures before
they are published, and the replica of connected account → agency."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Identity, Index, String, Table, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class IngestTable(SQLModel, registry=registry(metadata=schema_metadata("webhook_ingest"))):
    """Base of the webhook_ingest schema's tables (its own metadata, not SQLModel's global)."""


kit_tables = add_kit_tables(IngestTable.metadata)

_NOW = {"server_default": func.now()}


class StripeEvent(IngestTable, table=True):
    """A verified Stripe event, stored once under its Stripe id."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        Index(None, "created"),
        Index(
            "ix_stripe_events_paid_payment_intent",
            "account",
            text("(payload #>> '{data,object,payment,payment_intent}')"),
            postgresql_where=text("type = 'invoice_payment.paid'"),
        ),
        Index(
            "ix_stripe_events_invoice",
            "account",
            text("(payload #>> '{data,object,id}')"),
            postgresql_where=text("type LIKE 'invoice.%'"),
        ),
    )
    """Besides by day: which invoice a payment intent paid and the invoice's events, so a
    payment is attributed from the events already stored (``repository.STORED_LINKS``)."""

    id: str = Field(sa_type=String(255), primary_key=True)
    type: str = Field(sa_type=String(200))
    account: str | None = Field(default=None, sa_type=String(255))
    livemode: bool
    created: int = Field(sa_type=BigInteger)
    """Stripe's ``created`` (unix seconds)."""
    api_version: str | None = Field(default=None, sa_type=String(100))
    payload: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    """The event; None when Postgres could not hold it as JSON (then ``raw`` has it)."""
    raw: str | None = Field(default=None, sa_type=Text)
    """The body as received, kept only when ``payload`` could not be stored."""
    attention: str | None = Field(default=None, sa_type=Text)
    """Why an operator should look at this event (it was stored but not published)."""
    endpoint: str = Field(sa_type=String(20))
    """``platform`` or ``connect`` (the endpoint it came through), or ``replay``."""
    received_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=_NOW)


class Enrichment(IngestTable, table=True):
    """A contract event held back from the outbox: it waits for what it must carry from
    Stripe (``lookup``: figures, attribution...), or behind an earlier event of its
    aggregate that does.
    The enricher moves it to the outbox once it is complete and first of its aggregate."""

    __tablename__ = "enrichments"
    __table_args__ = (Index(None, "topic", "key", "id"),)

    id: int | None = Field(
        default=None, primary_key=True, sa_type=BigInteger, sa_column_args=[Identity()]
    )
    event_id: uuid.UUID = Field(sa_type=PG_UUID(as_uuid=True), unique=True)
    topic: str = Field(sa_type=String(200))
    key: str = Field(sa_type=String(200))
    event_type: str = Field(sa_type=String(200))
    body: str = Field(sa_type=Text)
    """The contract event, complete but for what ``lookup`` reads."""
    headers: dict[str, Any] = Field(sa_type=JSONB)
    lookup: dict[str, Any] | None = Field(default=None, sa_type=JSONB)
    """What to read from Stripe; None when the event only waits for its turn."""
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    next_attempt_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=_NOW)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=DateTime(timezone=True), sa_column_kwargs=_NOW)


class AccountAgency(IngestTable, table=True):
    """Which agency a connected account belongs to (from catalog's events and account
    metadata), so events of that account carry their agency."""

    __tablename__ = "account_agencies"

    stripe_account_id: str = Field(sa_type=String(255), primary_key=True)
    agency_id: str = Field(sa_type=String(100))
    updated_at: datetime = Field(
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "onupdate": func.now()},
    )


_TABLES = IngestTable.metadata.tables
stripe_events: Table = _TABLES["webhook_ingest.stripe_events"]
enrichments: Table = _TABLES["webhook_ingest.enrichments"]
account_agencies: Table = _TABLES["webhook_ingest.account_agencies"]
