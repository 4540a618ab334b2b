"""Tables of the webhook_ingest schema: every Stripe event received (deduplicated by its id,
which doubles as the delivery log) and the replica of connected account → agency."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, String, Table, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = schema_metadata("webhook_ingest")


kit_tables = add_kit_tables(Base.metadata)


class StripeEvent(Base):
    """A verified Stripe event, stored once under its Stripe id."""

    __tablename__ = "stripe_events"
    __table_args__ = (Index(None, "created"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    account: Mapped[str | None] = mapped_column(String(255))
    livemode: Mapped[bool]
    created: Mapped[int] = mapped_column(BigInteger)
    """Stripe's ``created`` (unix seconds)."""
    api_version: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONB)
    endpoint: Mapped[str] = mapped_column(String(20))
    """``platform`` or ``connect`` (the endpoint it came through), or ``replay``."""
    received_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class AccountAgency(Base):
    """Which agency a connected account belongs to (from catalog's events and account
    metadata), so events of that account carry their agency."""

    __tablename__ = "account_agencies"

    stripe_account_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


stripe_events: Table = StripeEvent.__table__  # type: ignore[assignment]
