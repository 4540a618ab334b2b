"""Balance-transaction figures are read from Stripe after the event is stored: a charge is
published with them, and a Stripe outage delays the publication (in order, once) instead of
failing the webhook."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_devstack import Infra, Stack
from tests.helpers.kafka import read_topic
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.deliveries import ensure_endpoints, post_event, published
from tests.helpers.webhook_ingest.stripe_events import stripe_event
from webhook_ingest.rules.normalize import contract_event_id

pytestmark = [pytest.mark.integration, pytest.mark.slow]

AUTH = {"Authorization": "Bearer sk_test_emulator"}


@pytest.fixture
async def emulator(stack: Stack, ingest: str, infra: Infra) -> AsyncIterator[httpx.AsyncClient]:
    assert infra.stripe_api_base is not None
    await ensure_endpoints(stack, infra.stripe_api_base, ingest)
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as client:
        yield client


async def _paid_charge(emulator: httpx.AsyncClient, amount: int) -> dict[str, Any]:
    intent = await emulator.post(
        "/v1/payment_intents",
        data={
            "amount": str(amount),
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
        headers=AUTH,
    )
    assert intent.status_code == 200, intent.text
    charge = await emulator.get(f"/v1/charges/{intent.json()['latest_charge']}", headers=AUTH)
    found: dict[str, Any] = charge.json()
    assert isinstance(found["balance_transaction"], str)
    return found


async def _on_partition(bootstrap: str, key: str, *stripe_event_ids: str) -> list[dict[str, Any]]:
    """The contract events of these Stripe events on ``billing.payments.v1``, in log order."""
    wanted = {str(contract_event_id(event_id)) for event_id in stripe_event_ids}
    return [
        json.loads(record.value)
        for record in await read_topic(bootstrap, STRIPE_PAYMENTS.name)
        if record.key == key.encode() and json.loads(record.value)["event_id"] in wanted
    ]


async def _metric(service: str, name: str) -> float:
    async with httpx.AsyncClient(base_url=service, timeout=10) as client:
        text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                return float(sample.value)
    raise AssertionError(f"{name} not in /metrics")


async def test_a_charge_is_published_with_its_balance_transaction_figures(
    emulator: httpx.AsyncClient, infra: Infra
) -> None:
    charge = await _paid_charge(emulator, 10_000)

    async def succeeded() -> list[dict[str, Any]]:
        return [
            json.loads(r.value)
            for r in await read_topic(infra.kafka_bootstrap, STRIPE_PAYMENTS.name)
            if r.key == charge["id"].encode() and json.loads(r.value)["type"] == "charge.succeeded"
        ]

    async def arrived() -> bool:
        return bool(await succeeded())

    await eventually(arrived, within=30)
    [published_charge] = await succeeded()
    figures = published_charge["payload"]["figures"]
    assert figures["gross"] == 10_000
    assert figures["stripe_fee"] == 320  # 2.9 % + 30¢
    assert figures["net"] == 10_000 - 320 - figures["application_fee"]


async def test_a_stripe_outage_delays_the_figures_and_never_fails_the_webhook(
    ingest: str, emulator: httpx.AsyncClient, infra: Infra, db: asyncpg.Connection
) -> None:
    # Balance transactions unreadable before the charge exists: webhook-ingest keeps what it
    # read once, so the emulator's own delivery of the charge must not read it first.
    armed = await emulator.post(
        "/_emulator/faults",
        json={
            "fail_next": {
                "count": 1000,
                "status": 500,
                "path": "/v1/balance_transactions",
                "method": "GET",
            }
        },
    )
    assert armed.status_code == 200, armed.text
    try:
        charge = await _paid_charge(emulator, 4_200)
        succeeded = stripe_event("charge.succeeded", charge)
        later = stripe_event("charge.updated", {**charge, "balance_transaction": None})
        url = f"{ingest}/stripe/webhooks"
        response = await post_event(url, succeeded)
        assert (response.status_code, response.json()["duplicate"]) == (200, False)

        async def tried_and_failed() -> bool:  # the charge's first held event (the emulator's
            failed = await db.fetchval(  # own delivery may come first) could not be completed
                "SELECT count(*) FROM webhook_ingest.enrichments "
                "WHERE key = $1 AND attempts >= 1 AND last_error LIKE '%500%'",
                charge["id"],
            )
            return bool(failed)

        await eventually(tried_and_failed, within=60)
        # needs nothing from Stripe, but waits behind the charge's earlier event
        assert (await post_event(url, later)).status_code == 200
        waiting = await db.fetchval(
            "SELECT count(*) FROM webhook_ingest.enrichments WHERE event_id = ANY($1::uuid[])",
            [contract_event_id(succeeded["id"]), contract_event_id(later["id"])],
        )
        assert waiting == 2

        async def reported_held() -> bool:  # operators see the held events and their age
            return await _metric(ingest, "webhook_held_events") >= 2

        await eventually(reported_held, within=30)
        assert await _metric(ingest, "webhook_held_oldest_event_age_seconds") > 0
        assert await published(infra.kafka_bootstrap, STRIPE_PAYMENTS.name, succeeded["id"]) == []
    finally:
        await emulator.delete("/_emulator/faults")
    txn = (
        await emulator.get(
            f"/v1/balance_transactions/{charge['balance_transaction']}", headers=AUTH
        )
    ).json()

    async def both_published() -> bool:
        found = await _on_partition(infra.kafka_bootstrap, charge["id"], succeeded["id"])
        return bool(found) and bool(
            await _on_partition(infra.kafka_bootstrap, charge["id"], later["id"])
        )

    await eventually(both_published, within=90)
    log = await _on_partition(infra.kafka_bootstrap, charge["id"], succeeded["id"], later["id"])
    assert [event["type"] for event in log] == ["charge.succeeded", "charge.updated"]  # once each
    figures = log[0]["payload"]["figures"]
    assert figures["balance_transaction_id"] == txn["id"]
    assert (figures["gross"], figures["net"]) == (txn["amount"], txn["net"])
    assert figures["stripe_fee"] + figures["application_fee"] + figures["other_fees"] == txn["fee"]
    assert log[1]["payload"]["figures"] is None
    left = await db.fetchval(
        "SELECT count(*) FROM webhook_ingest.enrichments WHERE key = $1", charge["id"]
    )
    assert left == 0
