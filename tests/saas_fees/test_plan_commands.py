"""The platform's plans and an agency's plan leave nothing half-made on Stripe: the same
``Idempotency-Key`` after a crash between Stripe's answer and the commit ends in the one
Stripe product and price, or the one subscription of the agency."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.crashes import posting, retried_after_crash
from tests.helpers.saas_fees.steps import create_plan

pytestmark = pytest.mark.integration


async def test_the_same_key_after_a_crash_before_the_commit_makes_one_plan(
    subscriptions: httpx.AsyncClient,
    operator: dict[str, str],
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    name = f"Studio {uuid.uuid4().hex[:8]}"
    body = {"name": name, "amount_cents": 4_900, "interval": "month"}
    create = posting(subscriptions, "/v1/platform/plans", body, operator)
    retried = await retried_after_crash(infra.database_url, "subscriptions", create)
    assert retried.status_code == 201, retried.text
    products = stripe_sdk.v1.products.list(params={"limit": 100})
    assert [p.id for p in products.auto_paging_iter() if p.name == name] == [
        retried.json()["stripe_product_id"]
    ]
    plans = (await subscriptions.get("/v1/platform/plans", headers=operator)).json()["data"]
    assert [p["id"] for p in plans if p["name"] == name] == [retried.json()["id"]]


async def test_the_same_key_after_a_crash_before_the_commit_makes_one_agency_plan(
    subscriptions: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    infra: Infra,
    stripe_sdk: stripe.StripeClient,
) -> None:
    plan = await create_plan(subscriptions, operator)
    path = f"/v1/platform/agencies/{agency.agency_id}/plan"
    start = posting(subscriptions, path, {"plan_id": plan["id"]}, operator)
    retried = await retried_after_crash(infra.database_url, "subscriptions", start)
    assert retried.status_code == 201, retried.text
    params: Any = {"customer_account": agency.account_id, "status": "all"}
    subs = stripe_sdk.v1.subscriptions.list(params=params)
    assert [s.id for s in subs.data] == [retried.json()["stripe_subscription_id"]]
    shown = await subscriptions.get(path, headers=operator)
    assert shown.json()["id"] == retried.json()["id"]
