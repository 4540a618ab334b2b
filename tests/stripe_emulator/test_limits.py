"""Stripe's eight-digit cap on amounts: 99999999 in the minor unit ($999,999.99)."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator

pytestmark = pytest.mark.integration

MAX = 99_999_999


def _refusal(
    raised: pytest.ExceptionInfo[stripe.InvalidRequestError],
) -> tuple[str | None, str | None, str | None]:
    """(code, param, message) of a 400 invalid_request_error."""
    error = raised.value.error
    assert error is not None
    assert raised.value.http_status == 400
    assert error.type == "invalid_request_error"
    return error.code, error.param, error.message


def test_price_unit_amount_is_capped(client: stripe.StripeClient, fresh: Emulator) -> None:
    product = client.v1.products.create(params={"name": "Big"})
    price = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": MAX}
    )
    assert price.unit_amount == MAX
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.prices.create(
            params={"product": product.id, "currency": "usd", "unit_amount": MAX + 1}
        )
    assert _refusal(raised) == (
        "parameter_invalid_integer",
        "unit_amount",
        "Invalid integer: must be at most 99999999",
    )
    with pytest.raises(stripe.InvalidRequestError) as nested:
        client.v1.products.create(
            params={
                "name": "Too big",
                "default_price_data": {"currency": "usd", "unit_amount": MAX + 1},
            }
        )
    assert _refusal(nested)[:2] == ("parameter_invalid_integer", "default_price_data[unit_amount]")
    names = [p.name for p in client.v1.products.list().data]
    assert names == ["Big"]  # the refused product was not created
    assert [p.id for p in client.v1.prices.list().data] == [price.id]


def test_invoice_item_amount_is_capped(client: stripe.StripeClient, fresh: Emulator) -> None:
    customer = client.v1.customers.create()
    item = client.v1.invoice_items.create(
        params={"customer": customer.id, "amount": MAX, "currency": "usd"}
    )
    assert item.amount == MAX
    for amount in (MAX + 1, -(MAX + 1)):
        with pytest.raises(stripe.InvalidRequestError) as raised:
            client.v1.invoice_items.create(
                params={"customer": customer.id, "amount": amount, "currency": "usd"}
            )
        assert _refusal(raised) == (
            "amount_too_large",
            "amount",
            "Amount must be no more than $999,999.99",
        )
    with pytest.raises(stripe.InvalidRequestError) as updating:
        client.v1.invoice_items.update(item.id, params={"amount": MAX + 1})
    assert _refusal(updating)[:2] == ("amount_too_large", "amount")
    assert client.v1.invoice_items.retrieve(item.id).amount == MAX
    assert [i.id for i in client.v1.invoice_items.list().data] == [item.id]


def test_payment_intent_amount_is_capped(client: stripe.StripeClient, fresh: Emulator) -> None:
    pi = client.v1.payment_intents.create(params={"amount": MAX, "currency": "usd"})
    assert pi.amount == MAX
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.payment_intents.create(
            params={
                "amount": MAX + 1,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
    assert _refusal(raised) == (
        "amount_too_large",
        "amount",
        "Amount must be no more than $999,999.99",
    )
    assert [p.id for p in client.v1.payment_intents.list().data] == [pi.id]
    assert client.v1.charges.list().data == []
