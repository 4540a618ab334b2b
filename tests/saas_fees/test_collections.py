"""Collections (invoicing): a balance too small to pay the plan is recorded with Stripe's
automatic retries as they run, and the manual retry saga pays it once funds arrive, then
puts the agency's payout schedule back as it was."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency
from tests.helpers.databases import connect
from tests.helpers.saas_fees.steps import (
    DAY,
    advance_clock,
    available,
    card_payment,
    collection_of,
    create_plan,
    payout_schedule,
    put_on_plan,
    set_payout_schedule,
    start_on_monday,
)
from tests.helpers.waiting import eventually

pytestmark = pytest.mark.integration


async def _failed_plan(
    subscriptions: httpx.AsyncClient, operator: dict[str, str], agency: Agency
) -> dict[str, Any]:
    plan = await create_plan(subscriptions, operator, amount_cents=4900)
    agency_plan = await put_on_plan(subscriptions, operator, agency.agency_id, plan["id"])
    assert agency_plan["status"] == "incomplete"
    assert agency_plan["latest_invoice"]["status"] == "open"
    return agency_plan


async def test_an_unfunded_balance_fails_and_stripe_retries_on_its_schedule(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
) -> None:
    assert agency.account_id is not None
    monday = await start_on_monday(emulator)
    set_payout_schedule(stripe_sdk, agency.account_id, interval="manual")
    agency_plan = await _failed_plan(subscriptions, operator, agency)
    invoice_id = agency_plan["latest_invoice"]["id"]

    # The failure code comes with invoice.payment_failed, which may follow invoice.updated.
    failed = await collection_of(
        invoicing, operator, invoice_id, attempt_count=1, failure_code="insufficient_funds"
    )
    assert failed["failure_code"] == "insufficient_funds"
    assert (failed["status"], failed["amount_due_cents"]) == ("open", 4900)
    assert failed["agency_id"] == agency.agency_id
    first_retry = dt.datetime.fromisoformat(failed["next_automatic_retry_at"])
    assert first_retry - monday >= dt.timedelta(hours=24)
    failing = await invoicing.get("/v1/platform/collections", headers=operator)
    assert invoice_id in [row["stripe_invoice_id"] for row in failing.json()["data"]]

    await advance_clock(emulator, DAY + 60)
    retried = await collection_of(invoicing, operator, invoice_id, attempt_count=2)
    second_retry = dt.datetime.fromisoformat(retried["next_automatic_retry_at"])
    assert second_retry.weekday() == 6  # the following Sunday
    assert retried["failure_code"] == "insufficient_funds"

    card_payment(stripe_sdk, agency.account_id, 10_000)
    await advance_clock(emulator, 8 * DAY)
    paid = await collection_of(invoicing, operator, invoice_id, status="paid")
    assert paid["next_automatic_retry_at"] is None
    failing = await invoicing.get("/v1/platform/collections", headers=operator)
    assert invoice_id not in [row["stripe_invoice_id"] for row in failing.json()["data"]]


async def test_the_manual_retry_pays_once_funds_arrive_and_restores_payouts(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    emulator: httpx.AsyncClient,
    infra: Infra,
) -> None:
    assert agency.account_id is not None
    await start_on_monday(emulator)  # Stripe's own retries: Tuesday, then Sunday
    set_payout_schedule(stripe_sdk, agency.account_id, interval="weekly", weekly_anchor="friday")
    before = payout_schedule(stripe_sdk, agency.account_id)
    agency_plan = await _failed_plan(subscriptions, operator, agency)
    collection = await collection_of(
        invoicing, operator, agency_plan["latest_invoice"]["id"], attempt_count=1
    )
    path = f"/v1/platform/collections/{collection['invoice_id']}/retry"

    started = await invoicing.post(path, headers=operator)
    assert started.status_code == 202, started.text
    retry = started.json()
    again = await invoicing.post(path, headers=operator)
    assert (again.status_code, again.json()["id"]) == (202, retry["id"])

    async def waiting() -> bool:
        found = await collection_of(invoicing, operator, collection["stripe_invoice_id"])
        return bool(found["retry"]["state"] == "waiting_for_funds")

    await eventually(waiting, within=60)
    assert payout_schedule(stripe_sdk, agency.account_id)["interval"] == "manual"

    card_payment(stripe_sdk, agency.account_id, 10_000)
    await advance_clock(emulator, 3 * DAY)  # available Wednesday; no payout while manual
    done = await collection_of(invoicing, operator, collection["stripe_invoice_id"], status="paid")

    async def succeeded() -> bool:
        found = await collection_of(invoicing, operator, collection["stripe_invoice_id"])
        done.update(found)
        return bool(found["retry"]["state"] == "succeeded")

    await eventually(succeeded, within=60)
    assert payout_schedule(stripe_sdk, agency.account_id) == before
    assert done["retry"]["available_cents"] >= 4900
    payments = stripe_sdk.v1.invoice_payments.list(
        params={"invoice": collection["stripe_invoice_id"], "status": "paid"}
    )
    assert len(payments.data) == 1
    assert available(stripe_sdk, agency.account_id) == 10_000 - 320 - 4900  # fee 2.9 % + 30¢
    conn = await connect(infra.database_url)
    try:
        steps = await conn.fetch(
            "SELECT step FROM invoicing.collection_retry_steps WHERE retry_id = $1 ORDER BY id",
            retry["id"],
        )
    finally:
        await conn.close()
    names = [row["step"] for row in steps]
    assert names[:3] == ["started", "schedule_recorded", "payouts_paused"]
    assert names[-2:] == ["paid", "payouts_restored"]
    assert "balance_checked" in names


async def test_retry_needs_an_open_collection(
    invoicing: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    missing = await invoicing.post(
        "/v1/platform/collections/00000000-0000-0000-0000-000000000000/retry", headers=operator
    )
    assert missing.status_code == 404


async def test_a_retry_ended_by_a_voided_invoice_still_restores_payouts(
    subscriptions: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    operator: dict[str, str],
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    assert agency.account_id is not None
    set_payout_schedule(stripe_sdk, agency.account_id, interval="daily", delay_days=3)
    before = payout_schedule(stripe_sdk, agency.account_id)
    agency_plan = await _failed_plan(subscriptions, operator, agency)
    stripe_invoice_id = agency_plan["latest_invoice"]["id"]
    collection = await collection_of(invoicing, operator, stripe_invoice_id, attempt_count=1)
    started = await invoicing.post(
        f"/v1/platform/collections/{collection['invoice_id']}/retry", headers=operator
    )
    assert started.status_code == 202

    async def state(expected: str) -> bool:
        found = await collection_of(invoicing, operator, stripe_invoice_id)
        return bool(found["retry"]["state"] == expected)

    await eventually(lambda: state("waiting_for_funds"), within=60)
    stripe_sdk.v1.invoices.void_invoice(stripe_invoice_id)
    await eventually(lambda: state("failed"), within=60)
    assert payout_schedule(stripe_sdk, agency.account_id) == before
    ended = await collection_of(invoicing, operator, stripe_invoice_id, status="void")
    assert ended["retry"]["failure_reason"] == "The invoice is void."
    again = await invoicing.post(
        f"/v1/platform/collections/{collection['invoice_id']}/retry", headers=operator
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invoice_not_open")
