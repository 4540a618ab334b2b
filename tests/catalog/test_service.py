"""catalog's rules in process: ``Catalog`` on a database of its own (so a test may make it
refuse a row) and the Stripe emulator, one transaction per call as the edges run it; and the
same service on in-memory fakes of its ports (``tests/helpers/catalog/fakes.py``), each of
those tests marked ``unit`` for the fast tier."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from billing_contracts import Payload
from billing_contracts.billing_accounts import StripeAccountSnapshot
from billing_contracts.catalog_agencies import AgencyBillingProfile, ConnectStatus
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.errors import ConnectRequiredError, NotFoundError, StripeFailedError
from billing_kit.pending_commands import command_id_of
from billing_kit.runtime import Runtime
from catalog.errors import PriceImmutableError
from catalog.models import Agency, Product, kit_tables
from catalog.schemas import ProductCreate, ProductPatch
from catalog.service import Catalog
from catalog.settings import CatalogSettings
from tests.helpers.agencies import account_snapshot
from tests.helpers.catalog.fakes import NOT_ONBOARDED, CatalogFakes
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


# --- in memory: the rules through the service layer, on fakes of its ports ----------------

AGENCY = "agency-fake"
LINKS = {"return_url": "https://app.example/r", "refresh_url": "https://app.example/f"}
RETAINER = ProductCreate(name="Automation retainer", cadence="monthly", amount_cents=250_000)


def profile(
    fakes: CatalogFakes, status: ConnectStatus, *, agency_id: str = AGENCY
) -> AgencyBillingProfile:
    """The billing profile an agency event carries with ``status`` (the rest as stored)."""
    agency = fakes.repository.agencies[agency_id]
    return AgencyBillingProfile(
        agency_id=agency_id,
        stripe_account_id=agency.stripe_account_id,
        connect_status=status,
        charges_enabled=status == "enabled",
        suspended=agency.suspended,
        suspension_reason=agency.suspension_reason,
    )


def payloads(fakes: CatalogFakes) -> list[Payload]:
    return [published.event.payload for published in fakes.outbox.published]


async def product_of(fakes: CatalogFakes, agency_id: str = AGENCY) -> Product:
    """A product made through the service for an onboarded agency, its outbox emptied."""
    if agency_id not in fakes.repository.agencies:
        fakes.onboarded(agency_id)
    product = await fakes.catalog().create_product(agency_id, RETAINER)
    fakes.outbox.published.clear()
    fakes.stripe.calls.clear()
    return product


def snapshot_of(fakes: CatalogFakes) -> dict[str, Any]:
    [published] = fakes.outbox.published
    return published.event.payload.model_dump()


# Connect onboarding


@pytest.mark.unit
async def test_first_onboarding_makes_the_account_and_announces_it_pending() -> None:
    fakes = CatalogFakes()
    assert await fakes.catalog().connect_profile(AGENCY) is None
    account_id, url, expires_at = await fakes.catalog().start_onboarding(AGENCY, **LINKS)

    assert fakes.stripe.accounts == {f"catalog:account:{AGENCY}": account_id}
    assert (url, expires_at) == (f"https://connect.stripe.test/setup/{account_id}/1", 1_900_000_000)
    agency = await fakes.catalog().connect_profile(AGENCY)
    assert agency is not None
    assert agency.stripe_account_id == account_id
    assert fakes.published() == [("catalog.agencies.v1", "agency.connect_status_changed", AGENCY)]
    assert payloads(fakes) == [profile(fakes, "pending")]
    record = fakes.commands.records[command_id_of("account", AGENCY)]
    assert (record.kind, record.status, record.result) == (
        "create_account",
        "done",
        {"stripe_account_id": account_id},
    )


@pytest.mark.unit
async def test_onboarding_again_keeps_the_account_with_a_fresh_link() -> None:
    fakes = CatalogFakes()
    first, first_url, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    again, again_url, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    assert again == first
    assert again_url != first_url
    assert fakes.stripe.calls == ["create_account", "onboarding_link", "onboarding_link"]
    assert len(fakes.outbox.published) == 1


@pytest.mark.unit
async def test_an_account_stripe_refuses_fails_its_record_and_a_retry_makes_it() -> None:
    fakes = CatalogFakes()
    fakes.stripe.failing.add("create_account")
    with pytest.raises(StripeFailedError):
        await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    assert fakes.commands.status(command_id_of("account", AGENCY)) == "failed"
    assert fakes.repository.agencies[AGENCY].stripe_account_id is None
    assert fakes.outbox.published == []

    fakes.stripe.failing.clear()
    account_id, _, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    assert fakes.repository.agencies[AGENCY].stripe_account_id == account_id
    assert fakes.commands.status(command_id_of("account", AGENCY)) == "done"


@pytest.mark.unit
async def test_onboarding_an_account_stripe_no_longer_knows_replaces_it() -> None:
    fakes = CatalogFakes()
    gone, _, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    fakes.stripe.unknown_accounts.add(gone)
    fakes.outbox.published.clear()

    account_id, _, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    assert account_id != gone
    assert fakes.stripe.accounts[f"catalog:account:{AGENCY}:after:{gone}"] == account_id
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.stripe_account_id, agency.disconnected_account_id) == (account_id, gone)
    statuses = [p.model_dump()["connect_status"] for p in payloads(fakes)]
    assert statuses == ["disconnected", "pending"]
    record = fakes.commands.records[command_id_of("account", AGENCY, gone)]
    assert (record.request, record.status) == ({"replaces": gone}, "done")


@pytest.mark.unit
async def test_a_deauthorized_account_is_disconnected_once() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_revoked")
    for _ in range(2):
        await fakes.catalog().apply_deauthorization("acct_revoked")
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.stripe_account_id, agency.disconnected_account_id) == (None, "acct_revoked")
    assert (agency.charges_enabled, agency.payouts_enabled, agency.details_submitted) == (
        False,
        False,
        False,
    )
    assert payloads(fakes) == [profile(fakes, "disconnected")]
    await fakes.catalog().apply_deauthorization("acct_not_ours")
    assert len(fakes.outbox.published) == 1


# Account updates


@pytest.mark.unit
async def test_an_update_that_opens_charges_announces_enabled_once() -> None:
    fakes = CatalogFakes()
    account_id, _, _ = await fakes.catalog().start_onboarding(AGENCY, **LINKS)
    fakes.outbox.published.clear()
    opened = account_snapshot(account_id, charges_enabled=True, created=5)
    for _ in range(2):  # the same event again, or another of the same second that agrees
        await fakes.catalog().apply_account_update(AGENCY, opened)
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.charges_enabled, agency.account_seen_at) == (True, 5)
    assert payloads(fakes) == [profile(fakes, "enabled")]
    assert "account_state" not in fakes.stripe.calls


@pytest.mark.unit
async def test_an_older_update_is_ignored_and_a_newer_one_closes_the_gate() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_1")
    older = account_snapshot("acct_1", charges_enabled=False, created=0)
    await fakes.catalog().apply_account_update(AGENCY, older)
    assert fakes.repository.agencies[AGENCY].charges_enabled is True
    assert fakes.outbox.published == []

    newer = account_snapshot("acct_1", charges_enabled=False, created=2)
    await fakes.catalog().apply_account_update(None, newer)
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.charges_enabled, agency.account_seen_at) == (False, 2)
    assert payloads(fakes) == [profile(fakes, "pending")]


@pytest.mark.unit
async def test_a_tie_that_disagrees_is_settled_by_what_stripe_says_now() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_1")  # seen at 1, open
    tie = account_snapshot("acct_1", charges_enabled=False, created=1)
    await fakes.catalog().apply_account_update(AGENCY, tie)
    assert fakes.repository.agencies[AGENCY].charges_enabled is True
    assert fakes.stripe.calls == ["account_state"]
    assert fakes.outbox.published == []

    fakes.stripe.account_states["acct_1"] = NOT_ONBOARDED
    await fakes.catalog().apply_account_update(AGENCY, tie)
    assert fakes.repository.agencies[AGENCY].details_submitted is False  # Stripe's, not the event's
    assert payloads(fakes) == [profile(fakes, "pending")]


@pytest.mark.unit
async def test_an_update_of_an_account_not_on_a_profile_yet_puts_it_there() -> None:
    fakes = CatalogFakes()
    await fakes.catalog().apply_account_update(
        AGENCY, account_snapshot("acct_early", charges_enabled=True, created=3)
    )
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.stripe_account_id, agency.charges_enabled) == ("acct_early", True)
    assert payloads(fakes) == [profile(fakes, "enabled")]


@pytest.mark.unit
@pytest.mark.parametrize(
    ("agency_id", "account_id"),
    [
        (None, "acct_unknown"),  # not one of ours
        (AGENCY, "acct_stale"),  # the agency has another account now
    ],
)
async def test_an_update_of_an_account_that_is_not_the_agency_s_changes_nothing(
    agency_id: str | None, account_id: str
) -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_current")
    snapshot = account_snapshot(account_id, charges_enabled=False, created=9)
    await fakes.catalog().apply_account_update(agency_id, snapshot)
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.stripe_account_id, agency.charges_enabled) == ("acct_current", True)
    assert list(fakes.repository.agencies) == [AGENCY]
    assert (fakes.repository.flushes, fakes.outbox.published) == (0, [])


@pytest.mark.unit
async def test_an_update_of_the_account_stripe_no_longer_knows_does_not_reconnect_it() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_revoked")
    await fakes.catalog().apply_deauthorization("acct_revoked")
    fakes.outbox.published.clear()
    late = account_snapshot("acct_revoked", charges_enabled=True, created=9)
    await fakes.catalog().apply_account_update(AGENCY, late)
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.stripe_account_id, agency.charges_enabled) == (None, False)
    assert fakes.outbox.published == []


@pytest.mark.unit
async def test_an_update_that_keeps_the_status_is_stored_unannounced() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_1")
    snapshot = account_snapshot("acct_1", charges_enabled=True, created=4)
    await fakes.catalog().apply_account_update(
        AGENCY, snapshot.model_copy(update={"payouts_enabled": False})
    )
    agency = fakes.repository.agencies[AGENCY]
    assert (agency.payouts_enabled, agency.account_seen_at) == (False, 4)
    assert fakes.repository.flushes == 1
    assert fakes.outbox.published == []


# Suspension


@pytest.mark.unit
async def test_suspension_is_announced_when_it_or_its_reason_changes() -> None:
    fakes = CatalogFakes()
    for suspended, reason in [
        (True, "unpaid"),
        (True, "unpaid"),
        (True, "chargebacks"),
        (False, "ignored"),
        (False, None),
    ]:
        agency = await fakes.catalog().set_suspension(AGENCY, suspended, reason)
    assert (agency.suspended, agency.suspension_reason) == (False, None)
    assert [(p.event_type, p.key) for p in fakes.outbox.published] == [
        ("agency.suspended", AGENCY),
        ("agency.suspended", AGENCY),
        ("agency.unsuspended", AGENCY),
    ]
    assert {p.topic for p in fakes.outbox.published} == {"catalog.agencies.v1"}
    reasons = [p.model_dump()["suspension_reason"] for p in payloads(fakes)]
    assert reasons == ["unpaid", "chargebacks", None]


# Products


@pytest.mark.unit
@pytest.mark.parametrize("agency_state", ["no profile", "no account", "charges not enabled"])
async def test_a_product_needs_an_agency_that_can_take_charges(agency_state: str) -> None:
    fakes = CatalogFakes()
    if agency_state == "no account":
        await fakes.repository.ensure_agency(AGENCY)
    elif agency_state == "charges not enabled":
        fakes.onboarded(AGENCY).charges_enabled = False
    with pytest.raises(ConnectRequiredError):
        await fakes.catalog().create_product(AGENCY, RETAINER)
    assert (fakes.stripe.calls, fakes.commands.records, fakes.outbox.published) == ([], {}, [])


@pytest.mark.unit
async def test_a_new_product_is_made_on_stripe_stored_and_announced() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_1")
    command = RETAINER.model_copy(update={"description": "Monthly hours"})
    product = await fakes.catalog().create_product(AGENCY, command)

    made = fakes.stripe.products[product.id]
    assert (made.account_id, made.name, made.amount_cents, made.cadence) == (
        "acct_1",
        "Automation retainer",
        250_000,
        "monthly",
    )
    assert (product.stripe_product_id, product.stripe_price_id) == (
        made.stripe_product_id,
        made.stripe_price_id,
    )
    assert (product.status, product.revision, product.description) == ("active", 1, "Monthly hours")
    assert await fakes.catalog().get_product(AGENCY, product.id) is product
    assert fakes.published() == [("catalog.products.v1", "product.created", product.id)]
    assert snapshot_of(fakes) | {"created_at": None} == {
        "product_id": product.id,
        "name": "Automation retainer",
        "description": "Monthly hours",
        "cadence": "monthly",
        "amount_cents": 250_000,
        "currency": "usd",
        "status": "active",
        "stripe_account_id": "acct_1",
        "stripe_product_id": made.stripe_product_id,
        "stripe_price_id": made.stripe_price_id,
        "created_at": None,
        "revision": 1,
    }
    record = fakes.commands.records[product.id]
    assert (record.status, record.request["account_id"], record.result) == (
        "done",
        "acct_1",
        {"stripe_product_id": made.stripe_product_id, "stripe_price_id": made.stripe_price_id},
    )


@pytest.mark.unit
async def test_the_same_idempotency_key_returns_the_product_already_made() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY)
    fakes.commands.idempotency_key = "key-1"
    first = await fakes.catalog().create_product(AGENCY, RETAINER)
    again = await fakes.catalog().create_product(AGENCY, RETAINER)
    assert again is first
    assert fakes.stripe.calls == ["create_product_with_price"]
    assert len(fakes.outbox.published) == 1
    assert list(fakes.repository.rows) == [first.id]


@pytest.mark.unit
async def test_a_product_stripe_refuses_is_withdrawn_and_its_record_failed() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY)
    fakes.stripe.failing.add("create_product_with_price")
    with pytest.raises(StripeFailedError):
        await fakes.catalog().create_product(AGENCY, RETAINER)
    [record] = fakes.commands.records.values()
    assert record.status == "failed"
    assert fakes.stripe.calls == ["create_product_with_price", "withdraw_product"]
    assert (fakes.repository.rows, fakes.outbox.published) == ({}, [])


@pytest.mark.unit
@pytest.mark.parametrize(
    ("stripe_away", "left_active", "record_status"),
    [(False, False, "failed"), (True, True, "undoing")],
    ids=["withdrawn", "Stripe away for the undo"],
)
async def test_a_product_row_the_database_refuses_is_withdrawn_from_stripe(
    stripe_away: bool, left_active: bool, record_status: str
) -> None:
    """What Stripe made is archived and the record failed; when Stripe cannot be reached for
    that, the record is left undoing for the sweeper. The error is the command's own."""
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY)
    fakes.repository.refused_names.add(RETAINER.name)
    if stripe_away:
        fakes.stripe.failing.add("withdraw_product")
    with pytest.raises(IntegrityError):
        await fakes.catalog().create_product(AGENCY, RETAINER)
    [made] = fakes.stripe.products.values()
    assert (made.active, made.price_active) == (left_active, left_active)
    assert fakes.commands.status(made.product_id) == record_status
    assert (fakes.repository.rows, fakes.outbox.published) == ({}, [])


@pytest.mark.unit
async def test_products_are_listed_newest_first_by_status_and_agency() -> None:
    fakes = CatalogFakes()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    old, new, archived, other = (
        unsaved_product(AGENCY, created_at=start),
        unsaved_product(AGENCY, created_at=start + timedelta(days=1)),
        unsaved_product(AGENCY, created_at=start + timedelta(days=2), status="archived"),
        unsaved_product("agency-other", created_at=start + timedelta(days=3)),
    )
    fakes.repository.rows.update((p.id, p) for p in (old, new, archived, other))
    catalog = fakes.catalog()
    assert await catalog.list_products(AGENCY, "active") == [new, old]
    assert await catalog.list_products(AGENCY, "archived") == [archived]
    assert await catalog.list_products(AGENCY, None) == [archived, new, old]


@pytest.mark.unit
@pytest.mark.parametrize("operation", ["get", "update", "archive"])
async def test_another_agency_s_or_an_unknown_product_is_not_found(operation: str) -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes, "agency-other")
    catalog = fakes.catalog()
    calls = {
        "get": lambda product_id: catalog.get_product(AGENCY, product_id),
        "update": lambda product_id: catalog.update_product(
            AGENCY, product_id, ProductPatch(name="Mine")
        ),
        "archive": lambda product_id: catalog.archive_product(AGENCY, product_id),
    }
    for product_id in (product.id, "unknown"):
        with pytest.raises(NotFoundError):
            await calls[operation](product_id)
    assert (fakes.stripe.calls, fakes.outbox.published) == ([], [])
    assert (product.name, product.status, product.revision) == ("Automation retainer", "active", 1)


@pytest.mark.unit
async def test_a_rename_goes_to_stripe_and_is_announced_as_a_new_revision() -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    patch = ProductPatch(name="Growth retainer", description="Ten hours")
    renamed = await fakes.catalog().update_product(AGENCY, product.id, patch)

    made = fakes.stripe.products[product.id]
    assert (made.name, made.description) == ("Growth retainer", "Ten hours")
    assert (renamed.name, renamed.description, renamed.revision) == (
        "Growth retainer",
        "Ten hours",
        2,
    )
    assert fakes.published() == [("catalog.products.v1", "product.updated", product.id)]
    announced = snapshot_of(fakes)
    assert (announced["name"], announced["description"], announced["revision"]) == (
        "Growth retainer",
        "Ten hours",
        2,
    )


@pytest.mark.unit
@pytest.mark.parametrize("nothing", [None, ""])
async def test_a_description_set_to_nothing_is_cleared(nothing: str | None) -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    product.description = "Old words"
    cleared = await fakes.catalog().update_product(
        AGENCY, product.id, ProductPatch(description=nothing)
    )
    assert (cleared.name, cleared.description) == ("Automation retainer", None)
    assert snapshot_of(fakes)["description"] is None


@pytest.mark.unit
@pytest.mark.parametrize(
    "patch", [{}, {"name": "Automation retainer"}, {"description": None}], ids=str
)
async def test_an_update_that_changes_nothing_asks_stripe_nothing(patch: dict[str, Any]) -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    kept = await fakes.catalog().update_product(
        AGENCY, product.id, ProductPatch.model_validate(patch)
    )
    assert kept.revision == 1
    assert (fakes.stripe.calls, fakes.outbox.published) == ([], [])


@pytest.mark.unit
@pytest.mark.parametrize("change", [{"amount_cents": 10}, {"cadence": None}, {"currency": "usd"}])
async def test_a_price_field_is_refused_before_stripe_is_asked(change: dict[str, Any]) -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    with pytest.raises(PriceImmutableError):
        await fakes.catalog().update_product(
            AGENCY, product.id, ProductPatch.model_validate({"name": "New", **change})
        )
    assert (product.name, product.revision) == ("Automation retainer", 1)
    assert (fakes.stripe.calls, fakes.outbox.published) == ([], [])


@pytest.mark.unit
async def test_archiving_deactivates_the_price_and_product_once() -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    for _ in range(2):
        archived = await fakes.catalog().archive_product(AGENCY, product.id)
    made = fakes.stripe.products[product.id]
    assert (made.active, made.price_active) == (False, False)
    assert (archived.status, archived.revision) == ("archived", 2)
    assert fakes.stripe.calls == ["archive"]
    assert fakes.published() == [("catalog.products.v1", "product.archived", product.id)]
    assert (snapshot_of(fakes)["status"], snapshot_of(fakes)["revision"]) == ("archived", 2)


@pytest.mark.unit
@pytest.mark.parametrize("refused", ["rename_product", "archive"])
async def test_a_change_stripe_refuses_changes_nothing(refused: str) -> None:
    fakes = CatalogFakes()
    product = await product_of(fakes)
    fakes.stripe.failing.add(refused)
    catalog = fakes.catalog()
    change = (
        catalog.archive_product(AGENCY, product.id)
        if refused == "archive"
        else catalog.update_product(AGENCY, product.id, ProductPatch(name="New"))
    )
    with pytest.raises(StripeFailedError):
        await change
    assert (product.name, product.status, product.revision) == ("Automation retainer", "active", 1)
    made = fakes.stripe.products[product.id]
    assert (made.name, made.active) == ("Automation retainer", True)
    assert fakes.outbox.published == []
