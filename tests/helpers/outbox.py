"""The kit's ``Outbox`` in memory, for the services' unit tests: the port their rules write
events through (``billing_kit.outbox.Publisher``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic


@dataclass(frozen=True)
class Published:
    """One outbox row: the transaction it was written in (what the relay would publish once
    it commits), the topic, the event's type and key, and the event itself."""

    session: AsyncSession
    topic: str
    event_type: str
    key: str
    event: Event


@dataclass
class FakeOutbox:
    """The events written, in order. An event not of its topic is refused, as the kit's
    outbox refuses it; with ``session``, so is one written in any other transaction."""

    session: AsyncSession | None = None
    published: list[Published] = field(default_factory=list)

    async def add(self, session: AsyncSession, topic: Topic, *events: Event) -> None:
        assert self.session is None or session is self.session, (
            "an event written outside the change's transaction"
        )
        for event in events:
            if type(event) not in topic.events:
                raise TypeError(f"{type(event).__name__} is not an event of {topic.name}")
            self.published.append(
                Published(session, topic.name, event.type, event.aggregate_id(), event)
            )

    def types(self) -> list[str]:
        return [row.event_type for row in self.published]
