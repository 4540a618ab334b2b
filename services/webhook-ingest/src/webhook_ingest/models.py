"""Tables of the webhook_ingest schema."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from billing_kit.db import schema_metadata
from billing_kit.tables import add_kit_tables


class Base(DeclarativeBase):
    metadata = schema_metadata("webhook_ingest")


kit_tables = add_kit_tables(Base.metadata)
