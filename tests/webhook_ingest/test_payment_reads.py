"""What a paid one-off invoice on a connected account costs webhook-ingest in reads from
Stripe (the emulator), and that the events already stored attribute it exactly as Stripe
does: the same invoice, agency and workspace, and Stripe's answer whenever the stored events
might differ from it (an invoice whose metadata changed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import orjson
import pytest

from billing_contracts import topic_named
from billing_devstack import Infra
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from tests.helpers.revenue.money import Shop, new_workspace_id, open_shop
from tests.helpers.stripe_sdk import emulator_sdk
from tests.helpers.webhook_ingest.stripe_events import held_heads
from webhook_ingest.models import kit_tables
from webhook_ingest.replicas import AgencyDirectory
from webhook_ingest.repository.store import EventStore
from webhook_ingest.rules.normalize import FiguresLookup
from webhook_ingest.service.enrichment import Enricher
from webhook_ingest.stripe_gateway import IngestStripe

pytestmark = [pytest.mark.integration]


@pytest.fixture
async def shop(infra: Infra) -> Shop:
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        return await open_shop(emulator_sdk(infra.stripe_api_base), emulator)


@pytest.fixture
async def store(infra: Infra) -> AsyncIterator[EventStore]:
    found = EventStore(infra.database_url, Outbox(kit_tables.outbox), AgencyDirectory())
    try:
        yield found
    finally:
        await found.close()


@pytest.fixture
async def reads(infra: Infra) -> AsyncIterator[IngestStripe]:
    assert infra.stripe_api_base is not None
    async with stripe_client("sk_test_emulator", infra.stripe_api_base) as client:
        yield IngestStripe(client)


async def _events_since(api: str, account: str, since: int) -> list[dict[str, Any]]:
    """The account's events since ``since``, oldest first, as its webhooks carry them."""
    headers = {"Authorization": "Bearer sk_test_emulator", "Stripe-Account": account}
    async with httpx.AsyncClient(base_url=api, headers=headers, timeout=30) as client:
        page = await client.get("/v1/events", params={"limit": 100, "created[gte]": since})
    listed = page.json()
    assert not listed["has_more"]
    return [{**event, "account": account} for event in reversed(listed["data"])]


async def _paid_one_off(infra: Infra, shop: Shop, workspace: str) -> list[dict[str, Any]]:
    """A paid one-off invoice of ``workspace`` and every event it caused, oldest first."""
    assert infra.stripe_api_base is not None
    async with httpx.AsyncClient(base_url=infra.stripe_api_base, timeout=30) as emulator:
        since = (await emulator.get("/_emulator/clock")).json()["now"] - 1
    await asyncio.to_thread(shop.one_off, workspace, 12_000)
    return await _events_since(infra.stripe_api_base, shop.account_id, since)


def _told(heads: list[dict[str, Any]], bodies: list[str | Exception]) -> set[Any]:
    """(event type, invoice, agency, workspace) of each completed event."""
    found = set()
    for head, body in zip(heads, bodies, strict=True):
        assert isinstance(body, str), body
        event = topic_named(head["topic"]).decode(body)
        told = event.payload.attribution  # type: ignore[attr-defined]
        found.add((event.type, told.invoice_id, told.agency_id, told.workspace_id))
    return found


def _expected(heads: list[dict[str, Any]], invoice: str, shop: Shop, workspace: str) -> set[Any]:
    types = {topic_named(head["topic"]).decode(head["body"]).type for head in heads}
    return {(kind, invoice, shop.agency_id, workspace) for kind in types}


def _invoice_of(events: list[dict[str, Any]]) -> str:
    return str(next(e["data"]["object"]["id"] for e in events if e["type"] == "invoice.paid"))


async def test_a_payment_worked_as_its_events_arrive_reads_stripe_at_most_twice(
    infra: Infra, shop: Shop, store: EventStore, reads: IngestStripe, db: asyncpg.Connection
) -> None:
    """Its invoice at most once (``payment_intent.created`` may come before anything stored
    names it) and its balance transaction once: its later events find both known."""
    workspace = new_workspace_id()
    events = await _paid_one_off(infra, shop, workspace)
    enricher = Enricher(store, reads, store.outbox)
    heads: list[dict[str, Any]] = []
    bodies: list[str | Exception] = []
    read_by: dict[str, int] = {}
    for event in events:  # (the running service may have stored some already: the same)
        await store.record(event, "connect")
        held = held_heads([event], shop.agency_id)
        before = reads.reads
        heads += held
        bodies += await enricher.enrich(db, held)
        read_by[event["type"]] = read_by.get(event["type"], 0) + reads.reads - before

    assert [topic_named(h["topic"]).decode(h["body"]).type for h in heads] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    invoice = _invoice_of(events)
    assert _told(heads, bodies) == _expected(heads, invoice, shop, workspace)
    assert read_by["payment_intent.created"] <= 1  # its invoice, unless the events told it
    assert read_by["charge.succeeded"] == 1  # its balance transaction
    assert read_by["payment_intent.succeeded"] == 0


async def test_a_payment_worked_behind_a_backlog_is_attributed_by_its_stored_events(
    infra: Infra, shop: Shop, store: EventStore, reads: IngestStripe, db: asyncpg.Connection
) -> None:
    """Its events all stored before the enricher gets to them (as under load): one read of
    its balance transaction; the attribution is what Stripe answers, to the workspace, and
    stays so however often its events are delivered again."""
    workspace = new_workspace_id()
    events = await _paid_one_off(infra, shop, workspace)
    for event in events:  # (the running service may have stored some already: the same)
        await store.record(event, "connect")
    for event in events:  # delivered again: nothing changes
        assert not await store.record(event, "connect")
    heads = held_heads(events, shop.agency_id)

    bodies = await Enricher(store, reads, store.outbox).enrich(db, heads)

    invoice = _invoice_of(events)
    assert _told(heads, bodies) == _expected(heads, invoice, shop, workspace)
    assert reads.reads == 1  # the balance transaction, nothing for the attribution
    from_stripe = IngestStripe(reads.client)  # another worker: nothing known, nothing stored
    for head, body in zip(heads, bodies, strict=True):
        stripe_says = await from_stripe.read(FiguresLookup(**orjson.loads(head["lookup"])))
        assert isinstance(body, str)
        told = topic_named(head["topic"]).decode(body).payload.attribution  # type: ignore[attr-defined]
        assert told == stripe_says["attribution"]
    assert from_stripe.reads > reads.reads


async def test_an_invoice_whose_metadata_changed_is_attributed_as_stripe_has_it(
    infra: Infra, shop: Shop, store: EventStore, reads: IngestStripe, db: asyncpg.Connection
) -> None:
    events = await _paid_one_off(infra, shop, "ws-before")
    invoice = _invoice_of(events)
    workspace = new_workspace_id()
    await asyncio.to_thread(
        shop.sdk.v1.invoices.update,
        invoice,
        params={"metadata": {"workspace_id": workspace}},
        options=shop.on_account,
    )
    assert infra.stripe_api_base is not None
    since = min(event["created"] for event in events)
    events = await _events_since(infra.stripe_api_base, shop.account_id, since)
    assert events[-1]["type"] == "invoice.updated"
    for event in events:
        await store.record(event, "connect")
    heads = held_heads(events, shop.agency_id)

    bodies = await Enricher(store, reads, store.outbox).enrich(db, heads)

    assert _told(heads, bodies) == _expected(heads, invoice, shop, workspace)
    assert reads.reads == 2  # the invoice and the balance transaction
