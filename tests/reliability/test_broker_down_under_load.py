"""The broker stopped for 30 s while Stripe's webhooks keep coming: webhook-ingest refuses
none (it stores each event with its outbox row and relays later), and once the broker is
back every event reaches every consumer — the ledger and the invoice mirror equal Stripe's.

The embedded broker keeps its log in memory, which a real stop loses (and with it where each
consumer group was): it is frozen instead, unreachable for the outage and back with its log
and committed offsets, as a Kafka broker restarts. What is tested is what the outbox holds.
(Stopped for real, the recreated partitions start again at offset 0 while a consumer still
stood at its old position past them: it skipped what the outbox relayed first.)"""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from tests.helpers.reliability.chaos import assert_all_recorded, expected_in_inboxes
from tests.helpers.reliability.rig import Rig
from tests.helpers.reliability.traffic import (
    Plan,
    assert_money_matches_stripe,
    deliver,
    money_and_its_events,
    oldest_first,
)
from tests.helpers.revenue.money import open_shop

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONSUMERS = ("catalog", "subscriptions", "invoicing", "revenue")
DOWN_FOR = 30
PLAN = Plan(workspaces=4, one_offs=4, dispute_every=2, decline_every=3)


@pytest.mark.timeout(600)
async def test_no_webhook_refused_and_no_event_lost_while_the_broker_is_down(rig: Rig) -> None:
    shops = [await open_shop(rig.sdk, rig.emulator) for _ in range(2)]
    workspaces = {s.agency_id: [f"ws-{uuid.uuid4().hex[:10]}" for _ in range(4)] for s in shops}
    events = oldest_first(await money_and_its_events(rig, shops, PLAN, workspaces))
    fifth = len(events) // 5
    before, during, after = events[:fifth], events[fifth:-fifth], events[-fifth:]
    ingest, stack, infra = rig.urls["webhook-ingest"], rig.stack, rig.infra

    assert set(await deliver(ingest, before, parallel=4)) == {200}
    await assert_all_recorded(
        infra.database_url, expected_in_inboxes(before, CONSUMERS), within=120
    )

    await asyncio.to_thread(lambda: stack.stop_broker(keep_log=True))
    stopped = time.monotonic()
    codes: list[int] = []
    try:
        # The load goes on for the whole outage: a slice of the events each second.
        slices = [during[n::DOWN_FOR] for n in range(DOWN_FOR)]
        for number, piece in enumerate(slices):
            codes += await deliver(ingest, piece, parallel=4)
            await asyncio.sleep(max(0.0, stopped + number + 1 - time.monotonic()))
    finally:
        await asyncio.to_thread(stack.start_broker)
    outage = time.monotonic() - stopped
    assert codes.count(200) == len(during), sorted(set(codes))

    assert set(await deliver(ingest, after, parallel=4)) == {200}
    began = time.monotonic()
    await assert_all_recorded(
        infra.database_url, expected_in_inboxes(events, CONSUMERS), within=240
    )
    for shop in shops:
        await assert_money_matches_stripe(rig, shop, workspaces[shop.agency_id])
    print(f"\n{len(events)} webhooks, {len(during)} while the broker was down {outage:.1f}s; "
          f"all consumed {time.monotonic() - began:.1f}s after it was back")  # fmt: skip
