"""Webhook endpoints, delivery (signed, retried, faults) and the events API."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, Receiver, onboarded_account

pytestmark = pytest.mark.integration


def test_v1_webhook_endpoints(
    client: stripe.StripeClient, fresh: Emulator, receiver: Receiver
) -> None:
    endpoint = client.v1.webhook_endpoints.create(
        params={"url": receiver.url, "enabled_events": ["customer.created"]}
    )
    assert endpoint.secret is not None
    assert endpoint.secret.startswith("whsec_")
    assert [e.id for e in client.v1.webhook_endpoints.list().data] == [endpoint.id]
    client.v1.customers.create(params={"email": "one@example.com"})
    client.v1.products.create(params={"name": "not subscribed"})
    events = receiver.wait_for(lambda evs: len(evs) >= 1)
    body, header, _ = receiver.received[0]
    event = stripe.Webhook.construct_event(body.decode(), header, endpoint.secret)
    assert event.type == "customer.created"
    assert [e["type"] for e in events] == ["customer.created"]
    deleted = client.v1.webhook_endpoints.delete(endpoint.id)
    assert deleted.deleted is True
    assert client.v1.webhook_endpoints.list().data == []


def test_platform_and_connect_endpoints_split_events(
    client: stripe.StripeClient, fresh: Emulator, receiver: Receiver
) -> None:
    fresh.control("POST", "/webhook_endpoints", {"url": receiver.url + "?connect", "connect": True})
    fresh.control("POST", "/webhook_endpoints", {"url": receiver.url, "connect": False})
    agency = onboarded_account(client, fresh)
    client.v1.customers.create(options={"stripe_account": agency})
    client.v1.customers.create()
    receiver.wait_for(lambda evs: len(evs) >= 3)
    routed = Counter(
        (path.endswith("?connect"), json.loads(body).get("account"))
        for body, _, path in receiver.received
    )
    assert routed == {(True, agency): 2, (False, None): 1}


def test_failed_deliveries_are_retried_until_2xx(
    client: stripe.StripeClient, fresh: Emulator, receiver: Receiver
) -> None:
    receiver.fail_first = 2
    fresh.control("POST", "/webhook_endpoints", {"url": receiver.url, "secret": "whsec_retry"})
    customer = client.v1.customers.create()
    events = receiver.wait_for(lambda evs: len(evs) >= 1)
    assert events[0]["data"]["object"]["id"] == customer.id
    attempts = fresh.control("GET", "/webhook_deliveries")["attempts"]
    assert [a["status"] for a in attempts] == [500, 500, 200]
    event = client.v1.events.retrieve(events[0]["id"])
    assert event.pending_webhooks == 0


def test_duplicate_and_reorder_faults(
    client: stripe.StripeClient, fresh: Emulator, receiver: Receiver
) -> None:
    fresh.control("POST", "/webhook_endpoints", {"url": receiver.url, "secret": "whsec_faults"})
    fresh.control("POST", "/faults", {"duplicate_webhooks": True, "reorder_webhooks": True})
    created = [client.v1.customers.create().id for _ in range(10)]
    events = receiver.wait_for(lambda evs: len(evs) >= 20)
    ids = [e["data"]["object"]["id"] for e in events]
    assert Counter(ids) == dict.fromkeys(created, 2)
    fresh.control("DELETE", "/faults")


def test_events_api_filters(client: stripe.StripeClient, fresh: Emulator) -> None:
    client.v1.customers.create()
    product = client.v1.products.create(params={"name": "P"})
    client.v1.products.update(product.id, params={"name": "Q"})
    later = fresh.advance(100)
    client.v1.customers.create()
    assert [e.type for e in client.v1.events.list(params={"type": "product.*"}).data] == [
        "product.updated",
        "product.created",
    ]
    both = client.v1.events.list(params={"types": ["customer.created", "product.updated"]})
    assert [e.type for e in both.data] == [
        "customer.created",
        "product.updated",
        "customer.created",
    ]
    recent = client.v1.events.list(params={"created": {"gte": later}})
    assert [e.type for e in recent.data] == ["customer.created"]
    updated = client.v1.events.list(params={"type": "product.updated"}).data[0]
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes["name"] == "P"
    assert updated.request is not None
    assert updated.request.id is not None
    assert updated.request.id.startswith("req_")
