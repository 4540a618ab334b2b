"""Stripe event → contract event: pure functions, no I/O.

One contract event per Stripe event worth publishing, keyed by the Stripe object id, with
the agency (resolved by the caller), Stripe's ``created`` and a snapshot of what consumers
need to apply monotonic transitions. Types not listed in a ``billing.*.v1`` topic are stored
but not published.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from billing_contracts import ALL_TOPICS, Event, Topic
from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.envelope import Payload
from webhook_ingest.snapshots import SNAPSHOTS, StripeObject, dig, int_or_none, metadata_of


def _payload_type(event_type: type[Event]) -> type[Payload]:
    payload_type = event_type.model_fields["payload"].annotation
    assert isinstance(payload_type, type), event_type
    return payload_type


PUBLISHED_TOPICS: tuple[Topic, ...] = tuple(
    topic
    for topic in ALL_TOPICS
    if all(_payload_type(event_type) in SNAPSHOTS for event_type in topic.events)
)
"""The registry's topics whose every event is a snapshot of a Stripe object: ours."""

_STRIPE_EVENT_IDS = uuid.UUID("5d1b3c1e-8f57-4c39-9a55-1f0c2a7e9b10")


def object_metadata(obj: StripeObject) -> dict[str, str]:
    """The object's metadata; a subscription invoice also inherits its subscription's."""
    inherited = metadata_of(dig(obj, "parent", "subscription_details", "metadata"))
    return {**inherited, **metadata_of(obj.get("metadata"))}


def figures_from_balance_transaction(txn: StripeObject) -> BalanceFigures:
    fees = {"stripe_fee": 0, "application_fee": 0}
    other = 0
    for detail in txn.get("fee_details") or ():
        kind, amount = detail.get("type"), int(detail.get("amount") or 0)
        if kind in fees:
            fees[kind] += amount
        else:
            other += amount
    if not txn.get("fee_details") and txn.get("fee"):
        fees["stripe_fee"] = int(txn["fee"])
    return BalanceFigures(
        balance_transaction_id=str(txn["id"]),
        currency=str(txn.get("currency") or ""),
        gross=int(txn.get("amount") or 0),
        stripe_fee=fees["stripe_fee"],
        application_fee=fees["application_fee"],
        other_fees=other,
        net=int(txn.get("net") or 0),
        available_on=int_or_none(txn.get("available_on")),
        status=txn.get("status"),
    )


@dataclass(frozen=True)
class FiguresLookup:
    """What to fetch from Stripe for an event whose object lacks its balance figures."""

    account: str | None
    balance_transaction_id: str | None = None
    charge_id: str | None = None
    """For a payment intent: read the balance transaction of this charge."""
    failure_balance_transaction_id: str | None = None
    """For a failed refund: read this ``refund_failure`` balance transaction too."""


def inline_figures(obj: StripeObject) -> BalanceFigures | None:
    txn = obj.get("balance_transaction")
    if obj.get("object") == "payment_intent":
        txn = dig(obj, "latest_charge", "balance_transaction")
    return figures_from_balance_transaction(txn) if isinstance(txn, Mapping) else None


def inline_failure_figures(obj: StripeObject) -> BalanceFigures | None:
    """A failed refund's ``refund_failure`` figures, when the event expanded them."""
    txn = obj.get("failure_balance_transaction")
    return figures_from_balance_transaction(txn) if isinstance(txn, Mapping) else None


def _failure_lookup(obj: StripeObject, account: str | None) -> FiguresLookup | None:
    """A failed refund whose figures the event lacks: its own, and the failure's."""
    failure = obj.get("failure_balance_transaction")
    if obj.get("object") != "refund" or not isinstance(failure, str):
        return None
    txn = obj.get("balance_transaction")
    return FiguresLookup(
        account=account,
        balance_transaction_id=txn if isinstance(txn, str) else None,
        failure_balance_transaction_id=failure,
    )


def figures_lookup(event: StripeObject) -> FiguresLookup | None:
    """The Stripe read this event needs before it can be normalized, if any."""
    obj: StripeObject = event["data"]["object"]
    kind, account = obj.get("object"), event.get("account")
    if kind not in ("charge", "refund", "payment_intent") or event["type"] not in EVENT_TYPES:
        return None
    if (failed := _failure_lookup(obj, account)) is not None:
        return failed
    if inline_figures(obj) is not None:
        return None
    if kind == "payment_intent":
        charge = obj.get("latest_charge")
        if obj.get("status") != "succeeded" or not isinstance(charge, str):
            return None
        return FiguresLookup(account=account, charge_id=charge)
    txn = obj.get("balance_transaction")
    if not isinstance(txn, str):
        return None
    return FiguresLookup(account=account, balance_transaction_id=txn)


@dataclass(frozen=True)
class Route:
    topic: Topic
    event_type: type[Event]
    payload_type: type[Payload]


def _routes() -> dict[str, Route]:
    routes: dict[str, Route] = {}
    for topic in PUBLISHED_TOPICS:
        for event_type in topic.events:
            payload_type = _payload_type(event_type)
            routes[event_type.model_fields["type"].default] = Route(topic, event_type, payload_type)
    return routes


EVENT_TYPES: dict[str, Route] = _routes()
"""Stripe event type → where and how it is published."""


def contract_event_id(stripe_event_id: str) -> uuid.UUID:
    """The same Stripe event always becomes the same contract event id."""
    return uuid.uuid5(_STRIPE_EVENT_IDS, stripe_event_id)


def agency_from_metadata(event: StripeObject) -> str | None:
    return object_metadata(event["data"]["object"]).get("agency_id")


@dataclass(frozen=True)
class Normalized:
    topic: Topic
    event: Event


def normalize(
    event: StripeObject, agency_id: str | None, figures: BalanceFigures | None = None
) -> Normalized | None:
    """The contract event for ``event``, or None when its type is not published."""
    route = EVENT_TYPES.get(event["type"])
    if route is None:
        return None
    obj: StripeObject = event["data"]["object"]
    metadata = object_metadata(obj)
    fields = SNAPSHOTS[route.payload_type](obj, event)
    fields.update(
        stripe_event_id=event["id"],
        stripe_created=event["created"],
        stripe_account_id=event.get("account"),
        livemode=bool(event.get("livemode")),
        metadata=metadata,
    )
    if "figures" in route.payload_type.model_fields:
        fields["figures"] = figures or inline_figures(obj)
    if "failure_figures" in route.payload_type.model_fields:
        fields["failure_figures"] = inline_failure_figures(obj)
    payload = route.payload_type.model_validate(fields)
    contract = route.event_type.model_validate(
        {
            "event_id": contract_event_id(event["id"]),
            "occurred_at": datetime.fromtimestamp(event["created"], UTC),
            "agency_id": agency_id or metadata.get("agency_id"),
            "workspace_id": metadata.get("workspace_id"),
            "correlation_id": event["id"],
            "payload": payload,
        }
    )
    return Normalized(route.topic, contract)


def with_figures(
    topic: Topic,
    body: str,
    figures: BalanceFigures | None,
    failure_figures: BalanceFigures | None = None,
) -> str:
    """A contract event's body completed with the figures read from Stripe after it was held
    (a failed refund's ``failure_figures`` too); figures not read leave the event's as they
    were."""
    event = topic.decode(body)
    found = {"figures": figures, "failure_figures": failure_figures}
    update = {name: value for name, value in found.items() if value is not None}
    payload = event.payload.model_copy(update=update)
    return event.model_copy(update={"payload": payload}).model_dump_json()
