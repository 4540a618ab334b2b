"""Request and response models of the webhook-ingest API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Received(BaseModel):
    received: bool = True
    duplicate: bool


class ReplayRequest(BaseModel):
    """A time range of Stripe events, as ISO datetimes or unix seconds."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    from_: datetime = Field(alias="from")
    to: datetime

    @model_validator(mode="after")
    def _ordered(self) -> ReplayRequest:
        if self.from_.tzinfo is None or self.to.tzinfo is None:
            raise ValueError("from and to need a time zone (or unix seconds)")
        if self.to < self.from_:
            raise ValueError("to is before from")
        return self


class ReplayOut(BaseModel):
    scanned: int
    ingested: int
    duplicates: int
    repaired: int = Field(
        description="Events of the range kept for attention that now normalize and store: "
        "stored again and published."
    )
    needs_attention: list[str] = Field(
        description="Stripe event ids of the range that are stored but were not published "
        "(not normalized, or kept raw): they need an operator (the first 100)."
    )
