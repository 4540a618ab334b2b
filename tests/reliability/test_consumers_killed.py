"""Each consuming service SIGKILLed mid-stream, ten times: while Stripe's events about six
agencies' money stream in, catalog, subscriptions, invoicing and revenue are killed as soon
as each has begun on the latest batch, then started again. Afterwards every event sent is
in each consumer's inbox exactly once, the ledger holds one row per balance transaction of
Stripe's, the revenue summary equals Stripe's figures and the invoice mirror lists each of
Stripe's invoices once."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter, defaultdict
from typing import Any

import httpx
import pytest
import stripe

from billing_contracts.billing_accounts import ACCOUNTS, StripeAccountUpdated
from billing_devstack import Infra, Stack
from tests.reliability.chaos import consumers_of, inbox_counts, restart, sigkill
from tests.reliability.traffic import (
    FIGURES,
    Plan,
    deliver,
    deliveries_paused,
    events_of,
    ledger_transactions,
    make_money,
    mirror_of,
    stripe_invoices,
    summary_of,
)
from tests.revenue.money import Shop, expected_summary
from tests.support.agencies import account_snapshot, start_onboarding
from tests.support.databases import connect
from tests.support.kafka import publish
from tests.support.tokens import Tokens
from tests.support.waiting import eventually
from webhook_ingest.normalize import EVENT_TYPES, contract_event_id

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

KILLED = ("catalog", "subscriptions", "invoicing", "revenue")
ROUNDS = 10
AGENCIES = 6
PLAN = Plan(workspaces=2, one_offs=3, dispute_every=2, decline_every=3)
Expected = dict[tuple[str, str], set[str]]


def expected_in_inboxes(events: list[dict[str, Any]]) -> Expected:
    """The contract event ids each consumer of ``KILLED`` must record, for Stripe events."""
    expected: Expected = defaultdict(set)
    for event in events:
        route = EVENT_TYPES.get(event["type"])
        if route is not None:
            for consumer in consumers_of(route.topic.name, KILLED):
                expected[consumer].add(str(contract_event_id(event["id"])))
    return expected


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


async def _kill_once_busy(
    stack: Stack, infra: Infra, name: str, batch: Expected, mid_stream: Counter[str]
) -> None:
    """SIGKILL ``name`` as soon as it has begun on ``batch`` (at once if it has none)."""
    mine = {key: ids for key, ids in batch.items() if key[0] == name}
    total = sum(len(ids) for ids in mine.values())

    async def begun() -> bool:
        return not mine or sum((await inbox_counts(infra.database_url, mine)).values()) > 0

    await eventually(begun, within=90)
    done = sum((await inbox_counts(infra.database_url, mine)).values()) if mine else 0
    sigkill(stack, name)
    if done < total:
        mid_stream[name] += 1


async def _ledger_rows(infra: Infra, agency_id: str) -> int:
    conn = await connect(infra.database_url)
    try:
        query = "SELECT count(*) FROM revenue.ledger_entries WHERE agency_id = $1"
        return int(await conn.fetchval(query, agency_id))
    finally:
        await conn.close()


@pytest.mark.timeout(900)
async def test_consumers_killed_mid_stream_lose_nothing_and_apply_nothing_twice(
    clients: dict[str, httpx.AsyncClient],
    emulator: httpx.AsyncClient,
    sdk: stripe.StripeClient,
    tokens: Tokens,
    stack: Stack,
    infra: Infra,
    services: dict[str, str],
) -> None:
    shops: list[Shop] = []
    workspaces: dict[str, list[str]] = {}
    async with deliveries_paused(emulator):
        for _ in range(AGENCIES):
            agency = await start_onboarding(clients["catalog"], tokens)
            assert agency.account_id is not None
            done = await emulator.post(
                f"/_emulator/accounts/{agency.account_id}/complete_onboarding"
            )
            assert done.status_code == 200, done.text
            shops.append(Shop(agency.agency_id, agency.account_id, sdk))
        for shop in shops:
            workspaces[shop.agency_id] = [f"ws-{uuid.uuid4().hex[:10]}" for _ in range(2)]
        await asyncio.gather(*(make_money(s, PLAN, workspaces[s.agency_id]) for s in shops))
    events = [e for shop in shops for e in await events_of(emulator, shop.account_id)]
    events.sort(key=lambda e: e["created"])
    batches = [events[r::ROUNDS] for r in range(ROUNDS)]

    expected: Expected = defaultdict(set)
    mid_stream: Counter[str] = Counter()
    began = time.monotonic()
    for number, batch in enumerate(batches):
        sent = expected_in_inboxes(batch)
        account_events = account_updates(shops, int(time.time()) + 10 * number)
        sent["catalog", "accounts"] = {str(e.event_id) for e in account_events}
        codes = await deliver(services["webhook-ingest"], batch, parallel=8)
        assert set(codes) == {200}
        await publish(infra.kafka_bootstrap, ACCOUNTS, *account_events)
        await asyncio.gather(
            *(_kill_once_busy(stack, infra, name, sent, mid_stream) for name in KILLED)
        )
        await restart(stack, KILLED, services)
        for key, ids in sent.items():
            expected[key] |= ids
    stormed = time.monotonic() - began

    seen: dict[tuple[str, str], int] = {}

    async def all_recorded() -> bool:
        seen.update(await inbox_counts(infra.database_url, expected))
        return all(seen[key] == len(ids) for key, ids in expected.items())

    try:
        await eventually(all_recorded, within=240)
    except TimeoutError:
        gaps = {key: (seen.get(key), len(ids)) for key, ids in expected.items()}
        pytest.fail(f"inboxes short of what was sent: {gaps}")
    for shop in shops:
        transactions = ledger_transactions(shop)
        want = expected_summary(transactions)

        async def settled(shop: Shop = shop, want: dict[str, int] = want) -> bool:
            found = await summary_of(clients["revenue"], tokens, shop, workspaces[shop.agency_id])
            return {name: found[name] for name in FIGURES} == want

        await eventually(settled, within=120)
        assert await _ledger_rows(infra, shop.agency_id) == len(transactions)
        listed, _ = await mirror_of(clients["invoicing"], tokens, shop, workspaces[shop.agency_id])
        assert listed == stripe_invoices(shop)
    print(f"\n{len(events)} webhooks, {ROUNDS} rounds of kills in {stormed:.1f}s; "
          f"killed mid-batch: {dict(mid_stream)}")  # fmt: skip
    assert sum(mid_stream.values()) > 0
