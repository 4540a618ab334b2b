"""How soon a held event is tried again while Stripe fails: doubling from a second, never
more than 15 s apart, so events flow again within seconds of a long outage ending."""

from __future__ import annotations

from typing import Any

import pytest

from billing_kit.errors import UnavailableError
from webhook_ingest import repository
from webhook_ingest.service.enrichment import Enricher
from webhook_ingest.settings import WebhookIngestSettings

pytestmark = pytest.mark.unit


async def test_a_held_event_is_retried_at_most_15_s_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    delays: list[float] = []

    async def postpone(conn: Any, held_id: int, error: str, delay: float) -> None:
        delays.append(delay)

    monkeypatch.setattr(repository, "postpone", postpone)
    nothing: Any = None
    enricher = Enricher(nothing, nothing, nothing)
    outage = UnavailableError("Stripe is unavailable; deliver this event again.")
    for attempts in range(12):  # a two-minute outage and more
        await enricher._settle(None, {"id": 1, "attempts": attempts}, outage)

    assert delays[:5] == [1, 2, 4, 8, 15]
    assert max(delays) == 15
    assert WebhookIngestSettings.model_fields["enrichment_retry_cap_seconds"].default == 15


async def test_an_event_failing_itself_is_published_as_it_is_instead_of_held_forever(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    postponed: list[int] = []
    released: list[str] = []

    async def postpone(conn: Any, held_id: int, error: str, delay: float) -> None:
        postponed.append(held_id)

    monkeypatch.setattr(repository, "postpone", postpone)

    nothing: Any = None
    enricher = Enricher(nothing, nothing, nothing, give_up_after=3)
    broken = ValueError("Stripe's answer does not fit the event")
    outage = UnavailableError("Stripe is unavailable; deliver this event again.")

    async def settle(head: dict[str, Any], body: Exception) -> None:
        settled = await enricher._settle(None, head, body)
        if settled is not None:  # to be released with the rest of its pass
            released.append(settled)

    for attempts in range(3):  # Stripe away: held however long it lasts
        await settle({"id": 7, "attempts": attempts, "body": "{}"}, outage)
    assert (postponed, released) == ([7, 7, 7], [])
    for attempts in range(3):
        await settle({"id": 8, "attempts": attempts, "body": '{"e": 8}'}, broken)
    assert postponed == [7, 7, 7, 8, 8]
    assert released == ['{"e": 8}']
