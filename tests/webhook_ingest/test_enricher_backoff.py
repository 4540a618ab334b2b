"""How soon a held event is tried again while Stripe fails: doubling from a second, never
more than 15 s apart, so events flow again within seconds of a long outage ending."""

from __future__ import annotations

from typing import Any

import pytest

from billing_kit.errors import UnavailableError
from webhook_ingest import repository
from webhook_ingest.enrichment import Enricher
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
