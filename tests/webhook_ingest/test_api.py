"""webhook-ingest over HTTP: signed events from the tests and from the Stripe emulator, each
rejection, duplicates, secret rotation, a database outage and replay."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from billing_contracts.billing_accounts import ACCOUNTS
from billing_contracts.billing_invoices import STRIPE_INVOICES
from billing_devstack import Infra, Stack, free_port
from billing_devstack import services as devstack_services
from tests.helpers.kafka import read_topic
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.deliveries import (
    after_a_marker,
    ensure_endpoints,
    post_event,
    published,
    stored_rows,
)
from tests.helpers.webhook_ingest.stripe_events import (
    CONNECT_SECRET,
    PLATFORM_SECRET,
    body_of,
    paid_invoice_event,
    signed,
)
from webhook_ingest.app import create_app
from webhook_ingest.settings import WebhookIngestSettings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


# --- rejections ---------------------------------------------------------------------------


def _unsigned(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json"}


def _garbled(body: bytes) -> dict[str, str]:
    return {"Stripe-Signature": "t=soon,v1=garbage"}


def _wrong_secret(body: bytes) -> dict[str, str]:
    return signed(body, "whsec_someone_else")


def _old(body: bytes) -> dict[str, str]:
    return signed(body, PLATFORM_SECRET, int(time.time()) - 400)


@pytest.mark.parametrize(
    "headers_for", [_unsigned, _garbled, _wrong_secret, _old], ids=lambda f: f.__name__
)
async def test_unverifiable_requests_are_refused_and_nothing_is_stored(
    ingest: str, db: asyncpg.Connection, headers_for: Any
) -> None:
    event = paid_invoice_event()
    body = body_of(event)
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{ingest}/stripe/webhooks", content=body, headers=headers_for(body)
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "invalid_signature"
    assert await stored_rows(db, event["id"]) == 0


async def test_a_signed_body_that_is_not_a_stripe_event_is_refused(ingest: str) -> None:
    body = json.dumps({"object": "list", "id": "evt_fake", "data": []}).encode()
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{ingest}/stripe/webhooks", content=body, headers=signed(body, PLATFORM_SECRET)
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_event"


async def test_a_body_over_one_mebibyte_is_refused(ingest: str, db: asyncpg.Connection) -> None:
    event = paid_invoice_event()
    event["data"]["object"]["description"] = "x" * (1024 * 1024)
    response = await post_event(f"{ingest}/stripe/webhooks", event)
    assert response.status_code == 413
    assert await stored_rows(db, event["id"]) == 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        body = body_of(event)
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async with httpx.AsyncClient(timeout=30) as client:
        streamed = await client.post(
            f"{ingest}/stripe/webhooks",
            content=chunks(),
            headers=signed(body_of(event), PLATFORM_SECRET),
        )
    assert streamed.status_code == 413
    assert await stored_rows(db, event["id"]) == 0


# --- accepted events ------------------------------------------------------------------------


async def test_a_valid_event_is_stored_and_published_once(
    ingest: str, infra: Infra, db: asyncpg.Connection
) -> None:
    event = paid_invoice_event(agency_id="agency-valid")
    response = await post_event(f"{ingest}/stripe/webhooks", event)
    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    assert await stored_rows(db, event["id"]) == 1

    async def arrived() -> bool:
        return bool(await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"]))

    await eventually(arrived, within=30)
    [contract] = await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"])
    assert contract["type"] == "invoice.paid"
    assert contract["agency_id"] == "agency-valid"
    assert contract["payload"]["invoice_id"] == event["data"]["object"]["id"]


async def test_the_same_event_five_times_at_once_is_one_row_and_one_message(
    ingest: str, infra: Infra, db: asyncpg.Connection
) -> None:
    event = paid_invoice_event()
    responses = await asyncio.gather(
        *(post_event(f"{ingest}/stripe/webhooks", event) for _ in range(5))
    )
    assert [r.status_code for r in responses] == [200] * 5
    assert sorted(r.json()["duplicate"] for r in responses) == [False, True, True, True, True]
    assert await stored_rows(db, event["id"]) == 1

    await after_a_marker(
        f"{ingest}/stripe/webhooks", event, infra.kafka_bootstrap, STRIPE_INVOICES.name
    )
    assert len(await published(infra.kafka_bootstrap, STRIPE_INVOICES.name, event["id"])) == 1


async def test_old_and_new_secrets_are_both_accepted_during_rotation(
    stack: Stack, services: dict[str, str], db: asyncpg.Connection, tmp_path: Path
) -> None:
    port = free_port()
    env = stack.service_env(
        {
            "STRIPE_WEBHOOK_SECRETS": "whsec_old_one, whsec_new_one",
            "STRIPE_CONNECT_WEBHOOK_SECRETS": "whsec_connect_old,whsec_connect_new",
            "WEBHOOK_INGEST_PORT": str(port),
        }
    )
    process = await asyncio.to_thread(
        devstack_services.start_service, "webhook-ingest", env, tmp_path, run_migrations=False
    )
    try:
        url = f"http://127.0.0.1:{port}"
        accepted = []
        for path, secret in [
            ("/stripe/webhooks", "whsec_old_one"),
            ("/stripe/webhooks", "whsec_new_one"),
            ("/stripe/webhooks/connect", "whsec_connect_old"),
            ("/stripe/webhooks/connect", "whsec_connect_new"),
        ]:
            event = paid_invoice_event(account="acct_rot" if "connect" in path else None)
            response = await post_event(f"{url}{path}", event, secret)
            assert response.status_code == 200, (path, secret, response.text)
            accepted.append(event["id"])
        assert await stored_rows(db, *accepted) == 4
        refused = await post_event(
            f"{url}/stripe/webhooks", paid_invoice_event(), "whsec_connect_new"
        )
        assert refused.status_code == 400
    finally:
        await asyncio.to_thread(process.stop)


async def test_an_event_the_emulator_emits_arrives_normalized(
    stack: Stack, ingest: str, infra: Infra, db: asyncpg.Connection
) -> None:
    api = infra.stripe_api_base
    assert api is not None
    await ensure_endpoints(stack, api, ingest)
    agency_id = new_agency_id()
    async with httpx.AsyncClient(timeout=30) as client:
        account = await client.post(
            f"{api}/v1/accounts",
            data={"type": "express", "metadata[agency_id]": agency_id},
            headers={"Authorization": "Bearer sk_test_emulator"},
        )
        account_id = account.json()["id"]
        done = await client.post(f"{api}/_emulator/accounts/{account_id}/complete_onboarding")
        assert done.status_code == 200, done.text

    async def stored() -> bool:
        found = await db.fetchval(
            "SELECT id FROM webhook_ingest.stripe_events "
            "WHERE type = 'account.updated' AND account = $1 AND endpoint = 'connect'",
            account_id,
        )
        return found is not None

    await eventually(stored, within=30)
    replica = await db.fetchval(
        "SELECT agency_id FROM webhook_ingest.account_agencies WHERE stripe_account_id = $1",
        account_id,
    )
    assert replica == agency_id

    async def enabled() -> bool:
        records = await read_topic(infra.kafka_bootstrap, ACCOUNTS.name)
        return any(
            r.key == account_id.encode() and json.loads(r.value)["payload"]["charges_enabled"]
            for r in records
        )

    await eventually(enabled, within=30)
    records = await read_topic(infra.kafka_bootstrap, ACCOUNTS.name)
    mine = [json.loads(r.value) for r in records if r.key == account_id.encode()]
    assert all(m["agency_id"] == agency_id for m in mine)


# --- outage and replay ----------------------------------------------------------------------


async def test_a_stopped_database_answers_503_and_the_retry_is_accepted(
    infra: Infra, db: asyncpg.Connection
) -> None:
    event = paid_invoice_event()
    body = body_of(event)
    down = WebhookIngestSettings(
        database_url=f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/gone",
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        stripe_api_base=infra.stripe_api_base,
        webhook_secrets=PLATFORM_SECRET,
        connect_webhook_secrets=CONNECT_SECRET,
    )
    up = down.model_copy(update={"database_url": infra.database_url})
    for settings, expected in [(down, 503), (up, 200)]:
        app = create_app(settings)  # in process, without the lifespan: no broker, no relay
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
            response = await client.post(
                "/stripe/webhooks", content=body, headers=signed(body, PLATFORM_SECRET)
            )
        await app.state.receiver.store.close()
        await app.state.runtime.engine.dispose()
        assert response.status_code == expected, response.text
        if expected == 503:
            assert response.json()["error"]["code"] == "unavailable"
            assert await stored_rows(db, event["id"]) == 0
    assert await stored_rows(db, event["id"]) == 1


async def test_replay_restores_exactly_what_was_lost(
    stack: Stack, ingest: str, infra: Infra, db: asyncpg.Connection, tokens: Tokens
) -> None:
    api = infra.stripe_api_base
    assert api is not None
    await ensure_endpoints(stack, api, ingest)
    auth = {"Authorization": "Bearer sk_test_emulator"}
    async with httpx.AsyncClient(timeout=30) as client:
        marker = uuid.uuid4().hex
        customers = [
            (
                await client.post(
                    f"{api}/v1/customers",
                    data={"email": f"{marker}-{n}@example.com", "metadata[marker]": marker},
                    headers=auth,
                )
            ).json()["id"]
            for n in range(3)
        ]
        events = (
            await client.get(
                f"{api}/v1/events", params={"type": "customer.created", "limit": 100}, headers=auth
            )
        ).json()["data"]
    mine = {e["id"]: e for e in events if e["data"]["object"]["id"] in customers}
    assert len(mine) == 3

    async def all_stored() -> bool:
        return await stored_rows(db, *mine) == 3

    await eventually(all_stored, within=30)
    lost = sorted(mine)[:2]
    before = await db.fetch(
        "SELECT id, type, account, created, endpoint, payload->'data' AS data "
        "FROM webhook_ingest.stripe_events WHERE id = ANY($1::text[]) ORDER BY id",
        lost,
    )
    await db.execute("DELETE FROM webhook_ingest.stripe_events WHERE id = ANY($1::text[])", lost)
    created = [e["created"] for e in mine.values()]
    window = {"from": min(created), "to": max(created)}
    async with httpx.AsyncClient(timeout=120) as client:
        first = await client.post(
            f"{ingest}/v1/replay", json=window, headers=tokens.headers("platform_operator")
        )
        again = await client.post(
            f"{ingest}/v1/replay", json=window, headers=tokens.headers("platform_operator")
        )
        forbidden = await client.post(
            f"{ingest}/v1/replay", json=window, headers=tokens.headers("owner", new_agency_id())
        )
    assert first.status_code == 200, first.text
    assert first.json()["ingested"] >= 2
    assert first.json()["scanned"] == first.json()["ingested"] + first.json()["duplicates"]
    assert again.json()["ingested"] == 0
    assert again.json()["scanned"] >= first.json()["scanned"]
    assert forbidden.status_code == 403
    after = await db.fetch(
        "SELECT id, type, account, created, endpoint, payload->'data' AS data "
        "FROM webhook_ingest.stripe_events WHERE id = ANY($1::text[]) ORDER BY id",
        lost,
    )
    assert [dict(r) for r in after] == [dict(r) for r in before]
    assert await stored_rows(db, *mine) == 3


async def test_catalog_agency_events_fill_the_account_replica(
    services: dict[str, str], tokens: Tokens, db: asyncpg.Connection
) -> None:
    agency_id = new_agency_id()
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            f"{services['catalog']}/v1/connect/onboarding",
            json={"return_url": "https://example.com/r", "refresh_url": "https://example.com/f"},
            headers=tokens.headers("owner", agency_id),
        )
    assert response.status_code == 200, response.text
    account_id = response.json()["account_id"]

    async def replicated() -> bool:
        found = await db.fetchval(
            "SELECT agency_id FROM webhook_ingest.account_agencies WHERE stripe_account_id = $1",
            account_id,
        )
        return bool(found == agency_id)

    await eventually(replicated, within=45)
