"""A new product leaves nothing half-made on Stripe: the same ``Idempotency-Key`` after a
crash between Stripe's answer and the commit ends in the one Stripe product and price, and
the sweeper finishes a product a crash left pending."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from catalog.commands import sweeper
from catalog.models import kit_tables
from catalog.settings import CatalogSettings
from tests.catalog.requests import RETAINER
from tests.support.agencies import Agency
from tests.support.crashes import commits_die, crashing_key, pending_commands_of
from tests.support.runtimes import close_runtime, service_runtime

pytestmark = [pytest.mark.integration]


async def _create(catalog: httpx.AsyncClient, agency: Agency, key: str) -> httpx.Response:
    headers = {**agency.admin, "Idempotency-Key": key}
    return await catalog.post("/v1/products", json=RETAINER, headers=headers)


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
    key = crashing_key()
    async with commits_die(infra.database_url, "catalog"):
        crashed = await _create(catalog, agency, key)
    assert crashed.status_code >= 500, crashed.text

    retried = await _create(catalog, agency, key)
    assert retried.status_code == 201, retried.text
    product = retried.json()
    assert await _on_stripe(stripe_sdk, agency) == [
        (product["stripe_product_id"], True, (product["stripe_price_id"],))
    ]
    listed = await catalog.get("/v1/products", headers=agency.admin)
    assert [p["id"] for p in listed.json()["data"]] == [product["id"]]


async def test_the_sweeper_finishes_a_product_a_crash_left_pending(
    agency: Agency, infra: Infra, catalog: httpx.AsyncClient, stripe_sdk: stripe.StripeClient
) -> None:
    async with commits_die(infra.database_url, "catalog"):
        crashed = await _create(catalog, agency, crashing_key())
    assert crashed.status_code >= 500, crashed.text
    [left] = await pending_commands_of(infra.database_url, "catalog", agency.agency_id)
    assert left["status"] == "pending"

    runtime = service_runtime(
        CatalogSettings,
        kit_tables,
        infra,
        infra.database_url,
        stripe_api_base=infra.stripe_api_base,
        command_sweep_after_seconds=0,
    )
    try:
        assert await sweeper(runtime).sweep() >= 1
    finally:
        await close_runtime(runtime)
    [done] = await pending_commands_of(infra.database_url, "catalog", agency.agency_id)
    assert done["status"] == "done"

    listed = (await catalog.get("/v1/products", headers=agency.admin)).json()["data"]
    assert [p["id"] for p in listed] == [left["id"]]
    assert await _on_stripe(stripe_sdk, agency) == [
        (listed[0]["stripe_product_id"], True, (listed[0]["stripe_price_id"],))
    ]
