"""A new product or connected account leaves nothing half-made on Stripe: the same
``Idempotency-Key`` after a crash between Stripe's answer and the commit ends in the one
Stripe product and price, and the sweeper finishes a product or an account a crash left
pending. The sweeper's handlers of each kind are also run in memory, on fakes of the
service's ports (those tests are marked ``unit``)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.catalog_agencies import AgencyBillingProfile
from billing_devstack import Infra
from billing_kit.pending_commands import PendingCommand, command_id_of
from catalog.models import kit_tables
from catalog.schemas import ProductCreate
from catalog.service import CREATE_ACCOUNT, CREATE_PRODUCT, Catalog
from catalog.service.commands import CatalogSweeps, sweeper
from catalog.settings import CatalogSettings
from tests.helpers.agencies import Agency
from tests.helpers.catalog.fakes import CatalogFakes, StripeProduct
from tests.helpers.catalog.requests import RETAINER
from tests.helpers.crashes import (
    Request,
    crash_before_commit,
    crashing_key,
    pending_commands_of,
    posting,
    retried_after_crash,
    sweep_once,
)
from tests.helpers.tokens import Tokens, new_agency_id

pytestmark = [pytest.mark.integration]


def _create(catalog: httpx.AsyncClient, agency: Agency) -> Request:
    return posting(catalog, "/v1/products", RETAINER, agency.admin)


async def _on_stripe(sdk: stripe.StripeClient, agency: Agency) -> list[tuple[Any, ...]]:
    """Each active product on the agency's account with its active prices."""
    options: Any = {"stripe_account": agency.account_id}
    products = await sdk.v1.products.list_async(params={"limit": 100}, options=options)
    made = []
    for product in products.data:
        prices = await sdk.v1.prices.list_async(
            params={"product": product.id, "limit": 100}, options=options
        )
        active = tuple(p.id for p in prices.data if p.active)
        made.append((product.id, product.active, active))
    return made


async def test_the_same_key_after_a_crash_before_the_commit_makes_one_product(
    agency: Agency, infra: Infra, catalog: httpx.AsyncClient, stripe_sdk: stripe.StripeClient
) -> None:
    retried = await retried_after_crash(infra.database_url, "catalog", _create(catalog, agency))
    assert retried.status_code == 201, retried.text
    product = retried.json()
    assert await _on_stripe(stripe_sdk, agency) == [
        (product["stripe_product_id"], True, (product["stripe_price_id"],))
    ]
    listed = await catalog.get("/v1/products", headers=agency.admin)
    assert [p["id"] for p in listed.json()["data"]] == [product["id"]]


async def _products_made(infra: Infra, agency: Agency) -> list[dict[str, object]]:
    records = await pending_commands_of(infra.database_url, "catalog", agency.agency_id)
    return [r for r in records if r["kind"] == "create_product"]


async def test_the_sweeper_finishes_a_product_a_crash_left_pending(
    agency: Agency, infra: Infra, catalog: httpx.AsyncClient, stripe_sdk: stripe.StripeClient
) -> None:
    create = _create(catalog, agency)
    key = await crash_before_commit(infra.database_url, "catalog", create)
    [left] = await _products_made(infra, agency)
    assert left["status"] == "pending"

    assert await sweep_once(CatalogSettings, kit_tables, sweeper, infra) >= 1
    [done] = await _products_made(infra, agency)
    assert done["status"] == "done"

    listed = (await catalog.get("/v1/products", headers=agency.admin)).json()["data"]
    assert [p["id"] for p in listed] == [left["id"]]
    assert await _on_stripe(stripe_sdk, agency) == [
        (listed[0]["stripe_product_id"], True, (listed[0]["stripe_price_id"],))
    ]
    retried = await create(key)  # the caller's retry: the one product
    assert (retried.status_code, retried.json()["id"]) == (201, left["id"])
    assert len(await _on_stripe(stripe_sdk, agency)) == 1


def _onboard(catalog: httpx.AsyncClient, owner: dict[str, str]) -> Request:
    links = {"return_url": "https://app.example/return", "refresh_url": "https://app.example/r"}
    return posting(catalog, "/v1/connect/onboarding", links, owner)


def _accounts_of(sdk: stripe.StripeClient, agency_id: str) -> list[str]:
    listed = sdk.v1.accounts.list(params={"limit": 100})
    return [
        a.id
        for a in listed.auto_paging_iter()
        if (a.to_dict().get("metadata") or {}).get("agency_id") == agency_id
    ]


async def test_a_connected_account_a_crash_left_behind_is_the_agency_s_one_account(
    infra: Infra, catalog: httpx.AsyncClient, stripe_sdk: stripe.StripeClient, tokens: Tokens
) -> None:
    agency_id = new_agency_id()
    owner = tokens.headers("owner", agency_id)
    onboard = _onboard(catalog, owner)
    await crash_before_commit(infra.database_url, "catalog", onboard)
    [left] = await pending_commands_of(infra.database_url, "catalog", agency_id)
    assert (left["kind"], left["status"]) == ("create_account", "pending")

    assert await sweep_once(CatalogSettings, kit_tables, sweeper, infra) >= 1
    [account_id] = _accounts_of(stripe_sdk, agency_id)
    profile = (await catalog.get("/v1/connect", headers=owner)).json()
    assert (profile["account_id"], profile["status"]) == (account_id, "pending")

    again = await onboard(crashing_key())  # no crash now: a new link
    assert again.status_code == 200, again.text
    assert again.json()["account_id"] == account_id
    assert _accounts_of(stripe_sdk, agency_id) == [account_id]


# --- in memory: what the sweeper does with each kind, on fakes of the service's ports ------

AGENCY = "agency-fake"


def sweeps_of(fakes: CatalogFakes) -> CatalogSweeps:
    def catalog(session: AsyncSession) -> Catalog:
        assert session is fakes.session, "a Catalog outside the sweeper's transaction"
        return fakes.catalog()

    return CatalogSweeps(catalog, fakes.commands, lambda: fakes.stripe)


def left_pending(fakes: CatalogFakes) -> PendingCommand:
    """A product's record a crash left pending."""
    command = ProductCreate.model_validate(RETAINER)
    request = {"account_id": "acct_onboarded", **command.model_dump(mode="json")}
    return fakes.commands.put(CREATE_PRODUCT, request, agency_id=AGENCY)


async def made_before_the_crash(fakes: CatalogFakes, record: PendingCommand) -> StripeProduct:
    """What Stripe made, under the record's keys, before the crash."""
    await fakes.stripe.create_product_with_price(
        agency_id=AGENCY, product_id=record.id, **record.request
    )
    return fakes.stripe.products[record.id]


@pytest.mark.unit
async def test_a_swept_product_is_made_with_the_request_s_keys_and_announced() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY)
    record = left_pending(fakes)
    made = await made_before_the_crash(fakes, record)
    await sweeps_of(fakes).make_product(fakes.session, record)

    assert list(fakes.stripe.products.values()) == [made]
    product = fakes.repository.rows[record.id]
    assert (product.agency_id, product.stripe_product_id, product.stripe_price_id) == (
        AGENCY,
        made.stripe_product_id,
        made.stripe_price_id,
    )
    assert fakes.published() == [("catalog.products.v1", "product.created", record.id)]
    assert fakes.commands.status(record.id) == "done"


@pytest.mark.unit
async def test_a_swept_product_that_cannot_be_made_is_withdrawn_and_failed() -> None:
    fakes = CatalogFakes()
    record = left_pending(fakes)
    made = await made_before_the_crash(fakes, record)
    await sweeps_of(fakes).withdraw_product(record)
    assert (made.active, made.price_active) == (False, False)
    assert fakes.commands.status(record.id) == "failed"
    assert fakes.outbox.published == []


@pytest.mark.unit
async def test_a_withdrawal_stripe_cannot_take_is_left_undoing_for_the_next_round() -> None:
    fakes = CatalogFakes()
    record = left_pending(fakes)
    fakes.stripe.failing.add("withdraw_product")
    await sweeps_of(fakes).withdraw_product(record)
    assert fakes.commands.status(record.id) == "undoing"


@pytest.mark.unit
async def test_a_swept_account_is_put_on_the_agency_s_profile_and_announced() -> None:
    fakes = CatalogFakes()
    record = fakes.commands.put(
        CREATE_ACCOUNT, {}, agency_id=AGENCY, id=command_id_of("account", AGENCY)
    )
    await sweeps_of(fakes).create_account(fakes.session, record)

    account_id = fakes.stripe.accounts[f"catalog:account:{AGENCY}"]
    assert fakes.repository.agencies[AGENCY].stripe_account_id == account_id
    assert [p.event.payload for p in fakes.outbox.published] == [
        AgencyBillingProfile(
            agency_id=AGENCY,
            stripe_account_id=account_id,
            connect_status="pending",
            charges_enabled=False,
            suspended=False,
        )
    ]
    assert fakes.commands.records[record.id].result == {"stripe_account_id": account_id}
    assert fakes.commands.status(record.id) == "done"


@pytest.mark.unit
async def test_a_swept_account_keeps_the_one_already_on_the_profile() -> None:
    fakes = CatalogFakes()
    fakes.onboarded(AGENCY, "acct_kept")
    record = fakes.commands.put(CREATE_ACCOUNT, {}, agency_id=AGENCY)
    await sweeps_of(fakes).create_account(fakes.session, record)
    assert fakes.repository.agencies[AGENCY].stripe_account_id == "acct_kept"
    assert fakes.outbox.published == []
    assert fakes.commands.status(record.id) == "done"


@pytest.mark.unit
async def test_an_account_stripe_refused_is_settled_failed() -> None:
    fakes = CatalogFakes()
    record = fakes.commands.put(CREATE_ACCOUNT, {}, agency_id=AGENCY)
    await sweeps_of(fakes).no_account(record)
    assert fakes.commands.status(record.id) == "failed"
    assert fakes.stripe.calls == []
