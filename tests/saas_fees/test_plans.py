"""Plans and agencies' plans (subscriptions): the operator's routes, what Stripe holds."""

from __future__ import annotations

import uuid

import httpx
import pytest
import stripe

from tests.helpers.agencies import Agency, start_onboarding
from tests.helpers.saas_fees.steps import create_plan, fund, put_on_plan, set_payout_schedule
from tests.helpers.tokens import Tokens

pytestmark = pytest.mark.integration


async def test_a_plan_is_a_recurring_price_on_the_platform_account(
    subscriptions: httpx.AsyncClient, operator: dict[str, str], stripe_sdk: stripe.StripeClient
) -> None:
    plan = await create_plan(subscriptions, operator, amount_cents=4900, interval="month")
    assert (plan["amount_cents"], plan["currency"], plan["interval"], plan["status"]) == (
        4900,
        "usd",
        "month",
        "active",
    )
    price = stripe_sdk.v1.prices.retrieve(plan["stripe_price_id"])  # no Stripe-Account
    assert price.unit_amount == 4900
    assert price.recurring is not None
    assert price.recurring.interval == "month"
    assert price.product == plan["stripe_product_id"]
    listed = await subscriptions.get("/v1/platform/plans", headers=operator)
    assert plan in listed.json()["data"]


async def test_plans_are_the_operators_and_are_validated(
    subscriptions: httpx.AsyncClient, operator: dict[str, str], tokens: Tokens
) -> None:
    owner = tokens.headers("owner", "agency-x")
    body = {"name": "Studio", "amount_cents": 4900, "interval": "month"}
    assert (
        await subscriptions.post("/v1/platform/plans", json=body, headers=owner)
    ).status_code == 403
    assert (await subscriptions.get("/v1/platform/plans", headers=owner)).status_code == 403
    for bad in ({**body, "interval": "week"}, {**body, "amount_cents": 49}, {**body, "name": ""}):
        refused = await subscriptions.post("/v1/platform/plans", json=bad, headers=operator)
        assert refused.status_code == 422
        assert refused.json()["error"]["code"] == "validation_error"


async def test_a_funded_agency_pays_its_plan_from_its_balance(
    subscriptions: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    assert agency.account_id is not None
    set_payout_schedule(stripe_sdk, agency.account_id, interval="manual")
    await fund(stripe_sdk, emulator, agency.account_id, 10_000)
    before = stripe_sdk.v1.balance.retrieve(options={"stripe_account": agency.account_id})
    plan = await create_plan(subscriptions, operator, amount_cents=4900)

    agency_plan = await put_on_plan(subscriptions, operator, agency.agency_id, plan["id"])

    assert agency_plan["status"] == "active"
    assert agency_plan["latest_invoice"]["status"] == "paid"
    assert agency_plan["latest_invoice"]["amount_due_cents"] == 4900
    assert agency_plan["stripe_account_id"] == agency.account_id
    sub = stripe_sdk.v1.subscriptions.retrieve(agency_plan["stripe_subscription_id"])
    assert sub.to_dict()["customer_account"] == agency.account_id
    assert sub.payment_settings is not None
    assert sub.payment_settings.payment_method_types == ["stripe_balance"]
    after = stripe_sdk.v1.balance.retrieve(options={"stripe_account": agency.account_id})
    assert before.available[0].amount - after.available[0].amount == 4900
    account = stripe_sdk.v2.core.accounts.retrieve(agency.account_id)
    assert account.applied_configurations == ["customer", "merchant"]
    shown = await subscriptions.get(
        f"/v1/platform/agencies/{agency.agency_id}/plan", headers=operator
    )
    assert shown.json()["id"] == agency_plan["id"]
    again = await subscriptions.post(
        f"/v1/platform/agencies/{agency.agency_id}/plan",
        json={"plan_id": plan["id"]},
        headers=operator,
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "agency_plan_exists")


async def test_no_plan_before_onboarding_and_none_shown_without_one(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    operator: dict[str, str],
    tokens: Tokens,
) -> None:
    plan = await create_plan(subscriptions, operator)
    pending = await start_onboarding(catalog, tokens)
    refused = await subscriptions.post(
        f"/v1/platform/agencies/{pending.agency_id}/plan",
        json={"plan_id": plan["id"]},
        headers=operator,
    )
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "connect_required")
    missing = await subscriptions.get(
        f"/v1/platform/agencies/{pending.agency_id}/plan", headers=operator
    )
    assert missing.status_code == 404


async def test_a_stripe_failure_leaves_no_agency_plan_and_the_key_replays(
    subscriptions: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    assert agency.account_id is not None
    plan = await create_plan(subscriptions, operator)
    armed = await emulator.post(
        "/_emulator/faults",
        json={"fail_next": {"status": 400, "path": "/v1/subscriptions", "method": "POST"}},
    )
    assert armed.status_code == 200
    path = f"/v1/platform/agencies/{agency.agency_id}/plan"
    failed = await subscriptions.post(path, json={"plan_id": plan["id"]}, headers=operator)
    assert (failed.status_code, failed.json()["error"]["code"]) == (502, "stripe_error")
    assert (await subscriptions.get(path, headers=operator)).status_code == 404

    key = {"Idempotency-Key": f"plan-{uuid.uuid4()}", **operator}
    first = await subscriptions.post(path, json={"plan_id": plan["id"]}, headers=key)
    replay = await subscriptions.post(path, json={"plan_id": plan["id"]}, headers=key)
    assert first.status_code == replay.status_code == 201
    assert first.json() == replay.json()
    subs = stripe_sdk.v1.subscriptions.list(
        params={"customer_account": agency.account_id, "status": "all"}
    )
    assert [s.id for s in subs.data] == [first.json()["stripe_subscription_id"]]
