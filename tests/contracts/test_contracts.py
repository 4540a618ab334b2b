"""Event contracts: the committed AsyncAPI document matches the code; envelopes round-trip."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from billing_contracts import ALL_TOPICS
from billing_contracts.asyncapi import COMMITTED, build_document, render
from billing_contracts.catalog_products import PRODUCTS, ProductCreated, ProductSnapshot
from billing_contracts.registry import REQUEST_CHANNELS

pytestmark = pytest.mark.unit


def _snapshot(**overrides: object) -> ProductSnapshot:
    values: dict[str, object] = {
        "product_id": "p-1",
        "name": "Automation retainer",
        "cadence": "monthly",
        "amount_cents": 250_000,
        "currency": "usd",
        "status": "active",
        "stripe_account_id": "acct_1",
        "stripe_product_id": "prod_1",
        "stripe_price_id": "price_1",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    values.update(overrides)
    return ProductSnapshot.model_validate(values)


def test_the_committed_asyncapi_document_is_current() -> None:
    assert COMMITTED.read_text() == render(), (
        "libs/contracts/asyncapi.json is stale: run `make asyncapi` and commit it"
    )


def test_every_topic_and_event_is_in_the_document() -> None:
    document = build_document()
    addresses = {channel["address"] for channel in document["channels"].values()}
    exchanges = {name for ex in REQUEST_CHANNELS for name in (ex.name, *ex.reply_topics)}
    topics = {name for topic in ALL_TOPICS for name in (topic.name, topic.dlq)}
    assert addresses == topics | exchanges
    names = {message["name"] for message in document["components"]["messages"].values()}
    assert "product.created" in names
    assert "agency.suspended" in names


def test_topic_names_follow_domain_entity_version() -> None:
    for topic in ALL_TOPICS:
        assert re.fullmatch(r"[a-z_]+\.[a-z_]+\.v[0-9]+", topic.name), topic.name
        assert topic.dlq == f"{topic.name}.dlq"
    for exchange in REQUEST_CHANNELS:
        for name in (exchange.name, *exchange.reply_topics):
            assert re.fullmatch(r"[a-z_]+\.[a-z_-]+\.v[0-9]+", name), name


def test_a_request_operation_replies_to_its_reply_to_header() -> None:
    operations = build_document()["operations"]
    replies = [op["reply"] for op in operations.values() if "reply" in op]
    assert len(replies) == sum(len(ex.reply_topics) for ex in REQUEST_CHANNELS) > 0
    assert {reply["address"]["location"] for reply in replies} == {"$message.header#/reply_to"}


def test_an_event_round_trips_through_its_topic_with_its_aggregate_key() -> None:
    event = ProductCreated(agency_id="agency-1", payload=_snapshot())
    decoded = PRODUCTS.decode(event.model_dump_json())
    assert isinstance(decoded, ProductCreated)
    assert decoded == event
    assert decoded.aggregate_id() == "p-1"


def test_a_consumer_keeps_reading_when_a_producer_adds_an_optional_field() -> None:
    raw = json.loads(ProductCreated(agency_id="a", payload=_snapshot()).model_dump_json())
    raw["payload"]["tax_code"] = "txcd_10000000"
    raw["added_later"] = True
    decoded = PRODUCTS.decode(json.dumps(raw))
    assert decoded.payload.product_id == "p-1"  # type: ignore[attr-defined]


def test_an_unknown_event_type_or_missing_field_is_refused() -> None:
    raw = json.loads(ProductCreated(agency_id="a", payload=_snapshot()).model_dump_json())
    with pytest.raises(ValidationError):
        PRODUCTS.decode(json.dumps({**raw, "type": "product.exploded"}))
    del raw["payload"]["stripe_price_id"]
    with pytest.raises(ValidationError):
        PRODUCTS.decode(json.dumps(raw))


def test_event_ids_are_unique_and_times_are_aware() -> None:
    first = ProductCreated(payload=_snapshot())
    second = ProductCreated(payload=_snapshot())
    assert first.event_id != second.event_id
    assert isinstance(first.event_id, uuid.UUID)
    assert first.occurred_at.tzinfo is not None
