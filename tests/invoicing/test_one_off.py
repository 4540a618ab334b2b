"""Step 3, "Charge for project", on the real stack: the workspace's one Stripe customer comes
from subscriptions; the invoice is finalized and sent on the agency's connected account with
the platform's 0.5 % fee; a Stripe failure half-way leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import stripe

from invoicing.rules import application_fee_cents
from tests.helpers.agencies import Agency
from tests.helpers.invoicing.workspaces import register_workspace
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
async def subscriptions(services: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=services["subscriptions"], timeout=30) as client:
        yield client


async def _billing_open(invoicing: httpx.AsyncClient, agency: Agency) -> None:
    """Wait until catalog's profile of the agency reached invoicing's replica: an unknown
    workspace is then past the gate (404) instead of ``connect_required``."""

    async def may_bill() -> bool:
        unknown = await _charge(invoicing, agency, f"ws-{uuid.uuid4().hex[:10]}", 5_000)
        return unknown.status_code == 404

    await eventually(may_bill, within=30)


async def _workspace(
    subscriptions: httpx.AsyncClient, invoicing: httpx.AsyncClient, agency: Agency
) -> str:
    """A workspace with its billing contact, once invoicing lets the agency bill."""
    await _billing_open(invoicing, agency)
    return await register_workspace(subscriptions, agency)


async def _charge(
    invoicing: httpx.AsyncClient, agency: Agency, workspace_id: str, amount: int
) -> httpx.Response:
    return await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices",
        json={"description": "Discovery sprint", "amount_cents": amount},
        headers=agency.admin,
    )


async def test_charge_for_project_sends_an_open_invoice_with_the_platform_fee(
    agency: Agency,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id = await _workspace(subscriptions, invoicing, agency)
    created = await _charge(invoicing, agency, workspace_id, 12_345)
    assert created.status_code == 201, created.text
    invoice = created.json()
    assert invoice["status"] == "open"
    assert invoice["kind"] == "one_off"
    assert invoice["application_fee_cents"] == application_fee_cents(12_345) == 62
    assert invoice["hosted_invoice_url"] is not None
    assert invoice["pay_url"] == invoice["hosted_invoice_url"]
    assert invoice["workspace_id"] == workspace_id

    options: Any = {"stripe_account": agency.account_id}
    on_stripe = await stripe_sdk.v1.invoices.retrieve_async(
        invoice["stripe_invoice_id"], options=options
    )
    assert on_stripe.status == "open"
    assert on_stripe.amount_due == 12_345
    assert on_stripe.to_dict()["metadata"]["workspace_id"] == workspace_id
    payments = await stripe_sdk.v1.invoice_payments.list_async(
        params={"invoice": on_stripe.id}, options=options
    )
    intent = await stripe_sdk.v1.payment_intents.retrieve_async(
        str(payments.data[0].payment.payment_intent), options=options
    )
    assert intent.application_fee_amount == 62

    # A second one-off reuses the workspace's one customer.
    again = await _charge(invoicing, agency, workspace_id, 5_000)
    second = await stripe_sdk.v1.invoices.retrieve_async(
        again.json()["stripe_invoice_id"], options=options
    )
    assert second.customer == on_stripe.customer

    listed = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin)
    assert {i["id"] for i in listed.json()["data"]} == {invoice["id"], again.json()["id"]}


async def test_an_unknown_workspace_is_not_found(
    agency: Agency, invoicing: httpx.AsyncClient
) -> None:
    await _billing_open(invoicing, agency)
    response = await _charge(invoicing, agency, f"ws-{uuid.uuid4().hex[:10]}", 5_000)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_a_stripe_failure_half_way_keeps_nothing(
    agency: Agency,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id = await _workspace(subscriptions, invoicing, agency)
    warm = await _charge(invoicing, agency, workspace_id, 5_000)  # the customer exists now
    assert warm.status_code == 201
    armed = await emulator.post(
        "/_emulator/faults",
        json={"fail_next": {"count": 1, "status": 400, "path": "/v1/invoiceitems"}},
    )
    assert armed.status_code == 200
    refused = await _charge(invoicing, agency, workspace_id, 7_000)
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "stripe_error"

    options: Any = {"stripe_account": agency.account_id}
    customer = (
        await stripe_sdk.v1.invoices.retrieve_async(
            warm.json()["stripe_invoice_id"], options=options
        )
    ).customer
    on_stripe = await stripe_sdk.v1.invoices.list_async(
        params={"customer": str(customer)}, options=options
    )
    assert [i.id for i in on_stripe.data if i.status != "void"] == [
        warm.json()["stripe_invoice_id"]
    ]

    async def only_the_first() -> bool:
        listed = await invoicing.get(
            f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin
        )
        return [i["id"] for i in listed.json()["data"]] == [warm.json()["id"]]

    assert await only_the_first()


async def test_the_same_idempotency_key_charges_once(
    agency: Agency, invoicing: httpx.AsyncClient, subscriptions: httpx.AsyncClient
) -> None:
    workspace_id = await _workspace(subscriptions, invoicing, agency)
    headers = {**agency.admin, "Idempotency-Key": uuid.uuid4().hex}
    body = {"description": "Integration", "amount_cents": 25_000}
    first = await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices", json=body, headers=headers
    )
    again = await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices", json=body, headers=headers
    )
    assert (first.status_code, again.status_code) == (201, 201)
    assert first.json()["stripe_invoice_id"] == again.json()["stripe_invoice_id"]
    listed = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin)
    assert len(listed.json()["data"]) == 1
