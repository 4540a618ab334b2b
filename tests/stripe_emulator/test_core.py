"""Cross-cutting behaviour: auth, Stripe-Account, idempotency, errors, lists, expand, faults."""

from __future__ import annotations

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

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:Use .content=:DeprecationWarning"),
]


def test_healthz(emulator: Emulator) -> None:
    assert httpx.get(f"{emulator.url}/healthz").json() == {"status": "ok"}


def test_api_key_is_required(fresh: Emulator) -> None:
    missing = httpx.get(f"{fresh.url}/v1/customers")
    assert missing.status_code == 401
    assert missing.json()["error"]["type"] == "invalid_request_error"
    live = stripe.StripeClient("sk_live_nope", base_addresses={"api": fresh.url})
    with pytest.raises(stripe.AuthenticationError):
        live.v1.customers.list()


def test_objects_belong_to_their_account(client: stripe.StripeClient, fresh: Emulator) -> None:
    agency_a = onboarded_account(client, fresh)
    agency_b = onboarded_account(client, fresh)
    customer = client.v1.customers.create(options={"stripe_account": agency_a})
    assert client.v1.customers.retrieve(customer.id, options={"stripe_account": agency_a})
    with pytest.raises(stripe.InvalidRequestError) as other:
        client.v1.customers.retrieve(customer.id, options={"stripe_account": agency_b})
    assert other.value.http_status == 404
    assert other.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.retrieve(customer.id)
    assert client.v1.customers.list(options={"stripe_account": agency_b}).data == []
    with pytest.raises(stripe.PermissionError):
        client.v1.customers.list(options={"stripe_account": "acct_unknown"})


def test_idempotency_key_replays_and_refuses_other_params(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    first = client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "key-1"}
    )
    again = client.v1.customers.create(
        params={"email": "a@example.com"}, options={"idempotency_key": "key-1"}
    )
    assert again.id == first.id
    assert len(client.v1.customers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(
            params={"email": "b@example.com"}, options={"idempotency_key": "key-1"}
        )
    agency = onboarded_account(client, fresh)
    scoped = client.v1.customers.create(
        params={"email": "a@example.com"},
        options={"idempotency_key": "key-1", "stripe_account": agency},
    )
    assert scoped.id != first.id


def test_error_body_has_stripe_fields(fresh: Emulator) -> None:
    response = httpx.post(
        f"{fresh.url}/v1/prices",
        headers={"Authorization": f"Bearer {API_KEY}"},
        data={"currency": "usd", "unit_amount": "100"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "product"
    assert "message" in error
    unknown = httpx.get(f"{fresh.url}/v1/nothing", headers={"Authorization": f"Bearer {API_KEY}"})
    assert unknown.status_code == 404


def test_pagination(client: stripe.StripeClient, fresh: Emulator) -> None:
    ids = [client.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    newest_first = list(reversed(ids))
    page = client.v1.customers.list(params={"limit": 2})
    assert [c.id for c in page.data] == newest_first[:2]
    assert page.has_more is True
    assert page.url == "/v1/customers"
    page2 = client.v1.customers.list(params={"limit": 2, "starting_after": page.data[-1].id})
    assert [c.id for c in page2.data] == newest_first[2:4]
    back = client.v1.customers.list(params={"limit": 2, "ending_before": newest_first[4]})
    assert [c.id for c in back.data] == newest_first[2:4]
    assert [c.id for c in page.auto_paging_iter()] == newest_first


def test_expand_and_form_nesting(client: stripe.StripeClient, fresh: Emulator) -> None:
    agency = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": agency}
    product = client.v1.products.create(
        params={
            "name": "Retainer",
            "metadata": {"workspace_id": "w1", "0": "zero"},
            "default_price_data": {"currency": "usd", "unit_amount": 1500},
        },
        options=opts,
    )
    assert product.metadata.to_dict() == {"workspace_id": "w1", "0": "zero"}
    with_price = client.v1.products.retrieve(
        product.id, params={"expand": ["default_price"]}, options=opts
    )
    assert expanded(with_price.default_price, stripe.Price).unit_amount == 1500
    listed = client.v1.products.list(params={"expand": ["data.default_price"]}, options=opts)
    listed_price = expanded(listed.data[0].default_price, stripe.Price)
    assert listed_price.id == unexpanded(product.default_price)


def test_price_updates_only_what_stripe_allows(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    product = client.v1.products.create(params={"name": "P"})
    price = client.v1.prices.create(
        params={"product": product.id, "currency": "usd", "unit_amount": 900}
    )
    updated = client.v1.prices.update(
        price.id, params={"active": False, "nickname": "old", "lookup_key": "p_old"}
    )
    assert (updated.active, updated.nickname, updated.lookup_key) == (False, "old", "p_old")
    for forbidden in (
        {"unit_amount": 100},
        {"currency": "eur"},
        {"recurring": {"interval": "year"}},
    ):
        with pytest.raises(stripe.InvalidRequestError, match="Received unknown parameter"):
            # Deliberately outside PriceUpdateParams: the point is that Stripe refuses them.
            client.v1.prices.update(price.id, params=forbidden)  # type: ignore[arg-type]
    with pytest.raises(stripe.InvalidRequestError, match="cannot be deleted"):
        client.v1.products.delete(product.id)


def test_fail_next_calls_and_latency(client: stripe.StripeClient, fresh: Emulator) -> None:
    fresh.control("POST", "/faults", {"fail_next": {"count": 2, "status": 429}})
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    with pytest.raises(stripe.RateLimitError):
        client.v1.customers.list()
    assert client.v1.customers.list().data == []
    fresh.control("POST", "/faults", {"fail_next": {"count": 1, "status": 500}})
    retrying = stripe.StripeClient(
        API_KEY, base_addresses={"api": fresh.url}, max_network_retries=2
    )
    assert retrying.v1.customers.create(params={"email": "r@example.com"}).email == "r@example.com"
    fresh.control("POST", "/faults", {"latency_ms": 50})
    with httpx.Client() as http:
        response = http.get(
            f"{fresh.url}/v1/customers", headers={"Authorization": f"Bearer {API_KEY}"}
        )
        assert response.elapsed.total_seconds() >= 0.05
    fresh.control("DELETE", "/faults")


def test_reset_and_clock(client: stripe.StripeClient, fresh: Emulator) -> None:
    client.v1.customers.create()
    before = fresh.control("GET", "/clock")["now"]
    after = fresh.advance(86400)
    assert after >= before + 86400
    assert client.v1.customers.create().created >= before + 86400
    fresh.control("POST", "/reset")
    assert client.v1.customers.list().data == []


async def test_async_client(async_client: stripe.StripeClient, fresh: Emulator) -> None:
    v1 = async_client.v1
    account = await v1.accounts.create_async(params={"type": "express"})
    fresh.control("POST", f"/accounts/{account.id}/complete_onboarding")
    opts: stripe.RequestOptions = {"stripe_account": account.id}
    customer = await v1.customers.create_async(params={"email": "x@example.com"}, options=opts)
    product = await v1.products.create_async(params={"name": "Async"}, options=opts)
    price = await v1.prices.create_async(
        params={
            "product": product.id,
            "currency": "usd",
            "unit_amount": 3000,
            "recurring": {"interval": "year"},
        },
        options=opts,
    )
    sub = await v1.subscriptions.create_async(
        params={
            "customer": customer.id,
            "items": [{"price": price.id}],
            "default_payment_method": "pm_card_visa",
            "expand": ["latest_invoice"],
        },
        options=opts,
    )
    assert sub.status == "active"
    fetched = await v1.subscriptions.retrieve_async(sub.id, options=opts)
    item = fetched["items"].data[0]
    assert item.current_period_end - item.current_period_start >= 365 * 86400
    listed = await v1.invoices.list_async(params={"customer": customer.id}, options=opts)
    assert [i.status for i in listed.data] == ["paid"]
    canceled = await v1.subscriptions.cancel_async(sub.id, options=opts)
    assert canceled.status == "canceled"


def test_api_calls_are_counted_per_acting_account(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    agency = onboarded_account(client, fresh)
    customer = client.v1.customers.create(options={"stripe_account": agency})
    for _ in range(2):
        client.v1.customers.retrieve(customer.id, options={"stripe_account": agency})
    client.v1.customers.list()
    assert fresh.control("GET", f"/requests?account={agency}") == {
        "POST create_customer": 1,
        "GET retrieve_customer": 2,
    }
    assert fresh.control("GET", "/requests")["GET list_customers"] == 1
    fresh.control("POST", "/reset")
    assert fresh.control("GET", "/requests") == {}
