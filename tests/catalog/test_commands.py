"""A new product or connected account leaves nothing half-made on Stripe: the same
``Idempotency-Key`` after a crash between Stripe's answer and the commit ends in the one
Stripe product and price, and the sweeper finishes a product or an account a crash left
pending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from catalog.models import kit_tables
from catalog.service.commands import sweeper
from catalog.settings import CatalogSettings
from tests.helpers.agencies import Agency
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
