"""Tables of the subscriptions schema."""

from __future__ import annotations

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = schema_metadata("subscriptions")


kit_tables = add_kit_tables(Base.metadata)


class ProductReplica(Base):
    """catalog's products as last announced (``catalog.products.v1``)."""

    __tablename__ = "product_replicas"

    product_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    agency_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(99))
    cadence: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20))
    stripe_account_id: Mapped[str] = mapped_column(String(100))
    stripe_price_id: Mapped[str] = mapped_column(String(100))
    revision: Mapped[int]


class AgencyReplica(Base):
    """Whether an agency may bill, as catalog last announced (``catalog.agencies.v1``)."""

    __tablename__ = "agency_replicas"

    agency_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    stripe_account_id: Mapped[str | None] = mapped_column(String(100))
    charges_enabled: Mapped[bool]
    suspended: Mapped[bool]
