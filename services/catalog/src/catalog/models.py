"""Tables of the catalog schema: agency billing profiles and products."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, func
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from billing_kit.db import schema_metadata
from billing_kit.pending_commands import pending_commands_table
from billing_kit.tables import add_kit_tables


class CatalogTable(SQLModel, registry=registry(metadata=schema_metadata("catalog"))):
    """Base of catalog's tables: its own metadata, every table in the ``catalog`` schema."""


kit_tables = add_kit_tables(CatalogTable.metadata)
pending_commands = pending_commands_table(CatalogTable.metadata)
"""Pending records of new products (``billing_kit.pending_commands``)."""


def _created_at() -> Any:
    return Field(
        default=None,
        nullable=False,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now()},
    )


def _updated_at() -> Any:
    return Field(
        default=None,
        nullable=False,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "onupdate": func.now()},
    )


class Agency(CatalogTable, table=True):
    """An agency's billing profile: its Connect account and whether it may bill."""

    __tablename__ = "agencies"

    agency_id: str = Field(primary_key=True, max_length=100)
    stripe_account_id: str | None = Field(default=None, max_length=100, unique=True)
    disconnected_account_id: str | None = Field(default=None, max_length=100)
    """The last account Stripe no longer knows (deleted, or the platform's access revoked);
    onboarding then makes a new one."""
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    account_seen_at: int = Field(default=0, sa_type=BigInteger)
    """Stripe ``created`` of the newest account event applied; older ones are ignored."""
    suspended: bool = False
    suspension_reason: str | None = Field(default=None, max_length=500)
    created_at: datetime | None = _created_at()
    updated_at: datetime | None = _updated_at()


class Product(CatalogTable, table=True):
    """A reusable SKU an agency sells to its clients, with its immutable Stripe price."""

    __tablename__ = "products"
    __table_args__ = (Index(None, "agency_id", "status", "created_at"),)

    id: str = Field(primary_key=True, max_length=40)
    agency_id: str = Field(max_length=100)
    name: str = Field(max_length=99)
    description: str | None = Field(default=None, max_length=499)
    cadence: str = Field(max_length=20)
    amount_cents: int = Field(sa_type=BigInteger)
    currency: str = Field(max_length=3)
    status: str = Field(default="active", max_length=20)
    stripe_account_id: str = Field(max_length=100)
    stripe_product_id: str = Field(max_length=100)
    stripe_price_id: str = Field(max_length=100)
    revision: int = 1
    created_at: datetime = Field(sa_type=DateTime(timezone=True))
    updated_at: datetime | None = _updated_at()
