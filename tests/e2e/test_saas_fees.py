"""The SaaS-fee guide through the whole stack over HTTP and Stripe's signed webhooks: the
platform puts an agency on a plan billed on the 1st, paid from the agency's Stripe balance;
the balance is short, the failure is recorded, the owner is told that Monday payouts drain
the balance before the 1st; the operator's manual retry pauses payouts, waits for a client's
payment to become available, pays the plan from the balance, and puts Monday payouts back."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency, known_to_subscriptions, onboarded_agency
from tests.helpers.saas_fees.steps import (
    DAY,
    advance_clock,
    card_payment,
    clock_now,
    collection_of,
    create_plan,
    payout_schedule,
    put_on_plan,
    retire,
    set_payout_schedule,
)
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
async def invoicing(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["invoicing"], timeout=30) as client:
        yield client


@pytest.fixture
async def agency(
    catalog: httpx.AsyncClient, emulator: httpx.AsyncClient, tokens: Tokens, infra: Infra
) -> Agency:
    """An onboarded agency that subscriptions already knows may bill (as in
    tests/subscriptions/conftest.py)."""
    onboarded = await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)
    return await known_to_subscriptions(infra.database_url, onboarded)


async def _to_the_first_of_next_month(emulator: httpx.AsyncClient) -> dt.datetime:
    now = dt.datetime.fromtimestamp(await clock_now(emulator), dt.UTC)
    first = (now.replace(day=28) + dt.timedelta(days=4)).replace(
        day=1, hour=0, minute=30, second=0, microsecond=0
    )
    await advance_clock(emulator, int((first - now).total_seconds()))
    return first


async def _billing(invoicing: httpx.AsyncClient, agency: Agency) -> dict[str, Any]:
    response = await invoicing.get("/v1/agency/platform-billing", headers=agency.owner)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_a_plan_paid_from_the_balance_with_advice_and_a_manual_retry(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    account = agency.account_id
    assert account is not None
    operator = tokens.headers("platform_operator")
    first = await _to_the_first_of_next_month(emulator)
    set_payout_schedule(stripe_sdk, account, interval="weekly", weekly_anchor="monday")
    before = payout_schedule(stripe_sdk, account)

    plan = await create_plan(subscriptions, operator, amount_cents=4900, interval="month")
    agency_plan = await put_on_plan(subscriptions, operator, agency.agency_id, plan["id"])
    assert (agency_plan["status"], agency_plan["latest_invoice"]["status"]) == (
        "incomplete",
        "open",
    )
    invoice_id = agency_plan["latest_invoice"]["id"]
    # invoice.payment_failed (which carries the failure code) may follow invoice.updated.
    failed = await collection_of(
        invoicing, operator, invoice_id, attempt_count=1, failure_code="insufficient_funds"
    )

    # The owner sees what the platform charges, the failure, and why payouts make it likely.
    billing: dict[str, Any] = {}

    async def owner_sees_plan() -> bool:
        billing.update(await _billing(invoicing, agency))
        return billing["plan"] is not None and bool(billing["invoices"])

    await eventually(owner_sees_plan, within=60)
    assert (billing["plan"]["plan_id"], billing["plan"]["amount_cents"]) == (plan["id"], 4900)
    assert dt.datetime.fromisoformat(billing["plan"]["billing_cycle_anchor"]).day == first.day
    assert billing["invoices"][0]["failure_code"] == "insufficient_funds"
    assert "retry" not in billing["invoices"][0]
    advice = {a["code"]: a["message"] for a in billing["payout_advice"]}
    assert set(advice) == {"payouts_drain_balance", "align_payout_schedule", "keep_minimum_balance"}
    assert "every Monday" in advice["payouts_drain_balance"]
    assert "1st of each month" in advice["payouts_drain_balance"]
    assert "2nd" in advice["align_payout_schedule"]
    assert "49.00 USD" in advice["keep_minimum_balance"]
    elsewhere = await invoicing.get("/v1/agency/platform-billing", headers=agency.admin)
    assert elsewhere.status_code == 403

    # The operator retries by hand: payouts pause, a client's payment becomes available.
    path = f"/v1/platform/collections/{failed['invoice_id']}/retry"
    started = await invoicing.post(path, headers={"Idempotency-Key": str(uuid.uuid4()), **operator})
    assert started.status_code == 202, started.text
    assert started.json()["state"] == "payouts_paused"

    async def paused() -> bool:
        found = await collection_of(invoicing, operator, invoice_id)
        return bool(found["retry"]["state"] == "waiting_for_funds")

    await eventually(paused, within=60)
    assert payout_schedule(stripe_sdk, account)["interval"] == "manual"
    during = await _billing(invoicing, agency)  # advice about the schedule that comes back
    assert "every Monday" in during["payout_advice"][0]["message"]
    card_payment(stripe_sdk, account, 10_000)
    await advance_clock(emulator, 3 * DAY)

    async def retried() -> bool:
        found = await collection_of(invoicing, operator, invoice_id)
        return bool(found["status"] == "paid" and found["retry"]["state"] == "succeeded")

    await eventually(retried, within=90)
    assert payout_schedule(stripe_sdk, account) == before

    async def plan_active() -> bool:
        shown = await subscriptions.get(
            f"/v1/platform/agencies/{agency.agency_id}/plan", headers=operator
        )
        body = shown.json()
        return bool(body["status"] == "active" and body["latest_invoice"]["status"] == "paid")

    await eventually(plan_active, within=60)
    after = await _billing(invoicing, agency)
    assert after["invoices"][0]["status"] == "paid"
    assert after["payout_advice"][0]["code"] == "payouts_drain_balance"
    retire(stripe_sdk, account)
