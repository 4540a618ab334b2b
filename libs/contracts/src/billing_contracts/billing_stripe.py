"""What every normalized Stripe event carries, whatever its ``billing.*.v1`` topic.

webhook-ingest turns each verified Stripe event into one contract event whose payload is a
snapshot of the Stripe object plus these facts, so a consumer can apply only newer states
(``stripe_created``) and trace an effect back to its Stripe event (``stripe_event_id``).
"""

from __future__ import annotations

from pydantic import Field

from billing_contracts.envelope import Payload


class StripeObjectFacts(Payload):
    stripe_event_id: str
    stripe_created: int
    """Stripe's ``created`` of the event (unix seconds): apply only newer snapshots."""
    stripe_account_id: str | None = None
    """The connected account the object lives on; null for the platform account."""
    livemode: bool = False
    metadata: dict[str, str] = Field(default_factory=dict)


class BalanceFigures(Payload):
    """A balance transaction's figures in cents: ``net = gross - stripe_fee - application_fee``
    for a direct charge (other fee types are in ``other_fees``)."""

    balance_transaction_id: str
    currency: str
    gross: int
    stripe_fee: int
    application_fee: int
    other_fees: int = 0
    net: int
    available_on: int | None = None
    status: str | None = None
    created: int | None = None
    """The balance transaction's ``created`` (unix seconds): the day the money moved, whatever
    event told of it."""
    type: str | None = None
    """Stripe's balance transaction ``type`` (``charge``, ``refund``, ``adjustment``,
    ``application_fee_refund``...)."""
    reporting_category: str | None = None
    """Stripe's ``reporting_category`` (``dispute``, ``dispute_reversal``...)."""
    source: str | None = None
    """The id of the object that moved the money (a charge, refund, dispute, fee refund)."""


class PaymentAttribution(Payload):
    """Where a charge's money belongs, read from Stripe by webhook-ingest before the event was
    published: the invoice the charge's payment intent paid (``/v1/invoice_payments``) and
    that invoice's tenant (its metadata over its subscription's), else the charge's own.

    Present on an event once looked up; a field left null is one Stripe did not know."""

    charge_id: str | None = None
    payment_intent_id: str | None = None
    invoice_id: str | None = None
    subscription_id: str | None = None
    invoice_created: int | None = None
    agency_id: str | None = None
    workspace_id: str | None = None
