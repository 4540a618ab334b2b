"""Hosted pages: invoice Pay button, customer portal (add a card)."""

from __future__ import annotations

import re

import httpx
import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, unexpanded

pytestmark = pytest.mark.integration


def _form_action(html: str) -> str:
    found = re.search(r"action='([^']+)'", html)
    assert found is not None
    return found.group(1)


def test_hosted_invoice_page_pays(client: stripe.StripeClient, fresh: Emulator) -> None:
    customer = client.v1.customers.create(params={"email": "pay@example.com"})
    invoice = client.v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 5}
    )
    client.v1.invoice_items.create(
        params={"customer": customer.id, "invoice": invoice.id, "amount": 4200, "currency": "usd"}
    )
    invoice = client.v1.invoices.finalize_invoice(invoice.id)
    assert invoice.hosted_invoice_url is not None
    page = httpx.get(invoice.hosted_invoice_url)
    assert page.status_code == 200
    assert "42.00 USD" in page.text
    paid_page = httpx.post(fresh.url + _form_action(page.text))
    assert "Payment succeeded" in paid_page.text
    assert client.v1.invoices.retrieve(invoice.id).status == "paid"


def test_portal_adds_a_card(client: stripe.StripeClient, fresh: Emulator) -> None:
    customer = client.v1.customers.create(params={"name": "Portal user"})
    session = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://example.com/back"}
    )
    page = httpx.get(session.url)
    assert page.status_code == 200
    assert "Portal user" in page.text
    httpx.post(fresh.url + _form_action(page.text), follow_redirects=True)
    customer = client.v1.customers.retrieve(customer.id)
    assert customer.invoice_settings is not None
    default = unexpanded(customer.invoice_settings.default_payment_method)
    card = client.v1.payment_methods.retrieve(default).card
    assert card is not None
    assert card.last4 == "4242"
