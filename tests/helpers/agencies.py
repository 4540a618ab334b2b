"""An agency through Connect onboarding, as the API and Stripe see it."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx

from billing_contracts.billing_accounts import (
    ACCOUNTS,
    StripeAccountSnapshot,
    StripeAccountUpdated,
)
from tests.helpers.databases import connect
from tests.helpers.kafka import publish
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually


@dataclass(frozen=True)
class Agency:
    agency_id: str
    account_id: str | None
    owner: dict[str, str]
    admin: dict[str, str]


async def start_onboarding(catalog: httpx.AsyncClient, tokens: Tokens) -> Agency:
    agency_id = new_agency_id()
    owner = tokens.headers("owner", agency_id)
    response = await catalog.post(
        "/v1/connect/onboarding",
        json={"return_url": "https://app.example/return", "refresh_url": "https://app.example/r"},
        headers=owner,
    )
    assert response.status_code == 200, response.text
    return Agency(
        agency_id, response.json()["account_id"], owner, tokens.headers("admin", agency_id)
    )


def account_snapshot(
    account_id: str, *, charges_enabled: bool, created: int
) -> StripeAccountSnapshot:
    """Stripe's view of a connected account, as ``account.updated`` carries it."""
    return StripeAccountSnapshot(
        account_id=account_id,
        charges_enabled=charges_enabled,
        payouts_enabled=charges_enabled,
        details_submitted=True,
        stripe_event_id=f"evt_{uuid.uuid4().hex[:24]}",
        stripe_created=created,
    )


async def announce_account(
    bootstrap: str, agency_id: str, account_id: str, *, charges_enabled: bool, created: int
) -> uuid.UUID:
    """What webhook-ingest publishes for ``account.updated``; returns the event's id."""
    event = StripeAccountUpdated(
        agency_id=agency_id,
        payload=account_snapshot(account_id, charges_enabled=charges_enabled, created=created),
    )
    await publish(bootstrap, ACCOUNTS, event)
    return event.event_id


async def wait_for_status(catalog: httpx.AsyncClient, agency: Agency, status: str) -> None:
    async def reached() -> bool:
        response = await catalog.get("/v1/connect", headers=agency.owner)
        return bool(response.json()["status"] == status)

    await eventually(reached, within=60)


async def onboarded_agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, bootstrap: str
) -> Agency:
    """Onboarding link → onboarding completed on Stripe → ``account.updated`` → enabled."""
    agency = await start_onboarding(catalog, tokens)
    assert agency.account_id is not None
    completed = await emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert completed.status_code == 200, completed.text
    await announce_account(
        bootstrap,
        agency.agency_id,
        agency.account_id,
        charges_enabled=True,
        created=int(time.time()),
    )
    await wait_for_status(catalog, agency, "enabled")
    return agency


async def known_to_subscriptions(database_url: str, agency: Agency) -> Agency:
    """Wait until subscriptions' replica knows the agency may bill: catalog's agency events
    reach it on their own topic, apart from the products'."""

    async def may_bill_there() -> bool:
        conn = await connect(database_url)
        try:
            query = "SELECT charges_enabled FROM subscriptions.agency_replicas WHERE agency_id = $1"
            return bool(await conn.fetchval(query, agency.agency_id))
        finally:
            await conn.close()

    await eventually(may_bill_there, within=60)
    return agency
