"""SaaS fees paid from a connected account's Stripe balance."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import (
    API_KEY,
    Emulator,
    expanded,
    onboarded_account,
    unexpanded,
)

pytestmark = pytest.mark.integration
DAY = 86400


def _fund(client: stripe.StripeClient, emulator: Emulator, agency: str, amount: int) -> None:
    """A card payment on the agency's account, then time for it to become available."""
    client.v1.payment_intents.create(
        params={
            "amount": amount,
            "currency": "usd",
            "payment_method": "pm_card_visa",
            "confirm": True,
        },
        options={"stripe_account": agency},
    )
    emulator.advance(3 * DAY)


def _saas_subscription(client: stripe.StripeClient, agency: str) -> stripe.Subscription:
    v1 = client.v1
    product = v1.products.create(params={"name": "Platform fee"})
    price = v1.prices.create(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 4900,
            "recurring": {"interval": "month"},
        }
    )
    setup = v1.setup_intents.create(
        params={
            "allowed_payment_method_types": ["stripe_balance"],
            "customer_account": agency,
            "confirm": True,
            "usage": "off_session",
        }
    )
    assert setup.status == "succeeded"
    assert setup.payment_method_types == ["stripe_balance"]
    pm = v1.payment_methods.retrieve(unexpanded(setup.payment_method))
    assert pm.type == "stripe_balance"
    return v1.subscriptions.create(
        params={
            "customer_account": agency,
            "items": [{"price": price.id}],
            "default_payment_method": pm.id,
            "payment_settings": {"payment_method_types": ["stripe_balance"]},
            "expand": ["latest_invoice"],
        }
    )


def _v2_agency(client: stripe.StripeClient, emulator: Emulator) -> str:
    """An Accounts v2 account with merchant and customer configurations, onboarded."""
    account = client.v2.core.accounts.create(
        params={
            "contact_email": "agency@example.com",
            "display_name": "Agency",
            "dashboard": "full",
            "identity": {"country": "us"},
            "configuration": {
                "customer": {},
                "merchant": {"capabilities": {"card_payments": {"requested": True}}},
            },
        }
    )
    assert account.applied_configurations == ["customer", "merchant"]
    emulator.control("POST", f"/accounts/{account.id}/complete_onboarding")
    again = client.v2.core.accounts.retrieve(account.id)
    assert again.configuration is not None
    merchant = again.configuration.merchant
    assert merchant is not None
    assert merchant.capabilities is not None
    assert merchant.capabilities.card_payments is not None
    assert merchant.capabilities.card_payments.status == "active"
    return account.id


def _v1_agency_as_customer(client: stripe.StripeClient, emulator: Emulator) -> str:
    """A v1-made connected account (as catalog makes them) given the v2 ``customer`` and
    ``merchant`` configurations afterwards, as Stripe allows."""
    agency = onboarded_account(client, emulator)
    updated = client.v2.core.accounts.update(
        agency,
        params={
            "configuration": {
                "customer": {},
                "merchant": {"capabilities": {"card_payments": {"requested": True}}},
            }
        },
    )
    assert updated.applied_configurations == ["customer", "merchant"]
    return agency


def test_v2_manages_an_account_made_with_v1(client: stripe.StripeClient, fresh: Emulator) -> None:
    agency = onboarded_account(client, fresh)
    before = client.v2.core.accounts.retrieve(agency)
    assert (before.applied_configurations, before.dashboard) == ([], "express")
    client.v2.core.accounts.update(agency, params={"configuration": {"customer": {}}})
    after = client.v2.core.accounts.retrieve(agency)
    assert after.applied_configurations == ["customer"]
    assert client.v1.accounts.retrieve(agency).charges_enabled is True


def test_balance_payments_need_the_customer_configuration(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    agency = onboarded_account(client, fresh)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.setup_intents.create(
            params={
                "allowed_payment_method_types": ["stripe_balance"],
                "customer_account": agency,
                "confirm": True,
            }
        )
    assert refused.value.param == "customer_account"
    assert "customer and merchant" in str(refused.value.user_message)


def test_balance_payment_debits_the_agency(client: stripe.StripeClient, fresh: Emulator) -> None:
    agency = _v2_agency(client, fresh)
    client.v1.accounts.update(
        agency, params={"settings": {"payouts": {"schedule": {"interval": "manual"}}}}
    )
    _fund(client, fresh, agency, 10_000)
    before = client.v1.balance.retrieve(options={"stripe_account": agency}).available[0].amount
    sub = _saas_subscription(client, agency)
    assert sub.status == "active"
    assert expanded(sub.latest_invoice, stripe.Invoice).status == "paid"
    items = client.v1.subscription_items.list(params={"subscription": sub.id}).data
    assert [i.price.unit_amount for i in items] == [4900]
    after = client.v1.balance.retrieve(options={"stripe_account": agency}).available[0].amount
    assert before - after == 4900


def test_insufficient_balance_fails_and_retries_on_schedule(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    now = dt.datetime.fromtimestamp(fresh.control("GET", "/clock")["now"], dt.UTC)
    monday = (now + dt.timedelta(days=7 - now.weekday())).replace(hour=1, minute=0, second=0)
    fresh.advance(int((monday - now).total_seconds()))  # start on a Monday: Sunday is far
    agency = _v1_agency_as_customer(client, fresh)
    client.v1.accounts.update(
        agency, params={"settings": {"payouts": {"schedule": {"interval": "manual"}}}}
    )
    sub = _saas_subscription(client, agency)
    assert sub.status == "incomplete"
    invoice = expanded(sub.latest_invoice, stripe.Invoice)
    assert (invoice.status, invoice.attempt_count) == ("open", 1)
    payment = client.v1.invoice_payments.list(params={"invoice": invoice.id}).data[0]
    pi = client.v1.payment_intents.retrieve(unexpanded(payment.payment.payment_intent))
    assert pi.status == "requires_action"
    failed_at = invoice.status_transitions.finalized_at
    assert failed_at is not None
    assert invoice.next_payment_attempt is not None
    assert invoice.next_payment_attempt >= failed_at + DAY
    events = client.v1.events.list(params={"type": "invoice.payment_failed"}).data
    assert [e.data.object.id for e in events] == [invoice.id]

    fresh.advance(DAY + 60)  # first retry, still short
    invoice = client.v1.invoices.retrieve(invoice.id)
    assert invoice.attempt_count == 2
    assert invoice.next_payment_attempt is not None
    second = dt.datetime.fromtimestamp(invoice.next_payment_attempt, dt.UTC)
    assert second.weekday() == 6  # the following Sunday

    _fund(client, fresh, agency, 10_000)
    fresh.advance(8 * DAY)
    invoice = client.v1.invoices.retrieve(invoice.id)
    assert invoice.status == "paid"
    assert client.v1.subscriptions.retrieve(sub.id).status == "active"


def test_manual_retry_after_funding(client: stripe.StripeClient, fresh: Emulator) -> None:
    agency = _v1_agency_as_customer(client, fresh)
    client.v1.accounts.update(
        agency, params={"settings": {"payouts": {"schedule": {"interval": "manual"}}}}
    )
    sub = _saas_subscription(client, agency)
    invoice = expanded(sub.latest_invoice, stripe.Invoice)
    balance_pm = unexpanded(sub.default_payment_method)
    with pytest.raises(stripe.CardError):
        client.v1.invoices.pay(invoice.id, params={"payment_method": balance_pm})
    _fund(client, fresh, agency, 6000)
    paid = client.v1.invoices.pay(invoice.id, params={"payment_method": balance_pm})
    assert paid.status == "paid"


def test_intents_refuse_the_removed_payment_method_types(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    """Since 2026-09-30.endive only `allowed_payment_method_types` is writable on intents."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    for path in ("/v1/setup_intents", "/v1/payment_intents"):
        response = httpx.post(
            fresh.url + path,
            data={"payment_method_types[]": "card", "amount": "1000", "currency": "usd"},
            headers=auth,
        )
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["code"], error["param"]) == (
            "invalid_request_error",
            "payment_method_types_no_longer_supported",
            "payment_method_types",
        )
    pi = client.v1.payment_intents.create(
        params={"amount": 1000, "currency": "usd", "allowed_payment_method_types": ["card"]}
    )
    assert (pi.allowed_payment_method_types, pi.payment_method_types) == (["card"], ["card"])
