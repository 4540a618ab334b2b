"""Topic registry: every topic, the events it carries, and how to decode them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import BaseModel, Field, TypeAdapter

from billing_contracts.envelope import Event


@dataclass(frozen=True)
class Topic:
    """A Kafka topic ``<domain>.<entity>.v<N>`` and the union of events it carries."""

    name: str
    description: str
    events: tuple[type[Event], ...]
    public: bool = False

    @property
    def dlq(self) -> str:
        return f"{self.name}.dlq"

    def adapter(self) -> TypeAdapter[Any]:
        return _adapter(self)

    def decode(self, raw: bytes | str) -> Event:
        """Parse one message body into its event model; raises ``pydantic.ValidationError``."""
        event: Event = self.adapter().validate_json(raw)
        return event


@dataclass(frozen=True)
class RequestChannel:
    """A request/reply exchange: requests on ``name``, each answered with one ``reply`` on the
    topic its ``reply_to`` header names (one of ``reply_topics``), with the same
    ``correlation_id`` header. Not events: nothing is kept, a lost reply is asked again."""

    name: str
    description: str
    request: type[BaseModel]
    reply: type[BaseModel]
    reply_topics: tuple[str, ...]


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(topic: Topic) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(topic.name)
    if adapter is None:
        union = Union[topic.events]  # type: ignore[name-defined]  # noqa: UP007
        adapter = TypeAdapter(Annotated[union, Field(discriminator="type")])
        _ADAPTERS[topic.name] = adapter
    return adapter
