"""``billing.accounts.v1`` — Stripe Connect account changes, normalized from webhooks.

Published by webhook-ingest; key = Stripe account id.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic


class StripeAccountSnapshot(Payload):
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    stripe_event_id: str
    stripe_created: int
    """Stripe's ``created`` of the event: consumers apply only newer snapshots."""
    payout_schedule: dict[str, Any] | None = None


class StripeAccountUpdated(Event):
    """``account.updated`` of a connected account."""

    type: Literal["account.updated"] = "account.updated"
    payload: StripeAccountSnapshot
    aggregate_field: ClassVar[str] = "account_id"


class StripeAccountDeauthorizedSnapshot(Payload):
    account_id: str
    """The connected account that revoked the platform's access (the event's ``account``)."""
    stripe_event_id: str
    stripe_created: int


class StripeAccountDeauthorized(Event):
    """``account.application.deauthorized``: the platform can no longer act on the account;
    Stripe answers ``account_invalid`` for it from then on."""

    type: Literal["account.application.deauthorized"] = "account.application.deauthorized"
    payload: StripeAccountDeauthorizedSnapshot
    aggregate_field: ClassVar[str] = "account_id"


ACCOUNTS = Topic(
    name="billing.accounts.v1",
    description="Stripe Connect account updates and deauthorizations, normalized. Key: Stripe "
    "account id.",
    events=(StripeAccountUpdated, StripeAccountDeauthorized),
)
