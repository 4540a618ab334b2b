"""The AsyncAPI document's senders and receivers are what the services really run: each
service's runtime, built in development mode (no connection needed), against the map."""

from __future__ import annotations

import pytest

from billing_contracts import ALL_TOPICS
from billing_contracts.asyncapi import build_document
from billing_contracts.routing import PUBLICATIONS, SUBSCRIPTIONS
from tests.helpers.runtimes import runtime_of

pytestmark = pytest.mark.unit

PACKAGES = ("catalog", "subscriptions", "invoicing", "webhook_ingest", "revenue")


@pytest.mark.parametrize("package", PACKAGES)
def test_the_map_states_what_each_service_publishes_and_consumes(package: str) -> None:
    runtime = runtime_of(package)
    service = runtime.settings.service_name
    declared = {(s.consumer, s.topic.name) for s in SUBSCRIPTIONS if s.service == service}
    assert declared == {(consumer, topic.name) for consumer, topic in runtime.subscriptions}
    published = {topic.name for topic in PUBLICATIONS.get(service, ())}
    assert published == {topic.name for topic in runtime.publishes}


def test_the_document_lists_receivers_servers_and_dead_letter_topics() -> None:
    document = build_document()
    receives = {
        (operation["bindings"]["kafka"]["groupId"]["enum"][0], operation["channel"]["$ref"])
        for operation in document["operations"].values()
        if operation["action"] == "receive"
    }
    expected = {(s.group, "#/channels/" + s.topic.name.replace(".", "_")) for s in SUBSCRIPTIONS}
    assert receives == expected
    assert ("catalog", "#/channels/billing_accounts_v1") in receives  # one group per service
    titles = [op["title"] for op in document["operations"].values() if op["action"] == "receive"]
    assert "revenue.subscription-states consumes billing.subscriptions.v1" in titles
    addresses = {channel["address"] for channel in document["channels"].values()}
    assert {topic.dlq for topic in ALL_TOPICS} <= addresses
    assert set(document["servers"]) == {"embedded", "production"}
    assert all(server["protocol"] == "kafka" for server in document["servers"].values())
