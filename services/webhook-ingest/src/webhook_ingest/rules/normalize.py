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
from typing import Any

from billing_contracts import ALL_TOPICS, Event, Topic
from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.envelope import Payload
from webhook_ingest.rules.snapshots import (
    SNAPSHOTS,
    StripeObject,
    dig,
    figures_from_balance_transaction,
    id_of,
    metadata_of,
)


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


@dataclass(frozen=True)
class FiguresLookup:
    """What to read from Stripe for an event before it is published: its balance figures,
    where its payment belongs, a fee refund's movements on the paying account, an invoice's
    payment failure. Stored as JSON with the held event (older rows hold only the first
    three fields)."""

    account: str | None
    balance_transaction_id: str | None = None
    charge_id: str | None = None
    """For a payment intent: read the balance transaction of this charge."""
    failure_balance_transaction_id: str | None = None
    """For a failed refund: read this ``refund_failure`` balance transaction too."""
    attribute_charge: str | None = None
    """Read which invoice this charge (of ``account``) paid and whose it is."""
    attribute_payment_intent: str | None = None
    """... or this payment intent's, when the event names no charge."""
    known_metadata: dict[str, str] | None = None
    """The charge's (or payment intent's) metadata when the event carries it: no need to
    read the charge for it."""
    fee_refunds_of: str | None = None
    """An application fee whose refunds' balance transactions on ``account`` to read."""
    failure_of_invoice: str | None = None
    """A platform invoice whose last payment failure code to read."""
    state_of_subscription: str | None = None
    """A subscription (of ``account``) whose state and latest invoice to read."""
    transactions_of_payout: str | None = None
    """An automatic payout (of ``account``) whose settled balance transactions to read."""

    @property
    def attributes(self) -> bool:
        return self.attribute_charge is not None or self.attribute_payment_intent is not None

    @property
    def reads_figures(self) -> bool:
        return self.balance_transaction_id is not None or self.charge_id is not None


def inline_figures(obj: StripeObject) -> BalanceFigures | None:
    txn = obj.get("balance_transaction")
    if obj.get("object") == "payment_intent":
        txn = dig(obj, "latest_charge", "balance_transaction")
    return figures_from_balance_transaction(txn) if isinstance(txn, Mapping) else None


def inline_failure_figures(obj: StripeObject) -> BalanceFigures | None:
    """A failed refund's ``refund_failure`` figures, when the event expanded them."""
    txn = obj.get("failure_balance_transaction")
    return figures_from_balance_transaction(txn) if isinstance(txn, Mapping) else None


def _failure_read(obj: StripeObject) -> dict[str, str]:
    """A failed refund's ``refund_failure`` balance transaction, when the event lacks it."""
    failure = obj.get("failure_balance_transaction")
    if obj.get("object") != "refund" or not isinstance(failure, str):
        return {}
    return {"failure_balance_transaction_id": failure}


def _figures_read(obj: StripeObject, event_type: str) -> dict[str, str]:
    """The balance figures a charge, refund or payment intent lacks, to read."""
    kind = obj.get("object")
    if kind not in ("charge", "refund", "payment_intent") or inline_figures(obj) is not None:
        return _failure_read(obj)
    if kind == "payment_intent":
        charge = obj.get("latest_charge")
        if obj.get("status") != "succeeded" or not isinstance(charge, str):
            return {}
        return {"charge_id": charge}
    txn = obj.get("balance_transaction")
    own = {"balance_transaction_id": txn} if isinstance(txn, str) else {}
    return {**own, **_failure_read(obj)}


def _attribution_read(obj: StripeObject, event_type: str) -> dict[str, Any]:
    """Which payment of a connected account the event is about, to attribute it."""
    kind = obj.get("object")
    if kind == "charge":
        if obj.get("status") != "succeeded" and not obj.get("paid"):
            return {}
        return {
            "attribute_charge": obj["id"],
            "attribute_payment_intent": id_of(obj.get("payment_intent")),
            "known_metadata": metadata_of(obj.get("metadata")),
        }
    if kind == "payment_intent":
        return {
            "attribute_charge": id_of(obj.get("latest_charge")),
            "attribute_payment_intent": obj["id"],
            "known_metadata": metadata_of(obj.get("metadata")),
        }
    if kind in ("refund", "dispute"):
        charge = id_of(obj.get("charge"))
        return {"attribute_charge": charge} if charge else {}
    return {}


def figures_lookup(event: StripeObject) -> FiguresLookup | None:
    """The Stripe reads this event needs before it can be published, if any."""
    obj: StripeObject = event["data"]["object"]
    account, event_type = event.get("account"), event["type"]
    if event_type not in EVENT_TYPES:
        return None
    kind = obj.get("object")
    reads: dict[str, Any] = _figures_read(obj, event_type)
    if account is not None:
        reads.update(_attribution_read(obj, event_type))
    elif kind == "application_fee" and event_type == "application_fee.refunded":
        account, charge = id_of(obj.get("account")), id_of(obj.get("charge"))
        if account is None or charge is None:
            return None
        reads.update(fee_refunds_of=obj["id"], attribute_charge=charge)
    if kind == "subscription":
        reads.update(state_of_subscription=obj["id"])
    elif kind == "payout" and event_type == "payout.reconciliation_completed" and account:
        reads.update(transactions_of_payout=obj["id"])
    elif (
        kind == "invoice"
        and event_type == "invoice.payment_failed"
        and event.get("account") is None
        and obj.get("customer_account") is not None
    ):
        reads.update(failure_of_invoice=obj["id"])
    return FiguresLookup(account=account, **reads) if reads else None


def completed(topic: Topic, body: str, found: Mapping[str, Any]) -> str:
    """A held contract event's body completed with what was read from Stripe for it."""
    event = topic.decode(body)
    payload = type(event.payload).model_validate({**event.payload.model_dump(), **found})
    return event.model_copy(update={"payload": payload}).model_dump_json()


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


def with_figures(topic: Topic, body: str, figures: BalanceFigures | None) -> str:
    """A contract event's body completed with the figures read from Stripe after it was held."""
    return completed(topic, body, {"figures": figures})
