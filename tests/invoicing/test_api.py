"""invoicing over HTTP on the real stack: who may do what, input rules, the billing gate fed
by catalog, and the invoice mirror fed by signed Stripe events through webhook-ingest."""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

import httpx
import pytest

from billing_devstack import Infra
from tests.helpers.agencies import Agency, start_onboarding
from tests.helpers.invoicing.invoice_events import InvoiceStory, deliver
from tests.helpers.kafka import read_topic
from tests.helpers.tokens import Tokens, new_agency_id
from tests.helpers.waiting import eventually
from tests.helpers.webhook_ingest.stripe_events import fixture, new_id, stripe_event

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROJECT = {"description": "Discovery sprint", "amount_cents": 480_000}


def _workspace() -> str:
    return f"ws-{uuid.uuid4().hex[:10]}"


async def _invoices(
    invoicing: httpx.AsyncClient, headers: dict[str, str], workspace_id: str
) -> list[dict[str, Any]]:
    response = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=headers)
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def _portal(
    invoicing: httpx.AsyncClient, headers: dict[str, str], workspace_id: str, what: str
) -> dict[str, Any]:
    response = await invoicing.get(f"/v1/portal/workspaces/{workspace_id}/{what}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- who may do what ------------------------------------------------------------------------


async def test_without_a_valid_token_nothing_answers(invoicing: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/v1/workspaces/ws-1/invoices"),
        ("POST", "/v1/workspaces/ws-1/invoices"),
        ("GET", "/v1/portal/workspaces/ws-1/billing"),
        ("GET", "/v1/portal/workspaces/ws-1/invoices"),
        ("POST", "/v1/portal/workspaces/ws-1/payment-methods/session"),
    ]:
        response = await invoicing.request(method, path, headers={"Authorization": "Bearer x"})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthenticated"


@pytest.mark.parametrize("role", ["member", "client"])
async def test_only_owners_and_admins_see_and_charge_a_workspace(
    invoicing: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    workspace_id = _workspace()
    headers = tokens.headers(role, new_agency_id(), workspace_ids=[workspace_id])
    listed = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=headers)
    charged = await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices", json=PROJECT, headers=headers
    )
    assert (listed.status_code, charged.status_code) == (403, 403)
    assert charged.json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("role", ["owner", "admin", "member", "platform_operator"])
async def test_the_portal_is_for_clients_only(
    invoicing: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    agency_id = None if role == "platform_operator" else new_agency_id()
    headers = tokens.headers(role, agency_id)
    for what in ("billing", "invoices"):
        response = await invoicing.get(f"/v1/portal/workspaces/ws-1/{what}", headers=headers)
        assert response.status_code == 403, what


async def test_a_client_sees_only_the_workspaces_in_their_token(
    invoicing: httpx.AsyncClient, tokens: Tokens
) -> None:
    mine, theirs = _workspace(), _workspace()
    client = tokens.headers("client", new_agency_id(), workspace_ids=[mine])
    for what in ("billing", "invoices"):
        response = await invoicing.get(f"/v1/portal/workspaces/{theirs}/{what}", headers=client)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "not_found"
    session = await invoicing.post(
        f"/v1/portal/workspaces/{theirs}/payment-methods/session",
        json={"return_url": "https://app.example/portal"},
        headers=client,
    )
    assert session.status_code == 404
    assert (await _portal(invoicing, client, mine, "billing")) == {
        "subscriptions": [],
        "outstanding_invoices": [],
    }


# --- input rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "Sprint", "amount_cents": 49}, "amount_cents"),
        ({"description": "Sprint", "amount_cents": 150.0}, "amount_cents"),
        ({"description": "Sprint", "amount_cents": 150.5}, "amount_cents"),
        ({"description": "Sprint", "amount_cents": "150"}, "amount_cents"),
        ({"description": "Sprint", "amount_cents": 100_000_000}, "amount_cents"),
        ({"description": "Sprint"}, "amount_cents"),
        ({"description": "", "amount_cents": 500}, "description"),
        ({"description": "   ", "amount_cents": 500}, "description"),
        ({"description": "x" * 501, "amount_cents": 500}, "description"),
        ({"amount_cents": 500}, "description"),
        ({"description": "Sprint", "amount_cents": 500, "currency": "eur"}, "currency"),
    ],
)
async def test_a_bad_charge_is_refused_naming_the_field(
    invoicing: httpx.AsyncClient, tokens: Tokens, body: dict[str, Any], field: str
) -> None:
    response = await invoicing.post(
        f"/v1/workspaces/{_workspace()}/invoices",
        json=body,
        headers=tokens.headers("admin", new_agency_id()),
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in {item["field"] for item in error["fields"]}


# --- the billing gate, fed by catalog ------------------------------------------------------


async def _charge_status(
    invoicing: httpx.AsyncClient, agency: Agency, workspace_id: str
) -> tuple[int, str]:
    response = await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices", json=PROJECT, headers=agency.admin
    )
    return response.status_code, response.json()["error"]["code"]


async def test_charging_waits_for_connect_and_stops_while_suspended(
    invoicing: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    workspace_id = _workspace()
    never_id = new_agency_id()
    never = Agency(
        never_id, None, tokens.headers("owner", never_id), tokens.headers("admin", never_id)
    )
    status, code = await _charge_status(invoicing, never, workspace_id)
    assert (status, code) == (409, "connect_required")

    agency = await start_onboarding(catalog, tokens)
    assert await _charge_status(invoicing, agency, workspace_id) == (409, "connect_required")
    done = await emulator.post(f"/_emulator/accounts/{agency.account_id}/complete_onboarding")
    assert done.status_code == 200

    async def past_the_gate() -> bool:
        # Past the gate the workspace itself is asked for; it is unknown here.
        return await _charge_status(invoicing, agency, workspace_id) == (404, "not_found")

    await eventually(past_the_gate, within=60)

    operator = tokens.headers("platform_operator")
    suspension = f"/v1/agencies/{agency.agency_id}/suspension"
    suspended = await catalog.put(suspension, json={"suspended": True}, headers=operator)
    assert suspended.status_code == 200

    async def refused() -> bool:
        return await _charge_status(invoicing, agency, workspace_id) == (409, "agency_suspended")

    await eventually(refused, within=30)
    response = await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices", json=PROJECT, headers=agency.admin
    )
    assert "AgencySuspendedCannotBillError" in response.json()["error"]["message"]
    await catalog.put(suspension, json={"suspended": False}, headers=operator)
    await eventually(past_the_gate, within=30)


# --- the mirror -------------------------------------------------------------------------------


def _story(tokens: Tokens) -> tuple[InvoiceStory, dict[str, str], dict[str, str]]:
    agency_id, workspace_id = new_agency_id(), _workspace()
    story = InvoiceStory(account=new_id("acct"), agency_id=agency_id, workspace_id=workspace_id)
    admin = tokens.headers("admin", agency_id)
    client = tokens.headers("client", agency_id, workspace_ids=[workspace_id])
    return story, admin, client


async def test_an_invoice_shows_as_stripe_tells_it_and_never_goes_back(
    invoicing: httpx.AsyncClient, ingest: str, tokens: Tokens
) -> None:
    story, admin, client = _story(tokens)
    events = {event["type"]: event for event in story.events()}
    ws = story.workspace_id

    async with httpx.AsyncClient(timeout=30) as http:
        await deliver(http, ingest, events["invoice.finalized"])

        async def open_with_pay_now() -> bool:
            found = await _portal(invoicing, client, ws, "billing")
            return [i["status"] for i in found["outstanding_invoices"]] == ["open"]

        await eventually(open_with_pay_now, within=30)
        (invoice,) = await _invoices(invoicing, admin, ws)
        assert invoice["kind"] == "one_off"
        assert invoice["description"] == "Discovery sprint"
        assert invoice["amount_due_cents"] == story.amount
        assert invoice["application_fee_cents"] == story.fee
        assert invoice["pay_url"] == invoice["hosted_invoice_url"] is not None
        assert invoice["past_due"] is False

        await deliver(http, ingest, events["invoice.paid"])
        await deliver(http, ingest, events["invoice.created"])  # late: changes nothing
        await deliver(http, ingest, events["invoice.sent"])  # late: changes nothing

        async def paid() -> bool:
            return [i["status"] for i in await _invoices(invoicing, admin, ws)] == ["paid"]

        await eventually(paid, within=10)
        # A newer update of the same invoice (same key, so after the late ones on the topic).
        marker = stripe_event(
            "invoice.updated",
            story.invoice("paid", attempt_count=2, description="Discovery sprint, phase 1"),
            account=story.account,
            created=story.start + 30,
        )
        await deliver(http, ingest, marker)

        async def marker_seen() -> bool:
            found = await _invoices(invoicing, admin, ws)
            return bool(found[0]["description"] == "Discovery sprint, phase 1")

        await eventually(marker_seen, within=10)

    (invoice,) = await _invoices(invoicing, admin, ws)
    assert invoice["status"] == "paid"
    assert invoice["pay_url"] is None
    assert invoice["amount_paid_cents"] == story.amount
    assert invoice["paid_at"] is not None
    portal = await _portal(invoicing, client, ws, "billing")
    assert story.invoice_id not in {i["stripe_invoice_id"] for i in portal["outstanding_invoices"]}
    # To another agency this workspace does not exist (not an empty one).
    other = await invoicing.get(
        f"/v1/workspaces/{ws}/invoices", headers=tokens.headers("owner", new_agency_id())
    )
    assert other.status_code == 404, other.text
    assert other.json()["error"]["code"] == "not_found"


def _comparable(invoice: dict[str, Any]) -> dict[str, Any]:
    return {
        key: value
        for key, value in invoice.items()
        if key not in ("id", "stripe_invoice_id", "workspace_id", "hosted_invoice_url")
    }


async def test_duplicated_and_shuffled_deliveries_end_in_the_same_row_as_in_order_ones(
    invoicing: httpx.AsyncClient, ingest: str, tokens: Tokens, infra: Infra
) -> None:
    in_order, admin, _ = _story(tokens)
    shuffled = InvoiceStory(
        account=in_order.account,
        agency_id=in_order.agency_id,
        workspace_id=_workspace(),
        start=in_order.start,
    )
    events = shuffled.events()
    rng = random.Random(7)
    deliveries = [rng.choice(events) for _ in range(200 - len(events))] + events
    rng.shuffle(deliveries)
    async with httpx.AsyncClient(timeout=30) as http:
        for event in in_order.events():
            await deliver(http, ingest, event)
        for event in deliveries:
            await deliver(http, ingest, event)

    async def settled(story: InvoiceStory) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        async def lost_dispute() -> bool:
            found[:] = await _invoices(invoicing, admin, story.workspace_id)
            return bool(found and (found[0]["dispute"] or {}).get("status") == "lost")

        await eventually(lost_dispute, within=60)
        return found[0]

    expected = await settled(in_order)
    assert expected["status"] == "paid"
    assert expected["amount_refunded_cents"] == 5_000
    assert expected["dispute"] == {"status": "lost", "amount_cents": 12_000, "reason": "fraudulent"}
    assert expected["application_fee_cents"] == in_order.fee
    got = await settled(shuffled)
    assert _comparable(got) == _comparable(expected)

    # Every change was announced on the invoice's key, in order of revision; the last
    # announcement is the row as it ended (payment events may come before the invoice's own).
    announced: list[dict[str, Any]] = []

    async def announced_to_the_end() -> bool:
        announced[:] = [
            json.loads(record.value)
            for record in await read_topic(infra.kafka_bootstrap, "invoicing.invoices.v1")
            if record.key == expected["id"].encode()
        ]
        last = announced[-1]["payload"] if announced else {}
        return bool(last.get("status") == "paid" and (last.get("dispute") or {}).get("status"))

    await eventually(announced_to_the_end, within=30)
    types = [event["type"] for event in announced]
    assert types[0] == "invoice.mirrored"
    assert {
        "invoice.paid",
        "invoice.refunded",
        "invoice.disputed",
        "invoice.dispute_closed",
    } <= set(types)
    revisions = [event["payload"]["revision"] for event in announced]
    assert revisions == sorted(revisions)
    last = announced[-1]["payload"]
    assert last["amount_refunded_cents"] == expected["amount_refunded_cents"]
    assert last["dispute"]["status"] == "lost"


async def test_an_invoice_made_without_our_metadata_belongs_to_its_customer_s_workspace(
    invoicing: httpx.AsyncClient, ingest: str, agency: Agency
) -> None:
    assert agency.account_id is not None
    ours = InvoiceStory(agency.account_id, agency.agency_id, _workspace())
    theirs = InvoiceStory(agency.account_id, agency.agency_id, ours.workspace_id)
    dashboard_made = theirs.invoice("open", metadata={})
    async with httpx.AsyncClient(timeout=30) as http:
        await deliver(http, ingest, ours.events()[1])
        await eventually(
            lambda: _has(invoicing, agency.admin, ours.workspace_id, {ours.invoice_id}), within=30
        )
        event = stripe_event("invoice.finalized", dashboard_made, account=agency.account_id)
        await deliver(http, ingest, event)
    both = {ours.invoice_id, theirs.invoice_id}
    await eventually(lambda: _has(invoicing, agency.admin, ours.workspace_id, both), within=30)


async def _has(
    invoicing: httpx.AsyncClient, headers: dict[str, str], workspace_id: str, wanted: set[str]
) -> bool:
    found = await _invoices(invoicing, headers, workspace_id)
    return {invoice["stripe_invoice_id"] for invoice in found} == wanted


async def test_the_portal_shows_the_subscriptions_still_billing_with_their_product(
    invoicing: httpx.AsyncClient,
    catalog: httpx.AsyncClient,
    ingest: str,
    agency: Agency,
    tokens: Tokens,
) -> None:
    assert agency.account_id is not None
    created = await catalog.post(
        "/v1/products",
        json={"name": "Automation retainer", "cadence": "monthly", "amount_cents": 250_000},
        headers=agency.admin,
    )
    product = created.json()
    workspace_id = _workspace()
    client = tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id])

    def subscription(status: str) -> dict[str, Any]:
        item = {
            "id": new_id("si"),
            "object": "subscription_item",
            "price": {
                "id": product["stripe_price_id"],
                "object": "price",
                "product": product["stripe_product_id"],
                "unit_amount": 250_000,
                "currency": "usd",
            },
            "quantity": 1,
            "current_period_end": 1_900_000_000,
        }
        return fixture(
            "subscription",
            id=subscription_id,
            status=status,
            customer="cus_portal",
            currency="usd",
            application_fee_percent=0.5,
            items={"object": "list", "data": [item], "has_more": False},
            metadata={
                "agency_id": agency.agency_id,
                "workspace_id": workspace_id,
                "product_id": product["id"],
            },
        )

    subscription_id = new_id("sub")
    ended = new_id("sub")
    async with httpx.AsyncClient(timeout=30) as http:
        for kind, sub in [
            ("customer.subscription.created", subscription("active")),
            ("customer.subscription.deleted", subscription("canceled") | {"id": ended}),
        ]:
            await deliver(http, ingest, stripe_event(kind, sub, account=agency.account_id))

    async def shown() -> bool:
        found = await _portal(invoicing, client, workspace_id, "billing")
        return [s["id"] for s in found["subscriptions"]] == [subscription_id] and (
            found["subscriptions"][0]["product_name"] == "Automation retainer"
        )

    await eventually(shown, within=30)
    (shown_sub,) = (await _portal(invoicing, client, workspace_id, "billing"))["subscriptions"]
    assert shown_sub["status"] == "active"
    assert shown_sub["amount_cents"] == 250_000
    assert shown_sub["product_id"] == product["id"]
