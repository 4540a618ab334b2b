"""A dispute happens while Stripe answers every read with 500: the webhooks are taken, the
events wait (at webhook-ingest, which reads Stripe for them; no consumer asks Stripe), and
once Stripe answers again the owner's summary shows the dispute to the cent, with nothing
dead-lettered on the way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_devstack import Infra
from tests.helpers.databases import connect
from tests.helpers.kafka import read_topic
from tests.helpers.revenue.figures import FIGURES, WHOLE_RANGE
from tests.helpers.revenue.money import (
    Shop,
    expected_summary,
    new_workspace_id,
    open_shop,
    platform_fee,
)
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

EVERY_READ_FAILS = {"fail_next": {"count": 1_000_000, "status": 500, "method": "GET"}}
LONGER_THAN_A_CONSUMER_S_RETRIES = 20.0
"""Seconds the outage lasts after the dispute was told: a consumer counting Stripe's errors
as the message's fault would have used up its attempts (five, each with the SDK's retries:
about 14 s) and dead-lettered it."""


@pytest.fixture
async def emulator(infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client
        assert (await client.delete("/_emulator/faults")).status_code == 200


async def _dead_letters_of(infra: Infra, account: str) -> list[str]:
    found = []
    for topic in (STRIPE_PAYMENTS, STRIPE_INVOICES):
        for record in await read_topic(infra.kafka_bootstrap, topic.dlq):
            if account.encode() in (record.value or b""):
                found.append(f"{topic.dlq}: {dict(record.headers).get('x-error', b'')!r}")
    return found


async def _summary(revenue: str, tokens: Tokens, shop: Shop) -> dict[str, Any]:
    owner = tokens.headers("owner", shop.agency_id)
    async with httpx.AsyncClient(base_url=revenue, timeout=30) as client:
        response = await client.get("/v1/revenue/summary", params=WHOLE_RANGE, headers=owner)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_dispute_during_a_stripe_outage_reaches_the_summary_once_stripe_is_back(
    services: dict[str, str], infra: Infra, tokens: Tokens, emulator: httpx.AsyncClient
) -> None:
    assert infra.stripe_api_base is not None
    sdk = stripe.StripeClient("sk_test_emulator", base_addresses={"api": infra.stripe_api_base})
    shop = await open_shop(sdk, emulator)
    db = await connect(infra.database_url)
    try:
        armed = await emulator.post("/_emulator/faults", json=EVERY_READ_FAILS)
        assert armed.status_code == 200, armed.text
        # Paying with this card opens a dispute at once: the money is withdrawn (only POSTs).
        await asyncio.to_thread(shop.one_off, new_workspace_id(), 50_000, "pm_card_createDispute")

        async def dispute_taken(seconds_ago: float) -> bool:
            """webhook-ingest took the dispute's webhook at least ``seconds_ago``."""
            return bool(
                await db.fetchval(
                    "SELECT count(*) FROM webhook_ingest.stripe_events "
                    "WHERE type = 'charge.dispute.funds_withdrawn' AND account = $1 "
                    "AND received_at <= now() - make_interval(secs => $2)",
                    shop.account_id,
                    seconds_ago,
                )
            )

        await eventually(lambda: dispute_taken(0), within=60)
        # Stripe stays away well after the dispute was told: nothing may give up on it.
        await eventually(lambda: dispute_taken(LONGER_THAN_A_CONSUMER_S_RETRIES), within=60)
    finally:
        await db.close()
        assert (await emulator.delete("/_emulator/faults")).status_code == 200

    transactions = await asyncio.to_thread(shop.balance_transactions)
    expected = expected_summary(transactions)
    assert expected["disputed_cents"] == 50_000
    seen: dict[str, Any] = {}

    async def summary_agrees() -> bool:
        nonlocal seen
        seen = await _summary(services["revenue"], tokens, shop)
        return {name: seen[name] for name in FIGURES} == expected

    try:
        await eventually(summary_agrees, within=90, poll=0.5)
    except TimeoutError:
        pytest.fail(f"summary {seen} never matched Stripe's {expected}")
    assert seen["gross_cents"] == 50_000
    assert seen["platform_fee_cents"] == platform_fee(50_000)
    assert await _dead_letters_of(infra, shop.account_id) == []
