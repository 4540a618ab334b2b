"""A client's invoices driven the way people drive them: the agency charges a client workspace
through our API, the client pays on Stripe, and the portal is read until it shows what Stripe
did. Shared by the end-to-end tests and ``bench/invoice_states.py`` (which times the same
steps)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from invoicing.rules import application_fee_cents
from tests.helpers.agencies import Agency
from tests.helpers.invoicing.workspaces import register_workspace
from tests.helpers.tokens import Tokens
from tests.helpers.waiting import eventually

STATE_DEADLINE = 30.0
"""Seconds after which a state Stripe reached counts as lost rather than late."""


@dataclass(frozen=True)
class Client:
    """A client workspace of the agency, with its Stripe customer on the agency's account."""

    agency: Agency
    workspace_id: str
    customer_id: str
    admin: dict[str, str]
    portal: dict[str, str]

    @property
    def options(self) -> Any:
        return {"stripe_account": self.agency.account_id}


async def client_of(agency: Agency, sdk: stripe.StripeClient, tokens: Tokens) -> Client:
    """A client whose Stripe customer the agency made on Stripe itself."""
    workspace_id = f"ws-{uuid.uuid4().hex[:10]}"
    options: Any = {"stripe_account": agency.account_id}
    customer = await sdk.v1.customers.create_async(
        params={
            "email": "billing@client.example",
            "metadata": {"agency_id": agency.agency_id, "workspace_id": workspace_id},
        },
        options=options,
    )
    return Client(
        agency,
        workspace_id,
        customer.id,
        agency.admin,
        tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id]),
    )


async def shows(
    invoicing: httpx.AsyncClient,
    client: Client,
    stripe_invoice_id: str,
    expected: Callable[[dict[str, Any]], bool],
    *,
    poll: float = 0.1,
) -> tuple[dict[str, Any], float]:
    """Read the portal until it shows the invoice as expected (at most ``STATE_DEADLINE``);
    the invoice as shown and the wall-clock time it was first seen so."""
    found: dict[str, Any] = {}

    async def check() -> bool:
        response = await invoicing.get(
            f"/v1/portal/workspaces/{client.workspace_id}/invoices", headers=client.portal
        )
        listed = {i["stripe_invoice_id"]: i for i in response.json()["data"]}
        found.update(listed.get(stripe_invoice_id) or {})
        return stripe_invoice_id in listed and expected(listed[stripe_invoice_id])

    await eventually(check, within=STATE_DEADLINE, poll=poll)
    return found, time.time()


async def charge_for_project(
    invoicing: httpx.AsyncClient,
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    tokens: Tokens,
    amount: int,
) -> tuple[Client, str]:
    """The agency registers a client workspace and charges it for a project through our API;
    the workspace's Stripe customer is the one subscriptions made for it."""
    workspace_id = await register_workspace(subscriptions, agency)
    charged: list[httpx.Response] = []

    async def sent() -> bool:  # once catalog's profile reached invoicing, the gate is open
        charged[:] = [
            await invoicing.post(
                f"/v1/workspaces/{workspace_id}/invoices",
                json={"description": "Custom build", "amount_cents": amount},
                headers=agency.admin,
            )
        ]
        return charged[0].status_code != 409

    await eventually(sent, within=30)
    assert charged[0].status_code == 201, charged[0].text
    invoice = charged[0].json()
    assert invoice["status"] == "open"
    assert invoice["application_fee_cents"] == application_fee_cents(amount)
    portal = tokens.headers("client", agency.agency_id, workspace_ids=[workspace_id])
    client = Client(agency, workspace_id, "", agency.admin, portal)
    return client, str(invoice["stripe_invoice_id"])


async def pay(sdk: stripe.StripeClient, client: Client, invoice_id: str, card: str) -> float:
    """The client pays on the hosted invoice page with ``card``; the wall-clock time Stripe
    answered (its webhooks leave then)."""
    await sdk.v1.invoices.pay_async(
        invoice_id, params={"payment_method": card}, options=client.options
    )
    return time.time()


async def charge_of(sdk: stripe.StripeClient, client: Client, invoice_id: str) -> Any:
    """The Stripe charge that paid the invoice."""
    payments = await sdk.v1.invoice_payments.list_async(
        params={"invoice": invoice_id}, options=client.options
    )
    intent_id = payments.data[0].payment.payment_intent
    assert isinstance(intent_id, str)
    intent = await sdk.v1.payment_intents.retrieve_async(intent_id, options=client.options)
    assert isinstance(intent.latest_charge, str)
    return await sdk.v1.charges.retrieve_async(intent.latest_charge, options=client.options)


async def subscribe(sdk: stripe.StripeClient, client: Client, card: str) -> Any:
    """A monthly subscription on the agency's account with the platform's 0.5 % fee, made on
    Stripe itself."""
    price = await sdk.v1.prices.create_async(
        params={
            "currency": "usd",
            "unit_amount": 250_000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Automation retainer"},
        },
        options=client.options,
    )
    attached = await sdk.v1.payment_methods.attach_async(
        card, params={"customer": client.customer_id}, options=client.options
    )
    return await sdk.v1.subscriptions.create_async(
        params={
            "customer": client.customer_id,
            "items": [{"price": price.id}],
            "application_fee_percent": 0.5,
            "default_payment_method": attached.id,
            "metadata": {
                "agency_id": client.agency.agency_id,
                "workspace_id": client.workspace_id,
            },
        },
        options=client.options,
    )
