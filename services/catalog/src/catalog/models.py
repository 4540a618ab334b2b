"""Tables of the catalog schema: agency billing profiles and products."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, String, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = schema_metadata("catalog")


kit_tables = add_kit_tables(Base.metadata)


class Agency(Base):
    """An agency's billing profile: its Connect account and whether it may bill."""

    __tablename__ = "agencies"

    agency_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    charges_enabled: Mapped[bool] = mapped_column(default=False)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    details_submitted: Mapped[bool] = mapped_column(default=False)
    account_seen_at: Mapped[int] = mapped_column(BigInteger, default=0)
    """Stripe ``created`` of the newest account event applied; older ones are ignored."""
    suspended: Mapped[bool] = mapped_column(default=False)
    suspension_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )


class Product(Base):
    """A reusable SKU an agency sells to its clients, with its immutable Stripe price."""

    __tablename__ = "products"
    __table_args__ = (Index(None, "agency_id", "status", "created_at"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(99))
    description: Mapped[str | None] = mapped_column(String(499))
    cadence: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="active")
    stripe_account_id: Mapped[str] = mapped_column(String(100))
    stripe_product_id: Mapped[str] = mapped_column(String(100))
    stripe_price_id: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), onupdate=func.now()
    )
