"""Workspaces over HTTP: who may register them, the billing recipient rule, and a change of
recipient carried to the workspace's Stripe customer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.workspaces import (
    new_workspace_id,
    on_account,
    subscribed_workspace,
    workspace_body,
)

pytestmark = [pytest.mark.integration]


async def put(
    subscriptions: httpx.AsyncClient, workspace_id: str, headers: dict[str, str], **body: Any
) -> httpx.Response:
    return await subscriptions.put(
        f"/v1/workspaces/{workspace_id}", json=workspace_body(**body), headers=headers
    )


async def test_no_or_bad_token_is_401(subscriptions: httpx.AsyncClient, tokens: Tokens) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        tokens.headers("owner", "a", expires_in=-5),
    ):
        response = await put(subscriptions, new_workspace_id(), headers)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ["member", "client"])
async def test_members_and_clients_may_not_register_workspaces(
    subscriptions: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    workspace_id = new_workspace_id()
    headers = tokens.headers(role, new_agency_id(), workspace_ids=[workspace_id])
    response = await put(subscriptions, workspace_id, headers)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ["owner", "admin"])
async def test_owner_and_admin_register_then_update(
    subscriptions: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    agency_id, workspace_id = new_agency_id(), new_workspace_id()
    headers = tokens.headers(role, agency_id)
    registered = await put(subscriptions, workspace_id, headers)
    assert registered.status_code == 200, registered.text
    body = registered.json()
    assert body["id"] == workspace_id
    assert body["billing_email"] == "billing@acme.example"
    assert [m["user_id"] for m in body["client_members"]] == ["u-1", "u-2"]
    assert body["stripe_customer_id"] is None  # made on first need only

    renamed = await put(subscriptions, workspace_id, headers, name="Acme Holdings")
    assert renamed.json()["name"] == "Acme Holdings"


async def test_the_recipient_is_the_contact_else_the_first_member_to_have_joined(
    subscriptions: httpx.AsyncClient, tokens: Tokens
) -> None:
    headers = tokens.headers("admin", new_agency_id())
    workspace_id = new_workspace_id()
    no_contact = await put(subscriptions, workspace_id, headers, billing_contact=None)
    assert no_contact.json()["billing_email"] == "first@acme.example"

    # u-3 joins now and is listed first: the earliest member still receives the bills.
    members = [
        {"user_id": "u-3", "email": "third@acme.example", "name": "Third"},
        {"user_id": "u-2", "email": "second@acme.example", "name": "Second"},
        {"user_id": "u-1", "email": "first@acme.example", "name": "First"},
    ]
    joined = await put(
        subscriptions, workspace_id, headers, billing_contact=None, client_members=members
    )
    assert [m["user_id"] for m in joined.json()["client_members"]] == ["u-1", "u-2", "u-3"]
    assert joined.json()["billing_email"] == "first@acme.example"

    left = await put(
        subscriptions, workspace_id, headers, billing_contact=None, client_members=members[:2]
    )
    assert left.json()["billing_email"] == "second@acme.example"
    nobody = await put(
        subscriptions, workspace_id, headers, billing_contact=None, client_members=[]
    )
    assert nobody.json()["billing_email"] is None


async def test_another_agency_s_workspace_is_not_found(
    subscriptions: httpx.AsyncClient, tokens: Tokens
) -> None:
    workspace_id = new_workspace_id()
    mine = await put(subscriptions, workspace_id, tokens.headers("owner", new_agency_id()))
    assert mine.status_code == 200
    theirs = await put(
        subscriptions, workspace_id, tokens.headers("owner", new_agency_id()), name="Taken over"
    )
    assert theirs.status_code == 404
    assert theirs.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "body",
    [
        {"name": ""},
        {"billing_contact": {"email": "not-an-email"}},
        {"client_members": [{"user_id": "u-1", "email": "a@b.example"}] * 2},
        {"client_members": [{"user_id": "u-1"}]},
        {"surprise": True},
    ],
)
async def test_bad_input_is_422_and_changes_nothing(
    subscriptions: httpx.AsyncClient, tokens: Tokens, body: dict[str, Any]
) -> None:
    headers = tokens.headers("owner", new_agency_id())
    workspace_id = new_workspace_id()
    assert (await put(subscriptions, workspace_id, headers)).status_code == 200
    refused = await put(subscriptions, workspace_id, headers, **body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"]["code"] == "validation_error"
    assert refused.json()["error"]["fields"]
    unchanged = await put(subscriptions, workspace_id, headers)
    assert unchanged.json()["name"] == "Acme Corp"


async def test_a_new_recipient_becomes_the_stripe_customer_s_email(
    subscriptions: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    agency: Agency,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, _, subscription = await subscribed_workspace(subscriptions, catalog, agency)
    assert subscription["billing_email"] == "billing@acme.example"
    opts = on_account(agency)
    customer_id = subscription["stripe_customer_id"]
    assert stripe_sdk.v1.customers.retrieve(customer_id, options=opts).email == (
        "billing@acme.example"
    )

    changed = await subscriptions.put(
        f"/v1/workspaces/{workspace_id}",
        json=workspace_body(billing_contact={"email": "ap@acme.example", "name": "AP"}),
        headers=agency.owner,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["stripe_customer_id"] == customer_id
    assert stripe_sdk.v1.customers.retrieve(customer_id, options=opts).email == "ap@acme.example"

    dropped = await subscriptions.put(
        f"/v1/workspaces/{workspace_id}",
        json=workspace_body(billing_contact=None),
        headers=agency.owner,
    )
    assert dropped.json()["billing_email"] == "first@acme.example"
    assert stripe_sdk.v1.customers.retrieve(customer_id, options=opts).email == (
        "first@acme.example"
    )
