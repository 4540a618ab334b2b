"""Realistic Stripe traffic for fault tests: money made on the emulator for many workspaces
(subscriptions and their renewals, one-off invoices, refunds, disputes, declines), Stripe's
own events about it read back from ``/v1/events``, and those events delivered signed to
webhook-ingest — in order, or shuffled with repeats.

While the traffic is made, the emulator's own webhook deliveries are paused, so the test
alone decides in which order (and how many times) webhook-ingest sees each event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from tests.helpers.databases import connect
from tests.helpers.reliability.rig import Rig
from tests.helpers.revenue.money import LEDGER_TYPES, Shop, expected_summary
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import CONNECT_SECRET, PLATFORM_SECRET, signed

WHOLE_RANGE = {"from": "2020-01-01", "to": "2099-12-31"}
FIGURES = ("gross_cents", "platform_fee_cents", "stripe_fee_cents", "refunded_cents",
           "disputed_cents", "net_cents")  # fmt: skip
MIRRORED = ("kind", "status", "amount_due_cents", "amount_paid_cents", "amount_refunded_cents",
            "application_fee_cents", "currency", "past_due")  # fmt: skip


@dataclass(frozen=True)
class Plan:
    """What each workspace of a shop does; the same plan gives the same money anywhere."""

    workspaces: int
    one_offs: int
    refund_every: int = 1
    dispute_every: int = 5
    decline_every: int = 7

    def amount(self, workspace: int, one_off: int) -> int:
        return 5_000 + 137 * workspace + 53 * one_off


def make_workspace_money(shop: Shop, plan: Plan, index: int, workspace_id: str) -> None:
    """One workspace's money: a subscription, paid one-offs, a partial refund, and now and
    then a lost dispute and a declined card (the invoice stays open)."""
    shop.subscription(workspace_id, 10_000 + 100 * index)
    paid = [shop.one_off(workspace_id, plan.amount(index, j)) for j in range(plan.one_offs)]
    if index % plan.refund_every == 0:
        shop.refund(shop.charge_of(paid[0]), 1_000 + index)
    if index % plan.dispute_every == 0:
        disputed = shop.one_off(workspace_id, plan.amount(index, 99), "pm_card_createDispute")
        shop.lose_dispute(shop.charge_of(disputed))
    if index % plan.decline_every == 0:
        with contextlib.suppress(stripe.CardError):
            shop.one_off(workspace_id, plan.amount(index, 98), "pm_card_chargeDeclined")


async def make_money(shop: Shop, plan: Plan, workspace_ids: list[str], parallel: int = 4) -> None:
    gate = asyncio.Semaphore(parallel)

    async def one(index: int, workspace_id: str) -> None:
        async with gate:
            await asyncio.to_thread(make_workspace_money, shop, plan, index, workspace_id)

    await asyncio.gather(*(one(i, w) for i, w in enumerate(workspace_ids)))


async def money_and_its_events(
    rig: Rig,
    shops: list[Shop],
    plan: Plan,
    workspaces: dict[str, list[str]],
    *,
    renew: bool = False,
) -> dict[str, list[dict[str, Any]]]:
    """Each shop makes ``plan``'s money for its workspaces (and, with ``renew``, a month
    passes so that every subscription renews) with no webhook sent; returns Stripe's events
    about each shop's account, oldest first, by account."""
    async with deliveries_paused(rig.emulator):
        await asyncio.gather(*(make_money(s, plan, workspaces[s.agency_id]) for s in shops))
        if renew:
            month = await rig.emulator.post(
                "/_emulator/clock/advance", json={"seconds": 32 * 86400}
            )
            assert month.status_code == 200, month.text
    return {shop.account_id: await events_of(rig.emulator, shop.account_id) for shop in shops}


@contextlib.asynccontextmanager
async def deliveries_paused(emulator: httpx.AsyncClient) -> AsyncIterator[None]:
    """The emulator's webhook endpoints disabled (its events are kept, not delivered)."""
    listed = await emulator.get("/v1/webhook_endpoints", headers=_AUTH)
    enabled = [e["id"] for e in listed.json()["data"] if e["status"] == "enabled"]
    for endpoint_id in enabled:
        await _set_disabled(emulator, endpoint_id, True)
    try:
        yield
    finally:
        for endpoint_id in enabled:
            await _set_disabled(emulator, endpoint_id, False)


_AUTH = {"Authorization": "Bearer sk_test_emulator"}


async def _set_disabled(emulator: httpx.AsyncClient, endpoint_id: str, disabled: bool) -> None:
    response = await emulator.post(
        f"/v1/webhook_endpoints/{endpoint_id}",
        data={"disabled": "true" if disabled else "false"},
        headers=_AUTH,
    )
    assert response.status_code == 200, response.text


def oldest_first(by_account: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The events of all accounts in one stream, oldest first."""
    return sorted((e for events in by_account.values() for e in events), key=lambda e: e["created"])


async def events_of(emulator: httpx.AsyncClient, account: str) -> list[dict[str, Any]]:
    """Every event of a connected account, as Stripe sends them, oldest first: those on the
    account, and the platform's about the application fees it took from it."""
    fees = await _listed(emulator, {"type": "application_fee.*"}, {})
    about_account = [e for e in fees if e["data"]["object"].get("account") == account]
    return sorted(
        [*await _listed(emulator, {}, {"Stripe-Account": account}), *about_account],
        key=lambda e: e["created"],
    )


async def _listed(
    emulator: httpx.AsyncClient, filters: dict[str, str], account: dict[str, str]
) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 100, **filters}
    headers = {**_AUTH, **account}
    while True:
        page = (await emulator.get("/v1/events", params=params, headers=headers)).json()
        events.extend(page["data"])
        if not page["has_more"]:
            break
        params["starting_after"] = page["data"][-1]["id"]
    events.reverse()
    return events


def shuffled_with_repeats(
    events: list[dict[str, Any]], seed: int, repeat_share: float = 0.3
) -> list[dict[str, Any]]:
    """The events in a random order, a share of them delivered twice (the same Stripe event,
    as Stripe's at-least-once delivery sends it)."""
    rng = random.Random(seed)
    mixed = events + rng.sample(events, k=round(len(events) * repeat_share))
    rng.shuffle(mixed)
    return mixed


async def deliver(ingest: str, events: Iterable[dict[str, Any]], parallel: int = 1) -> list[int]:
    """POST each event signed to its endpoint (Connect or platform); returns the status codes
    in order."""
    gate = asyncio.Semaphore(parallel)
    async with httpx.AsyncClient(base_url=ingest, timeout=60) as client:

        async def post(event: dict[str, Any]) -> int:
            body = json.dumps(event, indent=2).encode()
            path, secret = (
                ("/stripe/webhooks/connect", CONNECT_SECRET)
                if "account" in event
                else ("/stripe/webhooks", PLATFORM_SECRET)
            )
            async with gate:
                response = await client.post(path, content=body, headers=signed(body, secret))
            return response.status_code

        if parallel == 1:
            return [await post(event) for event in events]
        return list(await asyncio.gather(*(post(event) for event in events)))


def ledger_transactions(shop: Shop) -> list[dict[str, Any]]:
    return [t for t in shop.balance_transactions() if t["type"] in LEDGER_TYPES]


def stripe_invoices(shop: Shop) -> list[tuple[str, str]]:
    """(invoice id, status) of every invoice on the shop's account, sorted."""
    page = shop.sdk.v1.invoices.list(params={"limit": 100}, options=shop.on_account)
    return sorted((str(i.id), str(i.status)) for i in page.auto_paging_iter())


async def summary_of(rig: Rig, shop: Shop, workspace_ids: list[str]) -> dict[str, Any]:
    """The owner's summary with workspace ids replaced by their place in ``workspace_ids``
    (so two shops with the same plan compare equal)."""
    owner = rig.tokens.headers("owner", shop.agency_id)
    revenue = rig.clients["revenue"]
    response = await revenue.get("/v1/revenue/summary", params=WHOLE_RANGE, headers=owner)
    assert response.status_code == 200, response.text
    summary: dict[str, Any] = response.json()
    summary.pop("reconciliation")  # when each shop was last checked differs by design
    place = {w: i for i, w in enumerate(workspace_ids)}
    summary["workspaces"] = sorted(
        ({**w, "workspace_id": place.get(w["workspace_id"], w["workspace_id"])}
         for w in summary["workspaces"]),
        key=lambda w: str(w["workspace_id"]),
    )  # fmt: skip
    return summary


async def mirror_of(
    rig: Rig, shop: Shop, workspace_ids: list[str]
) -> tuple[list[tuple[str, str]], list[list[tuple[Any, ...]]]]:
    """The invoice mirror: (Stripe id, status) of every invoice listed, sorted, and per
    workspace the invoices' figures without ids (comparable between shops)."""
    admin = rig.tokens.headers("admin", shop.agency_id)
    invoicing = rig.clients["invoicing"]
    ids: list[tuple[str, str]] = []
    figures: list[list[tuple[Any, ...]]] = []
    for workspace_id in workspace_ids:
        response = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=admin)
        assert response.status_code == 200, response.text
        invoices = response.json()["data"]
        ids += [(i["stripe_invoice_id"], i["status"]) for i in invoices]
        figures.append(sorted((_figures(i) for i in invoices), key=repr))  # None beside ints
    return sorted(ids), figures


def _figures(invoice: dict[str, Any]) -> tuple[Any, ...]:
    dispute = invoice["dispute"] or {}
    return (
        *(invoice[name] for name in MIRRORED),
        dispute.get("status"),
        dispute.get("amount_cents"),
    )


async def ledger_rows(database_url: str, agency_id: str) -> int:
    """The revenue ledger's rows of an agency."""
    conn = await connect(database_url)
    try:
        query = "SELECT count(*) FROM revenue.ledger_entries WHERE agency_id = $1"
        return int(await conn.fetchval(query, agency_id))
    finally:
        await conn.close()


async def assert_money_matches_stripe(
    rig: Rig, shop: Shop, workspace_ids: list[str], within: float = 120.0
) -> None:
    """Within ``within`` seconds the shop's summary equals Stripe's balance transactions, the
    ledger holds one row per transaction and the invoice mirror lists each of Stripe's
    invoices once. The mirror is another service's, fed by its own consumers (which may still
    be waiting out a call to Stripe when revenue has settled): it gets what time is left.
    When time runs out, the assertions show what differs."""
    transactions = ledger_transactions(shop)
    want = expected_summary(transactions)
    invoices = stripe_invoices(shop)
    deadline = time.monotonic() + within

    async def summary_settled() -> bool:
        found = await summary_of(rig, shop, workspace_ids)
        return {name: found[name] for name in FIGURES} == want

    async def mirror_settled() -> bool:
        listed, _ = await mirror_of(rig, shop, workspace_ids)
        return listed == invoices

    with contextlib.suppress(TimeoutError):
        await eventually(summary_settled, within=within)
        await eventually(mirror_settled, within=max(0.1, deadline - time.monotonic()))
    found = await summary_of(rig, shop, workspace_ids)
    assert {name: found[name] for name in FIGURES} == want
    assert await ledger_rows(rig.infra.database_url, shop.agency_id) == len(transactions)
    listed, _ = await mirror_of(rig, shop, workspace_ids)
    assert listed == invoices
