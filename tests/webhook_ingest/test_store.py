"""What webhook-ingest stores: group commit (duplicates within a batch, one refused event in a
batch), and signed events it cannot publish, kept for an operator instead of refused."""

from __future__ import annotations

import asyncio
import random
import time

import asyncpg
import httpx
import pytest

from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_devstack import Infra
from billing_kit.outbox import Outbox
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.deliveries import after_a_marker, published, stored_rows
from tests.helpers.webhook_ingest.stripe_events import (
    PLATFORM_SECRET,
    body_of,
    paid_invoice_event,
    signed,
)
from webhook_ingest import repository
from webhook_ingest.models import kit_tables
from webhook_ingest.replicas import AgencyDirectory
from webhook_ingest.repository.store import EventStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _store(infra: Infra) -> EventStore:
    return EventStore(infra.database_url, Outbox(kit_tables.outbox), AgencyDirectory())


async def test_the_same_event_twice_in_one_batch_is_one_row_and_one_message(
    infra: Infra, ingest: str, db: asyncpg.Connection
) -> None:
    store = _store(infra)
    twice, once, known = paid_invoice_event(), paid_invoice_event(), paid_invoice_event()
    try:
        assert await store.record(known, "platform", body_of(known).decode())
        batches = store.writer.batches
        results = await asyncio.gather(  # all waiting together: one group commit
            store.record(twice, "platform", body_of(twice).decode()),
            store.record(known, "platform", body_of(known).decode()),
            store.record(twice, "platform", body_of(twice).decode()),
            store.record(once, "platform", body_of(once).decode()),
        )
        assert store.writer.batches == batches + 1
    finally:
        await store.close()
    assert list(results) == [True, False, False, True]  # stored, duplicate, duplicate, stored
    assert await stored_rows(db, twice["id"]) == 1
    assert await stored_rows(db, once["id"]) == 1
    for event in (twice, once, known):  # published by the running service's relay
        await after_a_marker(
            f"{ingest}/stripe/webhooks", event, infra.kafka_bootstrap, STRIPE_INVOICES.name
        )
        assert len(await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"])) == 1


async def test_a_batch_with_an_event_the_database_refuses_keeps_that_one_raw(
    infra: Infra, db: asyncpg.Connection
) -> None:
    store = _store(infra)
    good, bad = paid_invoice_event(), paid_invoice_event()
    bad_raw = body_of(bad).decode().replace('"paid"', '"pa\\u0000id"', 1)  # jsonb refuses NUL
    try:
        results = await asyncio.gather(
            store.record(good, "platform", body_of(good).decode()),
            store.record(bad, "platform", bad_raw),
        )
    finally:
        await store.close()
    assert list(results) == [True, True]
    rows = await db.fetch(
        "SELECT id, payload IS NULL AS raw_only, raw, attention FROM webhook_ingest.stripe_events "
        "WHERE id = ANY($1::text[])",
        [good["id"], bad["id"]],
    )
    found = {row["id"]: row for row in rows}
    assert (found[good["id"]]["raw_only"], found[good["id"]]["attention"]) == (False, None)
    assert found[bad["id"]]["raw_only"] is True
    assert found[bad["id"]]["raw"] == bad_raw
    assert found[bad["id"]]["attention"].startswith("not stored as JSON")


def _long_ago() -> int:
    """A second of its own, years back: replaying it scans nothing else."""
    return int(time.time()) - 10 * 365 * 86_400 - random.randrange(10**7)


async def _deliver(ingest: str, body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(
            f"{ingest}/stripe/webhooks", content=body, headers=signed(body, PLATFORM_SECRET)
        )


async def test_signed_events_we_cannot_publish_are_kept_marked_and_shown_to_replay(
    ingest: str, infra: Infra, db: asyncpg.Connection, tokens: Tokens
) -> None:
    created = _long_ago()
    nul = paid_invoice_event()
    nul["created"] = created
    nul_body = body_of(nul).replace(b'"paid"', b'"pa\\u0000id"', 1)  # jsonb refuses NUL
    odd = paid_invoice_event()
    odd["created"] = created
    fine_invoice = dict(odd["data"]["object"])
    odd["data"]["object"]["amount_paid"] = "lots"  # normalization cannot read it

    for body in (nul_body, body_of(odd)):
        first, again = await _deliver(ingest, body), await _deliver(ingest, body)
        assert (first.status_code, first.json()) == (200, {"received": True, "duplicate": False})
        assert (again.status_code, again.json()) == (200, {"received": True, "duplicate": True})

    kept = await db.fetchrow(
        "SELECT payload, raw, attention FROM webhook_ingest.stripe_events WHERE id = $1", nul["id"]
    )
    assert kept["payload"] is None
    assert kept["raw"] == nul_body.decode()
    assert kept["attention"].startswith("not stored as JSON")
    marked = await db.fetchrow(
        "SELECT payload->'data'->'object'->>'amount_paid' AS amount, raw, attention "
        "FROM webhook_ingest.stripe_events WHERE id = $1",
        odd["id"],
    )
    assert (marked["amount"], marked["raw"]) == ("lots", None)
    assert marked["attention"].startswith("not normalized")

    # nothing published: a later event of each invoice arrives, theirs never did
    url, bootstrap, topic = f"{ingest}/stripe/webhooks", infra.kafka_bootstrap, STRIPE_INVOICES.name
    await after_a_marker(url, nul, bootstrap, topic)
    await after_a_marker(url, odd, bootstrap, topic, obj=fine_invoice)
    assert await published(bootstrap, topic, nul["id"]) == []
    assert await published(bootstrap, topic, odd["id"]) == []

    async with httpx.AsyncClient(timeout=60) as client:
        replay = await client.post(
            f"{ingest}/v1/replay",
            json={"from": created, "to": created},
            headers=tokens.headers("platform_operator"),
        )
    assert replay.status_code == 200, replay.text
    assert sorted(replay.json()["needs_attention"]) == sorted([nul["id"], odd["id"]])
    assert replay.json()["repaired"] == 0  # still refused, still not normalized
    assert await stored_rows(db, nul["id"], odd["id"]) == 2


async def test_replay_publishes_a_kept_event_that_now_normalizes(
    ingest: str, infra: Infra, db: asyncpg.Connection, tokens: Tokens
) -> None:
    event = paid_invoice_event()
    event["created"] = _long_ago()
    received_at = await db.fetchval(  # as an earlier normalization (since fixed) left it
        "INSERT INTO webhook_ingest.stripe_events "
        "(id, type, account, livemode, created, api_version, payload, endpoint, attention, "
        "received_at) VALUES ($1, $2, NULL, false, $3, $4, $5::jsonb, 'platform', $6, "
        "now() - interval '1 day') RETURNING received_at",
        event["id"],
        event["type"],
        event["created"],
        event["api_version"],
        body_of(event).decode(),
        "not normalized: ValueError('a shape we did not read')",
    )
    window = {"from": event["created"], "to": event["created"]}
    async with httpx.AsyncClient(timeout=60) as client:
        replay = await client.post(
            f"{ingest}/v1/replay", json=window, headers=tokens.headers("platform_operator")
        )
    assert replay.status_code == 200, replay.text
    assert (replay.json()["repaired"], replay.json()["needs_attention"]) == (1, [])
    row = await db.fetchrow(
        "SELECT attention, received_at FROM webhook_ingest.stripe_events WHERE id = $1",
        event["id"],
    )
    assert (row["attention"], row["received_at"]) == (None, received_at)

    async def arrived() -> bool:
        return bool(await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"]))

    await eventually(arrived, within=30)
    [contract] = await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"])
    assert contract["payload"]["invoice_id"] == event["data"]["object"]["id"]


async def test_held_events_are_released_together_in_held_order_and_once(
    db: asyncpg.Connection,
) -> None:
    held = f"{kit_tables.outbox.schema}.enrichments"
    outbox = kit_tables.outbox.fullname
    key = f"ch_release_{random.getrandbits(48):x}"
    undone = db.transaction()  # rolled back: the running relay and enricher never see these
    await undone.start()
    try:
        ids = [
            await db.fetchval(
                f"INSERT INTO {held} (event_id, topic, key, event_type, body, headers) "
                "VALUES (gen_random_uuid(), 'billing.payments.v1', $1, $2, '{}', '{}') "
                "RETURNING id",
                key,
                event_type,
            )
            for event_type in ("charge.succeeded", "charge.updated", "charge.refunded")
        ]
        # Completed out of order, the last one left held: moved in the order held.
        completed = [(ids[1], '{"n": 2}'), (ids[0], '{"n": 1}')]
        assert await repository.release(db, completed) == 2
        assert await repository.release(db, completed) == 0  # already moved: not again
        moved = await db.fetch(
            f"SELECT event_type, body FROM {outbox} WHERE key = $1 ORDER BY id", key
        )
        still_held = await db.fetch(f"SELECT id FROM {held} WHERE key = $1", key)
    finally:
        await undone.rollback()
    assert [(row["event_type"], row["body"]) for row in moved] == [
        ("charge.succeeded", '{"n": 1}'),
        ("charge.updated", '{"n": 2}'),
    ]
    assert [row["id"] for row in still_held] == [ids[2]]
