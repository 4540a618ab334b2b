"""``invoicing.collections.v1`` — the platform collecting its SaaS fees from agencies' Stripe
balances: each invoice's collection state and every step of a manual retry.

Published by invoicing; key = our invoice id, so a collection's events stay in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

RetryState = Literal[
    "payouts_paused", "waiting_for_funds", "paying", "restoring_payouts", "succeeded", "failed"
]


class CollectionSnapshot(Payload):
    invoice_id: str
    agency_id: str | None = None
    stripe_invoice_id: str
    amount_due_cents: int
    currency: str
    status: str
    """Stripe's invoice status: ``open`` while unpaid, ``paid``, ``void``, ``uncollectible``."""
    failure_code: str | None = None
    attempt_count: int
    next_automatic_retry_at: datetime | None = None
    paid_at: datetime | None = None
    """When Stripe says the invoice was paid (its ``status_transitions.paid_at``); null while
    unpaid and on events published before it was carried."""


class CollectionRetrySnapshot(Payload):
    retry_id: str
    invoice_id: str
    agency_id: str | None = None
    stripe_invoice_id: str
    state: RetryState
    step: str
    """What was just done: ``started``, ``schedule_recorded``, ``payouts_paused``,
    ``balance_checked``, ``paid``, ``payment_refused``, ``payouts_restored``, ``given_up``."""
    available_cents: int | None = None
    previous_payout_schedule: dict[str, Any] | None = None
    at: datetime


class CollectionUpdated(Event):
    """A platform invoice's collection changed (failed, retried by Stripe, paid, ...)."""

    type: Literal["collection.updated"] = "collection.updated"
    payload: CollectionSnapshot
    aggregate_field: ClassVar[str] = "invoice_id"


class CollectionRetryStepped(Event):
    """One step of a manual retry was done (and recorded beside this event)."""

    type: Literal["collection_retry.stepped"] = "collection_retry.stepped"
    payload: CollectionRetrySnapshot
    aggregate_field: ClassVar[str] = "invoice_id"


COLLECTIONS = Topic(
    name="invoicing.collections.v1",
    description="SaaS fees collected from agencies' Stripe balances: collection states and "
    "manual retry steps. Key: invoice id.",
    events=(CollectionUpdated, CollectionRetryStepped),
)
