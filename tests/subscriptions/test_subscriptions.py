"""Subscriptions over HTTP against the running stack: Step 2's rules (which products, the
billing gate, the platform fee), who may start, list and cancel, and what Stripe holds."""

from __future__ import annotations

import httpx
import pytest
import stripe

from billing_devstack import Infra
from tests.helpers.agencies import Agency, onboarded_agency, start_onboarding
from tests.helpers.subscriptions.reading import error_of, replicated_status
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import (
    create_product,
    listed,
    on_account,
    register_workspace,
    start_when_replicated,
    started,
    subscribed_workspace,
)

pytestmark = [pytest.mark.integration]


async def test_start_bills_the_workspace_on_the_agency_s_account_with_the_platform_fee(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, product_id, body = await subscribed_workspace(subscriptions, catalog, agency)

    assert (body["workspace_id"], body["product_id"]) == (workspace_id, product_id)
    assert (body["cadence"], body["amount_cents"]) == ("monthly", 250_000)
    assert body["application_fee_percent"] == 0.5
    assert body["billing_email"] == "billing@acme.example"
    assert body["status"] == "active"  # on payment terms: payable until it is due
    assert (body["collection_method"], body["days_until_due"]) == ("send_invoice", 30)
    invoice = body["latest_invoice"]
    assert invoice["status"] == "open"
    assert invoice["hosted_invoice_url"].startswith("http")
    async with httpx.AsyncClient() as browser:
        page = await browser.get(invoice["hosted_invoice_url"])
    assert page.status_code == 200
    assert "Pay" in page.text

    sub = stripe_sdk.v1.subscriptions.retrieve(
        body["stripe_subscription_id"], options=on_account(agency)
    )
    assert sub.application_fee_percent == 0.5
    assert sub.collection_method == "send_invoice"
    assert sub.days_until_due == 30
    assert sub.customer == body["stripe_customer_id"]
    assert sub["items"].data[0].price.unit_amount == 250_000
    assert sub.metadata is not None
    assert sub.metadata.to_dict() == {
        "agency_id": agency.agency_id,
        "workspace_id": workspace_id,
        "subscription_id": body["id"],
        "product_id": product_id,
    }
    customer = stripe_sdk.v1.customers.retrieve(
        body["stripe_customer_id"], options=on_account(agency)
    )
    assert customer.metadata is not None
    assert customer.metadata.to_dict() == {
        "agency_id": agency.agency_id,
        "workspace_id": workspace_id,
    }
    assert customer.email == "billing@acme.example"

    # A second subscription on the same workspace reuses its one customer.
    yearly = await create_product(catalog, agency, cadence="yearly", amount_cents=2_400_000)
    second = await started(subscriptions, agency, workspace_id, yearly)
    assert second["stripe_customer_id"] == body["stripe_customer_id"]
    assert second["cadence"] == "yearly"
    found = await listed(subscriptions, agency, workspace_id)
    assert [s["id"] for s in found] == [second["id"], body["id"]]
    assert {(s["status"], s["application_fee_percent"], s["billing_email"]) for s in found} == {
        ("active", 0.5, "billing@acme.example")
    }


async def test_a_one_time_product_is_refused_with_the_one_off_invoice_hint(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, agency: Agency
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency, cadence="one_time")
    response = await start_when_replicated(subscriptions, agency, workspace_id, product_id)
    assert response.status_code == 422, response.text
    assert error_of(response)["code"] == "validation_error"
    assert "one-off invoice" in error_of(response)["message"]


async def test_an_archived_product_is_refused(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, agency: Agency, infra: Infra
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency)
    archived = await catalog.post(f"/v1/products/{product_id}/archive", headers=agency.admin)
    assert archived.status_code == 200

    async def archive_replicated() -> bool:  # catalog's product events arrive in order
        return await replicated_status(infra, product_id) == "archived"

    await eventually(archive_replicated, within=60)
    response = await subscriptions.post(
        f"/v1/workspaces/{workspace_id}/subscriptions",
        json={"product_id": product_id},
        headers=agency.admin,
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "product_archived"
    assert await listed(subscriptions, agency, workspace_id) == []


async def test_unknown_or_another_agency_s_product_or_workspace_is_not_found(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    tokens: Tokens,
    emulator: httpx.AsyncClient,
    infra: Infra,
) -> None:
    other = await onboarded_agency(catalog, emulator, tokens, infra.kafka_bootstrap)
    workspace_id = await register_workspace(subscriptions, agency)
    theirs = await create_product(catalog, other)
    their_workspace = await register_workspace(subscriptions, other)
    await started(subscriptions, other, their_workspace, theirs)  # replicated by now

    for workspace, product in [
        (workspace_id, "no-such-product"),
        (workspace_id, theirs),
        (their_workspace, theirs),
        ("no-such-workspace", theirs),
    ]:
        response = await subscriptions.post(
            f"/v1/workspaces/{workspace}/subscriptions",
            json={"product_id": product},
            headers=agency.admin,
        )
        assert response.status_code == 404, (workspace, product, response.text)
        assert error_of(response)["code"] == "not_found"
    listing = f"/v1/workspaces/{their_workspace}/subscriptions"
    assert (await subscriptions.get(listing, headers=agency.admin)).status_code == 404


async def test_before_onboarding_nothing_starts(
    subscriptions: httpx.AsyncClient, catalog: httpx.AsyncClient, tokens: Tokens
) -> None:
    agency = await start_onboarding(catalog, tokens)
    workspace_id = await register_workspace(subscriptions, agency)
    response = await subscriptions.post(
        f"/v1/workspaces/{workspace_id}/subscriptions",
        json={"product_id": "any-product"},
        headers=agency.owner,
    )
    assert response.status_code == 409
    assert error_of(response)["code"] == "connect_required"
    assert "Connect Stripe to start billing" in error_of(response)["message"]


async def test_a_suspended_agency_starts_nothing_until_unsuspended(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    tokens: Tokens,
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    product_id = await create_product(catalog, agency)
    await started(subscriptions, agency, workspace_id, product_id)
    operator = tokens.headers("platform_operator")
    path = f"/v1/agencies/{agency.agency_id}/suspension"
    suspended = await catalog.put(path, json={"suspended": True, "reason": "ToS"}, headers=operator)
    assert suspended.status_code == 200, suspended.text
    start = f"/v1/workspaces/{workspace_id}/subscriptions"
    last: httpx.Response | None = None

    async def refused() -> bool:
        nonlocal last
        last = await subscriptions.post(
            start, json={"product_id": product_id}, headers=agency.admin
        )
        return last.status_code == 409

    await eventually(refused, within=60)
    assert last is not None
    assert error_of(last)["code"] == "agency_suspended"
    assert "AgencySuspendedCannotBillError" in error_of(last)["message"]

    await catalog.put(path, json={"suspended": False}, headers=operator)

    async def unlocked() -> bool:
        response = await subscriptions.post(
            start, json={"product_id": product_id}, headers=agency.admin
        )
        return response.status_code == 201

    await eventually(unlocked, within=60)


@pytest.mark.parametrize("role", ["member", "client"])
async def test_members_and_clients_may_not_start_list_or_cancel(
    subscriptions: httpx.AsyncClient, agency: Agency, tokens: Tokens, role: str
) -> None:
    workspace_id = await register_workspace(subscriptions, agency)
    headers = tokens.headers(role, agency.agency_id, workspace_ids=[workspace_id])
    base = f"/v1/workspaces/{workspace_id}/subscriptions"
    for method, path, body in [
        ("POST", base, {"product_id": "p"}),
        ("GET", base, None),
        ("POST", f"{base}/any/cancel", None),
    ]:
        response = await subscriptions.request(method, path, json=body, headers=headers)
        assert response.status_code == 403, (method, path)
        assert error_of(response)["code"] == "forbidden"


async def test_cancel_ends_it_in_stripe_and_keeps_the_row(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
    tokens: Tokens,
) -> None:
    workspace_id, _, body = await subscribed_workspace(subscriptions, catalog, agency)
    cancel = f"/v1/workspaces/{workspace_id}/subscriptions/{body['id']}/cancel"

    other = tokens.headers("owner", "agency-elsewhere")
    assert (await subscriptions.post(cancel, headers=other)).status_code == 404
    missing = f"/v1/workspaces/{workspace_id}/subscriptions/no-such/cancel"
    assert (await subscriptions.post(missing, headers=agency.owner)).status_code == 404

    canceled = await subscriptions.post(cancel, headers=agency.owner)
    assert canceled.status_code == 200, canceled.text
    assert canceled.json()["status"] == "canceled"
    assert canceled.json()["canceled_at"] is not None
    sub = stripe_sdk.v1.subscriptions.retrieve(
        body["stripe_subscription_id"], options=on_account(agency)
    )
    assert sub.status == "canceled"

    again = await subscriptions.post(cancel, headers=agency.admin)
    assert again.status_code == 200
    assert again.json()["canceled_at"] == canceled.json()["canceled_at"]
    found = await listed(subscriptions, agency, workspace_id)
    assert [(s["id"], s["status"]) for s in found] == [(body["id"], "canceled")]
