"""catalog's rules in process: ``Catalog`` on a database of its own (so a test may make it
refuse a row) and the Stripe emulator, one transaction per call as the edges run it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
import stripe
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from billing_contracts.billing_accounts import StripeAccountSnapshot
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.runtime import Runtime
from catalog.errors import PriceImmutableError
from catalog.models import Agency, kit_tables
from catalog.schemas import ProductCreate, ProductPatch
from catalog.service import Catalog
from catalog.settings import CatalogSettings
from tests.helpers.agencies import account_snapshot
from tests.helpers.databases import migrated_database
from tests.helpers.products import unsaved_product
from tests.helpers.tokens import new_agency_id

pytestmark = [pytest.mark.integration]

REFUSED_NAME = "Refused by the database"


@pytest.fixture(scope="module")
async def runtime(infra: Infra) -> AsyncIterator[Runtime]:
    assert infra.stripe_api_base is not None
    settings = CatalogSettings(
        database_url=await migrated_database(infra.database_url, "catalog"),
        kafka_bootstrap_servers=infra.kafka_bootstrap,
        stripe_api_base=infra.stripe_api_base,
    )
    service_runtime = Runtime(settings, kit_tables)
    async with service_runtime.engine.begin() as conn:
        # A row the database refuses after Stripe has made the product and its price.
        await conn.execute(
            text(
                "CREATE FUNCTION catalog.refuse_product() RETURNS trigger LANGUAGE plpgsql AS $$"
                f" BEGIN IF NEW.name = '{REFUSED_NAME}' THEN RAISE EXCEPTION 'refused'; END IF;"
                " RETURN NEW; END $$"
            )
        )
        await conn.execute(
            text(
                "CREATE TRIGGER refuse_product BEFORE INSERT ON catalog.products"
                " FOR EACH ROW EXECUTE FUNCTION catalog.refuse_product()"
            )
        )
    yield service_runtime
    await service_runtime.engine.dispose()


@asynccontextmanager
async def transaction(runtime: Runtime) -> AsyncIterator[Catalog]:
    async with unit_of_work(runtime.sessions) as session:
        yield Catalog.build(runtime, session)


async def apply(runtime: Runtime, agency_id: str, snapshot: StripeAccountSnapshot) -> Agency:
    async with transaction(runtime) as catalog:
        await catalog.apply_account_update(agency_id, snapshot)
        agency = await catalog.connect_profile(agency_id)
    assert agency is not None
    return agency


async def new_account(runtime: Runtime) -> tuple[str, str]:
    """An agency whose Connect account exists on Stripe, onboarding not yet done."""
    agency_id = new_agency_id()
    async with transaction(runtime) as catalog:
        account_id, _, _ = await catalog.start_onboarding(
            agency_id, return_url="https://app.example/r", refresh_url="https://app.example/f"
        )
    return agency_id, account_id


async def onboarded(runtime: Runtime, emulator: httpx.AsyncClient) -> tuple[str, str]:
    agency_id, account_id = await new_account(runtime)
    done = await emulator.post(f"/_emulator/accounts/{account_id}/complete_onboarding")
    assert done.status_code == 200, done.text
    await apply(runtime, agency_id, account_snapshot(account_id, charges_enabled=True, created=1))
    return agency_id, account_id


@asynccontextmanager
async def failing_once(emulator: httpx.AsyncClient, method: str, path: str) -> AsyncIterator[None]:
    """The next Stripe call matching ``method path`` (a prefix) is refused with a 400."""
    fault = {"count": 1, "status": 400, "method": method, "path": path}
    armed = await emulator.post("/_emulator/faults", json={"fail_next": fault})
    assert armed.status_code == 200, armed.text
    try:
        yield
    finally:
        await emulator.delete("/_emulator/faults")


async def still_armed(emulator: httpx.AsyncClient) -> bool:
    return bool((await emulator.get("/_emulator/faults")).json()["fail_next"])


# --- the Connect gate ---------------------------------------------------------------------


async def test_an_older_update_is_ignored_and_a_newer_one_applied(runtime: Runtime) -> None:
    agency_id, account_id = await new_account(runtime)
    now = int(time.time())
    opened = await apply(
        runtime, agency_id, account_snapshot(account_id, charges_enabled=True, created=now)
    )
    assert (opened.charges_enabled, opened.account_seen_at) == (True, now)
    older = account_snapshot(account_id, charges_enabled=False, created=now - 1)
    assert (await apply(runtime, agency_id, older)).charges_enabled is True
    newer = account_snapshot(account_id, charges_enabled=False, created=now + 1)
    closed = await apply(runtime, agency_id, newer)
    assert (closed.charges_enabled, closed.account_seen_at) == (False, now + 1)


async def test_a_tie_that_disagrees_is_settled_by_stripe_in_either_direction(
    runtime: Runtime, emulator: httpx.AsyncClient
) -> None:
    open_on_stripe, open_account = await onboarded(runtime, emulator)
    tie = account_snapshot(open_account, charges_enabled=False, created=1)
    assert (await apply(runtime, open_on_stripe, tie)).charges_enabled is True

    closed_on_stripe, closed_account = await new_account(runtime)
    for charges_enabled in (True, False, True):
        tie = account_snapshot(closed_account, charges_enabled=charges_enabled, created=7)
        agency = await apply(runtime, closed_on_stripe, tie)
    assert (agency.charges_enabled, agency.account_seen_at) == (False, 7)


async def test_a_tie_that_agrees_does_not_ask_stripe(
    runtime: Runtime, emulator: httpx.AsyncClient
) -> None:
    agency_id, account_id = await onboarded(runtime, emulator)
    async with failing_once(emulator, "GET", f"/v1/accounts/{account_id}"):
        same = account_snapshot(account_id, charges_enabled=True, created=1)
        assert (await apply(runtime, agency_id, same)).charges_enabled is True
        assert await still_armed(emulator), "Stripe was asked"


# --- products -----------------------------------------------------------------------------


async def test_a_row_the_database_refuses_leaves_nothing_active_on_stripe(
    runtime: Runtime, emulator: httpx.AsyncClient, stripe_sdk: stripe.StripeClient
) -> None:
    agency_id, account_id = await onboarded(runtime, emulator)
    command = ProductCreate(name=REFUSED_NAME, cadence="monthly", amount_cents=9_900)
    # Archiving what Stripe made is retried past a refusal too.
    async with failing_once(emulator, "POST", "/v1/products/prod_"):
        with pytest.raises(DBAPIError):
            async with transaction(runtime) as catalog:
                await catalog.create_product(agency_id, command)
        assert not await still_armed(emulator)

    options: stripe.RequestOptions = {"stripe_account": account_id}
    products = await stripe_sdk.v1.products.list_async(params={"limit": 100}, options=options)
    prices = await stripe_sdk.v1.prices.list_async(params={"limit": 100}, options=options)
    assert [(p.name, p.active) for p in products.data] == [(REFUSED_NAME, False)]
    assert [(p.unit_amount, p.active) for p in prices.data] == [(9_900, False)]
    async with transaction(runtime) as catalog:
        assert await catalog.list_products(agency_id, None) == []


@pytest.mark.parametrize(
    "change",
    [{"amount_cents": 10}, {"amount_cents": 250_000}, {"cadence": None}, {"currency": "usd"}],
)
async def test_any_price_field_is_refused_whatever_its_value(
    runtime: Runtime, change: dict[str, object]
) -> None:
    agency_id = new_agency_id()
    product = unsaved_product(agency_id)
    async with transaction(runtime) as catalog:
        await catalog.record_product(product)
    with pytest.raises(PriceImmutableError):
        async with transaction(runtime) as catalog:
            await catalog.update_product(
                agency_id, product.id, ProductPatch.model_validate({"name": "New", **change})
            )
    async with transaction(runtime) as catalog:
        kept = await catalog.get_product(agency_id, product.id)
    assert (kept.name, kept.revision) == (product.name, 1)


# --- suspension ---------------------------------------------------------------------------


async def test_a_repeated_suspension_is_announced_once(runtime: Runtime) -> None:
    agency_id = new_agency_id()
    for _ in range(2):
        async with transaction(runtime) as catalog:
            agency = await catalog.set_suspension(agency_id, True, "unpaid")
    assert (agency.suspended, agency.suspension_reason) == (True, "unpaid")
    async with transaction(runtime) as catalog:
        await catalog.set_suspension(agency_id, True, "chargebacks")  # a new reason is news
        await catalog.set_suspension(agency_id, False, None)
    outbox = kit_tables.outbox
    async with runtime.sessions() as session:
        query = select(outbox.c.event_type).where(outbox.c.key == agency_id).order_by(outbox.c.id)
        announced = (await session.execute(query)).scalars().all()
    assert announced == ["agency.suspended", "agency.suspended", "agency.unsuspended"]
