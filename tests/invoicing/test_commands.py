"""A "Charge for project" leaves nothing half-made: a refused finalize removes its invoice
item and draft (the customer's next subscription bills only its price), the same
``Idempotency-Key`` after a crash between Stripe's answer and the commit ends in the one
invoice, and the sweeper finishes what a crash left pending."""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

import httpx
import pytest
import stripe

from billing_devstack import Infra
from billing_kit.pending_commands import PendingCommand
from invoicing.models import kit_tables
from invoicing.service import invoicing_commands
from invoicing.service.commands import sweeper
from invoicing.settings import InvoicingSettings
from tests.helpers.agencies import Agency
from tests.helpers.crashes import (
    Request,
    crash_before_commit,
    pending_commands_of,
    sweeping_runtime,
)
from tests.helpers.invoicing.workspaces import register_workspace
from tests.helpers.waiting import eventually

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PRICE_CENTS = 250_000


async def _charge(
    invoicing: httpx.AsyncClient,
    agency: Agency,
    workspace_id: str,
    amount: int,
    key: str | None = None,
) -> httpx.Response:
    headers = {**agency.admin, **({"Idempotency-Key": key} if key else {})}
    return await invoicing.post(
        f"/v1/workspaces/{workspace_id}/invoices",
        json={"description": "Discovery sprint", "amount_cents": amount},
        headers=headers,
    )


async def _crashed(
    infra: Infra, invoicing: httpx.AsyncClient, agency: Agency, workspace_id: str, amount: int
) -> tuple[Request, str]:
    """A charge that crashed before its commit: the request, to make again, and its key."""

    async def charge(key: str) -> httpx.Response:
        return await _charge(invoicing, agency, workspace_id, amount, key)

    return charge, await crash_before_commit(infra.database_url, "invoicing", charge)


class Invoiced(NamedTuple):
    """A workspace whose Stripe customer exists, with the first one-off invoice it has."""

    workspace_id: str
    first: dict[str, Any]
    customer: str


@pytest.fixture
async def invoiced(
    agency: Agency,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> Invoiced:
    workspace_id = await register_workspace(subscriptions, agency)
    first: dict[str, Any] = {}

    async def issued() -> bool:  # once catalog's profile reached invoicing, the gate is open
        response = await _charge(invoicing, agency, workspace_id, 5_000)
        if response.status_code == 201:
            first.update(response.json())
        return response.status_code == 201

    await eventually(issued, within=30)
    return Invoiced(workspace_id, first, await _customer_of(stripe_sdk, agency, first))


def _options(agency: Agency) -> Any:
    return {"stripe_account": agency.account_id}


async def _open_invoices(sdk: stripe.StripeClient, agency: Agency, customer: str) -> list[Any]:
    listed = await sdk.v1.invoices.list_async(
        params={"customer": customer, "limit": 100}, options=_options(agency)
    )
    return [i for i in listed.data if i.status not in ("void", "deleted")]


async def _customer_of(sdk: stripe.StripeClient, agency: Agency, invoice: dict[str, Any]) -> str:
    found = await sdk.v1.invoices.retrieve_async(
        invoice["stripe_invoice_id"], options=_options(agency)
    )
    return str(found.customer)


async def test_a_refused_finalize_leaves_no_pending_item_for_the_next_subscription(
    agency: Agency,
    catalog: httpx.AsyncClient,
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
    invoiced: Invoiced,
) -> None:
    workspace_id, first, customer = invoiced
    armed = await emulator.post(
        "/_emulator/faults",
        json={"fail_next": {"count": 1, "status": 400, "path": "/v1/invoices/", "method": "POST"}},
    )
    assert armed.status_code == 200
    refused = await _charge(invoicing, agency, workspace_id, 7_000)
    assert refused.status_code == 502, refused.text
    assert refused.json()["error"]["code"] == "stripe_error"

    items = await stripe_sdk.v1.invoice_items.list_async(
        params={"customer": customer, "pending": True}, options=_options(agency)
    )
    assert items.data == []
    assert [i.id for i in await _open_invoices(stripe_sdk, agency, customer)] == [
        first["stripe_invoice_id"]
    ]

    product = await catalog.post(
        "/v1/products",
        json={"name": "Retainer", "cadence": "monthly", "amount_cents": PRICE_CENTS},
        headers=agency.admin,
    )
    assert product.status_code == 201, product.text
    started: dict[str, Any] = {}

    async def subscribed() -> bool:  # once the product reached subscriptions
        response = await subscriptions.post(
            f"/v1/workspaces/{workspace_id}/subscriptions",
            json={"product_id": product.json()["id"]},
            headers=agency.admin,
        )
        started.update(response.json())
        return response.status_code == 201

    await eventually(subscribed, within=30)
    first_invoice = await stripe_sdk.v1.invoices.retrieve_async(
        started["latest_invoice"]["id"], options=_options(agency)
    )
    assert first_invoice.amount_due == PRICE_CENTS


async def test_the_same_key_after_a_crash_before_the_commit_ends_in_one_invoice(
    agency: Agency,
    infra: Infra,
    invoicing: httpx.AsyncClient,
    invoiced: Invoiced,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, first, customer = invoiced
    charge, key = await _crashed(infra, invoicing, agency, workspace_id, 12_300)

    retried = await charge(key)
    assert retried.status_code == 201, retried.text
    again = await charge(key)
    assert again.json()["stripe_invoice_id"] == retried.json()["stripe_invoice_id"]

    on_stripe = await _open_invoices(stripe_sdk, agency, customer)
    assert sorted(i.id for i in on_stripe) == sorted(
        [first["stripe_invoice_id"], retried.json()["stripe_invoice_id"]]
    )
    listed = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin)
    assert len(listed.json()["data"]) == 2


async def _pending_of(infra: Infra, agency: Agency) -> list[dict[str, Any]]:
    return await pending_commands_of(infra.database_url, "invoicing", agency.agency_id)


async def test_the_sweeper_finishes_a_one_off_invoice_a_crash_left_pending(
    agency: Agency,
    infra: Infra,
    invoicing: httpx.AsyncClient,
    invoiced: Invoiced,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, first, customer = invoiced
    charge, key = await _crashed(infra, invoicing, agency, workspace_id, 8_800)
    left = [row for row in await _pending_of(infra, agency)]
    assert [row["status"] for row in left if row["status"] != "done"] == ["pending"]

    async with sweeping_runtime(InvoicingSettings, kit_tables, infra) as runtime:
        assert await sweeper(runtime).sweep() >= 1
        [pending_id] = [row["id"] for row in left if row["status"] == "pending"]
        done = await invoicing_commands(runtime).get(pending_id)
    assert isinstance(done, PendingCommand)
    assert done.status == "done"
    assert done.result is not None
    made = done.result["stripe_invoice_id"]

    on_stripe = await _open_invoices(stripe_sdk, agency, customer)
    assert sorted(i.id for i in on_stripe) == sorted([first["stripe_invoice_id"], made])
    assert {i.id: i.status for i in on_stripe}[made] == "open"
    listed = await invoicing.get(f"/v1/workspaces/{workspace_id}/invoices", headers=agency.admin)
    assert made in {i["stripe_invoice_id"] for i in listed.json()["data"]}
    assert uuid.UUID(pending_id)

    # The caller's retry with the same key, after the sweeper: the one invoice again.
    retried = await charge(key)
    assert retried.status_code == 201, retried.text
    assert retried.json()["stripe_invoice_id"] == made
    on_stripe = await _open_invoices(stripe_sdk, agency, customer)
    assert sorted(i.id for i in on_stripe) == sorted([first["stripe_invoice_id"], made])


async def test_the_sweeper_withdraws_what_a_refused_one_off_could_not_remove_at_once(
    agency: Agency,
    infra: Infra,
    invoicing: httpx.AsyncClient,
    invoiced: Invoiced,
    emulator: httpx.AsyncClient,
    stripe_sdk: stripe.StripeClient,
) -> None:
    workspace_id, first, customer = invoiced
    refusals = [
        {"count": 1, "status": 400, "path": "/v1/invoices/", "method": "POST"},  # finalize
        {"count": 1, "status": 400, "path": "/v1/invoiceitems/", "method": "DELETE"},
    ]
    armed = await emulator.post("/_emulator/faults", json={"fail_next": refusals})
    assert armed.status_code == 200
    refused = await _charge(invoicing, agency, workspace_id, 6_600)
    assert refused.status_code == 502, refused.text
    [undoing] = [r for r in await _pending_of(infra, agency) if r["status"] == "undoing"]
    items = await stripe_sdk.v1.invoice_items.list_async(
        params={"customer": customer}, options=_options(agency)
    )
    assert [i.amount for i in items.data if i.invoice != first["stripe_invoice_id"]] == [6_600]

    async with sweeping_runtime(InvoicingSettings, kit_tables, infra) as runtime:
        assert await sweeper(runtime).sweep() >= 1
        failed = await invoicing_commands(runtime).get(undoing["id"])
    assert failed is not None
    assert failed.status == "failed"
    items = await stripe_sdk.v1.invoice_items.list_async(
        params={"customer": customer}, options=_options(agency)
    )
    assert [i.invoice for i in items.data] == [first["stripe_invoice_id"]]
    assert [i.id for i in await _open_invoices(stripe_sdk, agency, customer)] == [
        first["stripe_invoice_id"]
    ]
