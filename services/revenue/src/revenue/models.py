"""Tables of the revenue schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = schema_metadata("revenue")


kit_tables = add_kit_tables(Base.metadata)
