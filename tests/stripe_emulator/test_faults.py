"""`POST /_emulator/faults` `fail_next`: scoped by path and method, Stripe-shaped refusals."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import API_KEY, Emulator

pytestmark = pytest.mark.integration


def _retrying(emulator: Emulator) -> stripe.StripeClient:
    return stripe.StripeClient(API_KEY, base_addresses={"api": emulator.url}, max_network_retries=2)


def test_only_matching_calls_consume_the_failure(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    armed = fresh.control(
        "POST",
        "/faults",
        {"fail_next": {"count": 1, "status": 500, "path": "/v1/prices", "method": "post"}},
    )
    assert armed["fail_next"] == [
        {"count": 1, "status": 500, "path": "/v1/prices", "method": "POST"}
    ]
    product = client.v1.products.create(params={"name": "P"})  # other path
    assert client.v1.prices.list().data == []  # same path, other method
    with pytest.raises(stripe.APIError) as failed:
        client.v1.prices.create(
            params={"product": product.id, "currency": "usd", "unit_amount": 100}
        )
    assert failed.value.http_status == 500
    assert client.v1.prices.list().data == []  # the failed call changed nothing
    price = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 100}
    )
    assert [p.id for p in client.v1.prices.list().data] == [price.id]
    assert fresh.control("GET", "/faults")["fail_next"] == []


def test_path_is_a_prefix_and_rules_are_independent(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    fresh.control(
        "POST",
        "/faults",
        {
            "fail_next": [
                {"count": 2, "status": 429, "path": "/v1/customers"},
                {"count": 1, "status": 503, "method": "DELETE"},
            ]
        },
    )
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    product = client.v1.products.create(params={"name": "unaffected"})
    with pytest.raises(stripe.RateLimitError):  # "/v1/customers" matches "/v1/customers/…"
        client.v1.customers.retrieve("cus_missing")
    created = client.v1.customers.create()  # the 429 rule is spent
    with pytest.raises(stripe.APIError) as unavailable:
        client.v1.products.delete(product.id)
    assert unavailable.value.http_status == 503
    assert client.v1.customers.delete(created.id).deleted is True


def test_a_400_refusal_is_stripe_shaped_and_not_retried(fresh: Emulator) -> None:
    fresh.control(
        "POST",
        "/faults",
        {
            "fail_next": {
                "count": 1,
                "status": 400,
                "path": "/v1/customers",
                "method": "POST",
                "code": "parameter_invalid_empty",
                "param": "email",
                "message": "You passed an empty string for 'email'.",
            }
        },
    )
    client = _retrying(fresh)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.customers.create(params={"email": "x@example.com"})
    error = refused.value.error
    assert error is not None
    assert refused.value.http_status == 400
    assert (error.type, error.code, error.param, error.message) == (
        "invalid_request_error",
        "parameter_invalid_empty",
        "email",
        "You passed an empty string for 'email'.",
    )
    # Had the SDK retried, the retry would have succeeded and created the customer.
    assert client.v1.customers.list().data == []


def test_a_402_is_a_card_error(fresh: Emulator) -> None:
    fresh.control(
        "POST",
        "/faults",
        {
            "fail_next": {
                "status": 402,
                "path": "/v1/payment_intents",
                "decline_code": "do_not_honor",
            }
        },
    )
    client = _retrying(fresh)
    with pytest.raises(stripe.CardError) as declined:
        client.v1.payment_intents.create(
            params={
                "amount": 1000,
                "currency": "usd",
                "payment_method": "pm_card_visa",
                "confirm": True,
            }
        )
    assert declined.value.http_status == 402
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "do_not_honor"
    assert client.v1.payment_intents.list().data == []


def test_v2_calls_can_fail_too(client: stripe.StripeClient, fresh: Emulator) -> None:
    fresh.control("POST", "/faults", {"fail_next": {"status": 500, "path": "/v2/core/accounts"}})
    with pytest.raises(stripe.APIError):
        client.v2.core.accounts.create(params={"display_name": "Agency"})
    assert client.v2.core.accounts.create(params={"display_name": "Agency"}).id


@pytest.mark.parametrize(
    "fail_next",
    [
        {"status": 200},
        {"count": -1},
        {"path": "v1/prices"},
        {"method": "PATCH"},
        {"status": 400, "messsage": "typo"},
        "500",
    ],
)
def test_bad_fault_specs_are_refused_and_change_nothing(fresh: Emulator, fail_next: object) -> None:
    fresh.control("POST", "/faults", {"latency_ms": 0, "fail_next": {"count": 1, "path": "/v1/x"}})
    response = httpx.post(
        f"{fresh.url}/_emulator/faults", json={"fail_next": fail_next, "latency_ms": 5}
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "fail_next"
    state = fresh.control("GET", "/faults")
    assert (state["latency_ms"], state["fail_next"]) == (
        0,
        [{"count": 1, "status": 500, "path": "/v1/x"}],
    )
