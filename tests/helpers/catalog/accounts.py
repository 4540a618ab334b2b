"""Connect account updates as catalog receives them: Stripe's signed ``account.updated``
webhook into webhook-ingest, and proof that catalog has applied a given one."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

import httpx

from billing_contracts.billing_accounts import ACCOUNTS
from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.databases import connect
from tests.helpers.kafka import read_topic
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    body_of,
    fixture,
    signed,
    stripe_event,
)


async def stripe_now(emulator: httpx.AsyncClient) -> int:
    """The emulator's clock, which stamps the events it sends (tests may have moved it)."""
    clock = await emulator.get("/_emulator/clock")
    return int(clock.json()["now"])


async def send_account_updated(
    ingest: str, agency: Agency, *, charges_enabled: bool, created: int
) -> str:
    """Post a signed Connect ``account.updated`` to webhook-ingest; returns the event id."""
    assert agency.account_id is not None
    account = fixture(
        "account",
        id=agency.account_id,
        charges_enabled=charges_enabled,
        payouts_enabled=charges_enabled,
        details_submitted=True,
        metadata={"agency_id": agency.agency_id},
    )
    event = stripe_event("account.updated", account, account=agency.account_id, created=created)
    body = body_of(event)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{ingest}/stripe/webhooks/connect", content=body, headers=signed(body, CONNECT_SECRET)
        )
    assert response.status_code == 200, response.text
    return str(event["id"])


async def applied_by_catalog(infra: Infra, event_id: uuid.UUID) -> None:
    """Wait until catalog has consumed ``event_id``: its inbox row commits with the effect."""
    db = await connect(infra.database_url)
    try:

        async def consumed() -> bool:
            found = await db.fetchval("SELECT 1 FROM catalog.inbox WHERE event_id = $1", event_id)
            return found is not None

        await eventually(consumed, within=60)
    finally:
        await db.close()


async def webhook_applied_by_catalog(infra: Infra, stripe_event_id: str) -> None:
    """Wait until catalog has consumed what webhook-ingest published for this Stripe event."""
    published: list[uuid.UUID] = []

    async def on_topic() -> bool:
        for record in await read_topic(infra.kafka_bootstrap, ACCOUNTS.name):
            event = json.loads(record.value or b"{}")
            if event.get("payload", {}).get("stripe_event_id") == stripe_event_id:
                published.append(uuid.UUID(event["event_id"]))
                return True
        return False

    await eventually(on_topic, within=60)
    await applied_by_catalog(infra, published[0])


@dataclass(frozen=True)
class AccountWebhooks:
    """Signed ``account.updated`` webhooks for one agency, each waited for until applied."""

    ingest: str
    infra: Infra
    agency: Agency

    async def deliver(self, *, charges_enabled: bool, created: int) -> None:
        event_id = await send_account_updated(
            self.ingest, self.agency, charges_enabled=charges_enabled, created=created
        )
        await webhook_applied_by_catalog(self.infra, event_id)
