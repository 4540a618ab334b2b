"""The envelope every event on every topic carries. (documented in libs/contracts/asyncapi.json).

An event model is the envelope plus a ``type`` literal and a typed ``payload``; the models of
one topic form a union discriminated on ``type``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(UTC)


class Payload(BaseModel):
    """Base of every payload: unknown fields are kept, so an older consumer can read a newer
    producer's events (within a topic version producers only add optional fields)."""

    model_config = ConfigDict(extra="allow", frozen=True)


class Event(BaseModel):
    """Envelope fields shared by all events."""

    model_config = ConfigDict(extra="allow", frozen=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str
    version: int = 1
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    agency_id: str | None = None
    workspace_id: str | None = None
    correlation_id: str = ""
    causation_id: str | None = None
    payload: Payload

    aggregate_field: ClassVar[str] = ""
    """Name of the payload field whose value is the aggregate id (the Kafka message key)."""

    def aggregate_id(self) -> str:
        value: Any = getattr(self.payload, self.aggregate_field)
        return str(value)
