"""Connected accounts changing, deleted, or revoking the platform's access; portal sessions
and plans as Stripe announces and serves them."""

from __future__ import annotations

import time

import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, Receiver, onboarded_account

pytestmark = pytest.mark.integration
DAY = 86400


def _monthly_price(client: stripe.StripeClient, opts: stripe.RequestOptions) -> stripe.Price:
    return client.v1.prices.create(
        params={
            "currency": "usd",
            "unit_amount": 4000,
            "recurring": {"interval": "month"},
            "product_data": {"name": "Retainer"},
        },
        options=opts,
    )


def test_updating_an_account_emits_account_updated(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    account_id = onboarded_account(client, fresh)
    client.v1.accounts.update(account_id, params={"metadata": {"agency_id": "a1"}})
    events = client.v1.events.list(
        params={"type": "account.updated"}, options={"stripe_account": account_id}
    ).data
    latest = events[0]
    assert latest.account == account_id
    assert latest.data.object["metadata"].to_dict() == {"agency_id": "a1"}
    assert latest.data.previous_attributes is not None
    assert latest.data.previous_attributes.to_dict() == {"metadata": {}}


def test_a_deleted_account_can_no_longer_be_used(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    account_id = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account_id}
    customer = client.v1.customers.create(options=opts)
    deleted = client.v1.accounts.delete(account_id)
    assert (deleted.id, deleted.deleted) == (account_id, True)
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.customers.retrieve(customer.id, options=opts)
    assert refused.value.error is not None
    assert refused.value.error.code == "account_invalid"
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.accounts.retrieve(account_id)
    assert missing.value.http_status == 404
    assert client.v1.accounts.list().data == []


def test_revoked_access_is_announced_then_the_account_is_out_of_reach(
    client: stripe.StripeClient, fresh: Emulator, receiver: Receiver
) -> None:
    fresh.control("POST", "/webhook_endpoints", {"url": receiver.url, "connect": True})
    account_id = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account_id}
    customer = client.v1.customers.create(options=opts)
    client.v1.subscriptions.create(
        params={
            "customer": customer.id,
            "items": [{"price": _monthly_price(client, opts).id}],
            "collection_method": "send_invoice",
            "days_until_due": 7,
        },
        options=opts,
    )
    event = fresh.control("POST", f"/accounts/{account_id}/deauthorize")
    assert (event["type"], event["account"]) == ("account.application.deauthorized", account_id)
    assert event["data"]["object"]["object"] == "application"
    events = receiver.wait_for(
        lambda evs: any(e["type"] == "account.application.deauthorized" for e in evs)
    )
    delivered = next(e for e in events if e["type"] == "account.application.deauthorized")
    assert delivered["account"] == account_id
    with pytest.raises(stripe.PermissionError) as refused:
        client.v1.customers.retrieve(customer.id, options=opts)
    assert refused.value.error is not None
    assert refused.value.error.code == "account_invalid"
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.accounts.retrieve(account_id)
    assert client.v1.accounts.list().data == []
    seen = len(receiver.received)
    fresh.advance(40 * DAY)  # renewals and due dates of that account reach no one any more
    time.sleep(0.3)
    assert len(receiver.received) == seen


def test_a_portal_session_emits_billing_portal_session_created(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    account_id = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account_id}
    customer = client.v1.customers.create(options=opts)
    session = client.v1.billing_portal.sessions.create(
        params={"customer": customer.id, "return_url": "https://example.com/back"}, options=opts
    )
    events = client.v1.events.list(
        params={"type": "billing_portal.session.created"}, options=opts
    ).data
    assert [e.data.object["id"] for e in events] == [session.id]
    assert events[0].account == account_id


def test_recurring_prices_are_served_as_plans(client: stripe.StripeClient, fresh: Emulator) -> None:
    account_id = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account_id}
    price = _monthly_price(client, opts)
    one_time = client.v1.prices.create(
        params={"currency": "usd", "unit_amount": 900, "product": str(price.product)},
        options=opts,
    )
    plans = client.v1.plans.list(options=opts).data
    assert [p.id for p in plans] == [price.id]
    plan = client.v1.plans.retrieve(price.id, options=opts)
    assert (plan.object, plan.amount, plan.interval, plan.product) == (
        "plan",
        4000,
        "month",
        price.product,
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.plans.retrieve(one_time.id, options=opts)
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.plans.retrieve(price.id)  # the platform's own plans: not this account's
    assert client.v1.plans.list(params={"product": "prod_other"}, options=opts).data == []
