"""What catalog does with Stripe's signed ``account.updated`` webhooks (through webhook-ingest
and the broker): the billing gate follows Stripe, monotonically, whatever the delivery order."""

from __future__ import annotations

import asyncpg
import httpx
import pytest

from billing_devstack import Infra
from tests.catalog.accounts import send_account_updated, stripe_now, webhook_applied_by_catalog
from tests.support.agencies import Agency, start_onboarding, wait_for_status
from tests.support.tokens import Tokens

pytestmark = [pytest.mark.integration]


async def connect_status(catalog: httpx.AsyncClient, agency: Agency) -> dict[str, object]:
    status: dict[str, object] = (await catalog.get("/v1/connect", headers=agency.owner)).json()
    return status


async def test_stripe_s_own_webhook_opens_the_gate(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency = await start_onboarding(catalog, tokens)
    assert (await connect_status(catalog, agency))["status"] == "pending"
    done = await emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert done.status_code == 200, done.text
    await wait_for_status(catalog, agency, "enabled")
    status = await connect_status(catalog, agency)
    assert (status["charges_enabled"], status["details_submitted"]) == (True, True)


async def test_updates_of_one_second_out_of_order_leave_open_a_gate_stripe_has_open(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
    services: dict[str, str],
    infra: Infra,
    db: asyncpg.Connection,
) -> None:
    agency = await start_onboarding(catalog, tokens)
    done = await emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert done.status_code == 200, done.text
    await wait_for_status(catalog, agency, "enabled")
    ingest = services["webhook-ingest"]

    # Within one second Stripe sent "not yet" and then "enabled"; they arrive the other way.
    second = await stripe_now(emulator) + 60
    newest = await send_account_updated(ingest, agency, charges_enabled=True, created=second)
    await webhook_applied_by_catalog(infra, newest, db)
    oldest = await send_account_updated(ingest, agency, charges_enabled=False, created=second)
    await webhook_applied_by_catalog(infra, oldest, db)

    status = await connect_status(catalog, agency)
    assert (status["status"], status["charges_enabled"]) == ("enabled", True)


async def test_on_a_tie_stripe_s_current_state_wins_even_when_it_closes_the_gate(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
    services: dict[str, str],
    infra: Infra,
    db: asyncpg.Connection,
) -> None:
    agency = await start_onboarding(catalog, tokens)  # on Stripe: charges not enabled
    ingest = services["webhook-ingest"]
    second = await stripe_now(emulator) + 60
    opening = await send_account_updated(ingest, agency, charges_enabled=True, created=second)
    await webhook_applied_by_catalog(infra, opening, db)
    assert (await connect_status(catalog, agency))["status"] == "enabled"

    closing = await send_account_updated(ingest, agency, charges_enabled=False, created=second)
    await webhook_applied_by_catalog(infra, closing, db)
    status = await connect_status(catalog, agency)
    assert (status["status"], status["charges_enabled"]) == ("pending", False)


async def test_an_older_update_arriving_late_changes_nothing(
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
    services: dict[str, str],
    infra: Infra,
    db: asyncpg.Connection,
) -> None:
    agency = await start_onboarding(catalog, tokens)
    ingest = services["webhook-ingest"]
    second = await stripe_now(emulator) + 60
    opening = await send_account_updated(ingest, agency, charges_enabled=True, created=second)
    await webhook_applied_by_catalog(infra, opening, db)

    late = await send_account_updated(ingest, agency, charges_enabled=False, created=second - 1)
    await webhook_applied_by_catalog(infra, late, db)
    assert (await connect_status(catalog, agency))["status"] == "enabled"

    newer = await send_account_updated(ingest, agency, charges_enabled=False, created=second + 1)
    await webhook_applied_by_catalog(infra, newer, db)
    assert (await connect_status(catalog, agency))["status"] == "pending"
