"""A client's subscription driven through the whole stack: the card the client saves, Pay now
on Stripe's hosted page, the emulator's clock, the renewals Stripe made, the subscription's
answer once it holds what is wanted, a migration once subscriptions knows the target."""

from __future__ import annotations

from typing import Any

import httpx
import stripe

from tests.helpers.agencies import Agency
from tests.helpers.waiting import eventually
from tests.helpers.workspaces import listed, on_account, post_when_replicated

MONTH_AND_A_BIT = 32 * 86400


def use_card(sdk: stripe.StripeClient, agency: Agency, customer_id: str, card: str) -> None:
    """The client saves a card as their default (what the customer portal does)."""
    method = sdk.v1.payment_methods.attach(
        card, params={"customer": customer_id}, options=on_account(agency)
    )
    sdk.v1.customers.update(
        customer_id,
        params={"invoice_settings": {"default_payment_method": method.id}},
        options=on_account(agency),
    )


async def pay_now(hosted_invoice_url: str) -> None:
    """The client presses Pay now on Stripe's hosted invoice page."""
    async with httpx.AsyncClient(timeout=30) as browser:
        page = await browser.get(hosted_invoice_url)
        assert page.status_code == 200
        assert "open" in page.text
        paid = await browser.post(f"{hosted_invoice_url}/pay")
        assert "Payment succeeded" in paid.text, paid.text


def renewals(sdk: stripe.StripeClient, agency: Agency, stripe_subscription_id: str) -> list[str]:
    invoices = sdk.v1.invoices.list(
        params={"subscription": stripe_subscription_id}, options=on_account(agency)
    ).data
    return [f"{i.billing_reason}:{i.status}" for i in invoices]


async def advance(emulator: httpx.AsyncClient, seconds: int) -> None:
    response = await emulator.post("/_emulator/clock/advance", json={"seconds": seconds})
    assert response.status_code == 200, response.text


async def answer(
    subscriptions: httpx.AsyncClient, agency: Agency, workspace_id: str, subscription_id: str
) -> dict[str, Any]:
    (found,) = [
        s for s in await listed(subscriptions, agency, workspace_id) if s["id"] == subscription_id
    ]
    return found


async def until(
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    workspace_id: str,
    subscription_id: str,
    **wanted: Any,
) -> dict[str, Any]:
    """The subscription's answer once each of ``wanted`` (``latest_invoice__status`` for a
    field of its latest invoice) holds."""
    found: dict[str, Any] = {}

    async def holds() -> bool:
        nonlocal found
        found = await answer(subscriptions, agency, workspace_id, subscription_id)
        for key, value in wanted.items():
            outer, _, inner = key.partition("__")
            got = found[outer][inner] if inner else found[outer]
            if got != value:
                return False
        return True

    await eventually(holds, within=60)
    return found


def newest_invoice(sdk: stripe.StripeClient, agency: Agency, stripe_id: str) -> stripe.Invoice:
    return sdk.v1.invoices.list(
        params={"subscription": stripe_id, "limit": 1}, options=on_account(agency)
    ).data[0]


async def migrate(
    subscriptions: httpx.AsyncClient,
    agency: Agency,
    workspace_id: str,
    subscription_id: str,
    **body: Any,
) -> httpx.Response:
    """Migrate once subscriptions knows the target product (catalog's event may be late)."""
    path = f"/v1/workspaces/{workspace_id}/subscriptions/{subscription_id}/migrate"
    return await post_when_replicated(subscriptions, agency, path, body)
