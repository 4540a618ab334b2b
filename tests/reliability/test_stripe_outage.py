"""Stripe answers 500 to every API call for two minutes while the webhooks about an agency's
money arrive: payments, refunds, lost disputes, declines and a month of renewals. Nothing is
dead-lettered, and within two minutes of Stripe's return — with no operator command — the
agency's revenue summary equals its balance transactions to the cent, the ledger holds one
row per transaction and the invoice mirror lists Stripe's invoices."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from billing_contracts import ALL_TOPICS
from tests.helpers.kafka import read_topic
from tests.helpers.reliability.rig import Rig
from tests.helpers.reliability.traffic import (
    WHOLE_RANGE,
    Plan,
    assert_money_matches_stripe,
    deliver,
    money_and_its_events,
    oldest_first,
)
from tests.helpers.revenue.money import open_shop
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

PLAN = Plan(workspaces=6, one_offs=2, refund_every=1, dispute_every=2, decline_every=3)
OUTAGE_SECONDS = 120
ARMED = 1_000_000
"""More failing answers than the services can ask for in the outage: every call fails."""


async def _dead_letters_of(bootstrap: str, agency_id: str) -> list[str]:
    """The dead-lettered events of an agency, on every topic's ``.dlq``."""
    found: list[str] = []
    for topic in ALL_TOPICS:
        for record in await read_topic(bootstrap, topic.dlq):
            body = json.loads(record.value or b"{}")
            if body.get("agency_id") == agency_id:
                found.append(f"{topic.dlq}: {body.get('type')}")
    return found


@pytest.mark.timeout(900)
async def test_a_two_minute_stripe_outage_loses_and_dead_letters_nothing(rig: Rig) -> None:
    shop = await open_shop(rig.sdk, rig.emulator)
    workspace_ids = [f"ws-{shop.agency_id[-6:]}-{i:02d}" for i in range(PLAN.workspaces)]
    by_account = await money_and_its_events(
        rig, [shop], PLAN, {shop.agency_id: workspace_ids}, renew=True
    )
    events = oldest_first(by_account)

    armed = await rig.emulator.post(
        "/_emulator/faults", json={"fail_next": [{"count": ARMED, "status": 500, "path": "/v1/"}]}
    )
    assert armed.status_code == 200, armed.text
    try:
        outage_began = time.monotonic()
        answers = await deliver(rig.urls["webhook-ingest"], events, parallel=4)
        assert set(answers) == {200}  # stored and acknowledged without asking Stripe
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_began)))
        during = (await rig.emulator.get("/_emulator/faults")).json()
    finally:
        cleared = await rig.emulator.delete("/_emulator/faults")
        assert cleared.status_code == 200, cleared.text
    left = sum(f["count"] for f in during["fail_next"])
    assert left < ARMED, "the services never asked Stripe during the outage"

    back = time.monotonic()
    await assert_money_matches_stripe(rig, shop, workspace_ids)  # within 120 s
    print(f"\n{len(events)} webhooks, {ARMED - left} Stripe calls refused in the outage; "
          f"reconciled {time.monotonic() - back:.1f}s after Stripe came back")  # fmt: skip
    assert await _dead_letters_of(rig.infra.kafka_bootstrap, shop.agency_id) == []
    owner = rig.tokens.headers("owner", shop.agency_id)

    async def reconciled() -> bool:  # the scheduled check read Stripe and found it equal
        summary = await rig.clients["revenue"].get(
            "/v1/revenue/summary", params=WHOLE_RANGE, headers=owner
        )
        return bool(summary.json()["reconciliation"]["status"] == "reconciled")

    await eventually(reconciled, within=60)
