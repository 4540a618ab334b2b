"""Each consuming service SIGKILLed mid-stream, ten times: while Stripe's events about six
agencies' money stream in (with bursts of catalog's product events and Stripe's account
updates), catalog, subscriptions, invoicing and revenue are killed as soon as each has begun
on the latest batch, then started again. Afterwards every event sent is
in each consumer's inbox exactly once, the ledger holds one row per balance transaction of
Stripe's, the revenue summary equals Stripe's figures and the invoice mirror lists each of
Stripe's invoices once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict

import pytest

from billing_contracts.billing_accounts import ACCOUNTS, StripeAccountUpdated
from billing_contracts.catalog_products import PRODUCTS
from tests.helpers.agencies import account_snapshot, start_onboarding
from tests.helpers.kafka import publish
from tests.helpers.products import product_created
from tests.helpers.reliability.chaos import (
    Expected,
    assert_all_recorded,
    consumers_of,
    expected_in_inboxes,
    inbox_counts,
    restart,
    sigkill,
)
from tests.helpers.reliability.rig import Rig
from tests.helpers.reliability.traffic import (
    Plan,
    assert_money_matches_stripe,
    deliver,
    money_and_its_events,
    oldest_first,
)
from tests.helpers.revenue.money import Shop
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.stress]

KILLED = ("catalog", "subscriptions", "invoicing", "revenue")
ROUNDS = 10
AGENCIES = 6
PLAN = Plan(workspaces=2, one_offs=3, dispute_every=2, decline_every=3)


def account_updates(shops: list[Shop], created: int) -> list[StripeAccountUpdated]:
    """A burst of ``account.updated`` for catalog (the agencies stay enabled)."""
    return [
        StripeAccountUpdated(
            agency_id=shop.agency_id,
            payload=account_snapshot(shop.account_id, charges_enabled=True, created=created + n),
        )
        for n in range(4)
        for shop in shops
    ]


async def _kill_once_busy(rig: Rig, name: str, batch: Expected, mid_stream: Counter[str]) -> None:
    """SIGKILL ``name`` as soon as it has begun on ``batch`` (at once if it has none)."""
    mine = {key: ids for key, ids in batch.items() if key[0] == name}
    total = sum(len(ids) for ids in mine.values())

    async def begun() -> bool:
        return not mine or sum((await inbox_counts(rig.infra.database_url, mine)).values()) > 0

    await eventually(begun, within=90)
    done = sum((await inbox_counts(rig.infra.database_url, mine)).values()) if mine else 0
    sigkill(rig.stack, name)
    if done < total:
        mid_stream[name] += 1


async def onboarded_shop(rig: Rig) -> Shop:
    """An agency that went through catalog's Connect onboarding (its ``account.updated``
    comes with the webhooks)."""
    agency = await start_onboarding(rig.clients["catalog"], rig.tokens)
    assert agency.account_id is not None
    done = await rig.emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert done.status_code == 200, done.text
    return Shop(agency.agency_id, agency.account_id, rig.sdk)


@pytest.mark.timeout(900)
async def test_consumers_killed_mid_stream_lose_nothing_and_apply_nothing_twice(rig: Rig) -> None:
    shops = [await onboarded_shop(rig) for _ in range(AGENCIES)]
    workspaces = {s.agency_id: [f"ws-{uuid.uuid4().hex[:10]}" for _ in range(2)] for s in shops}
    events = oldest_first(await money_and_its_events(rig, shops, PLAN, workspaces))
    batches = [events[r::ROUNDS] for r in range(ROUNDS)]

    expected: Expected = defaultdict(set)
    mid_stream: Counter[str] = Counter()
    began = time.monotonic()
    for number, batch in enumerate(batches):
        sent = expected_in_inboxes(batch, KILLED)
        account_events = account_updates(shops, int(time.time()) + 10 * number)
        sent["catalog", "accounts"] = {str(e.event_id) for e in account_events}
        product_events = [product_created(s.agency_id) for s in shops for _ in range(5)]
        for consumer in consumers_of(PRODUCTS.name, KILLED):
            sent[consumer] = {str(e.event_id) for e in product_events}
        codes = await deliver(rig.urls["webhook-ingest"], batch, parallel=8)
        assert set(codes) == {200}
        await publish(rig.infra.kafka_bootstrap, ACCOUNTS, *account_events)
        await publish(rig.infra.kafka_bootstrap, PRODUCTS, *product_events)
        await asyncio.gather(*(_kill_once_busy(rig, name, sent, mid_stream) for name in KILLED))
        await restart(rig.stack, KILLED, rig.urls)
        for key, ids in sent.items():
            expected[key] |= ids
    stormed = time.monotonic() - began

    await assert_all_recorded(rig.infra.database_url, expected, within=240)
    for shop in shops:
        await assert_money_matches_stripe(rig, shop, workspaces[shop.agency_id])
    print(f"\n{len(events)} webhooks, {ROUNDS} rounds of kills in {stormed:.1f}s; "
          f"killed mid-batch: {dict(mid_stream)}")  # fmt: skip
    assert sum(mid_stream.values()) > 0
