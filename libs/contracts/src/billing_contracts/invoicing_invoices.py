"""``invoicing.invoices.v1`` — every client invoice of every agency, as the invoice mirror
sees it: subscription and one-off invoices, their payment, refunds and disputes.

Published by invoicing; key = invoice id (ours, stable for a Stripe invoice). Each event
carries the whole invoice after the change; ``revision`` grows with every change, so a
replica applies a snapshot only when its revision is newer than the one it holds.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

InvoiceKind = Literal["subscription", "one_off"]
InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]


class InvoiceDispute(Payload):
    dispute_id: str
    status: str
    """Stripe's: ``needs_response``, ``under_review``, ``won``, ``lost``, ``warning_*``."""
    amount_cents: int
    reason: str | None = None


class InvoiceSnapshot(Payload):
    """The invoice after the change. Amounts are integer cents in ``currency``."""

    invoice_id: str
    stripe_invoice_id: str
    stripe_account_id: str | None
    workspace_id: str | None
    kind: InvoiceKind
    description: str | None = None
    status: InvoiceStatus
    currency: str
    amount_due_cents: int
    amount_paid_cents: int
    amount_refunded_cents: int
    application_fee_cents: int | None = None
    """The platform's fee: the charge's once paid, else the fee the invoice will carry."""
    stripe_customer_id: str | None = None
    stripe_subscription_id: str | None = None
    stripe_payment_intent_id: str | None = None
    stripe_charge_id: str | None = None
    hosted_invoice_url: str | None = None
    past_due: bool = False
    attempt_count: int = 0
    dispute: InvoiceDispute | None = None
    created_at: datetime
    paid_at: datetime | None = None
    revision: int


class _InvoiceEvent(Event):
    payload: InvoiceSnapshot
    aggregate_field: ClassVar[str] = "invoice_id"


class InvoiceMirrored(_InvoiceEvent):
    """The mirror saw this invoice for the first time."""

    type: Literal["invoice.mirrored"] = "invoice.mirrored"


class InvoiceIssued(_InvoiceEvent):
    """The invoice was finalized: open, with its hosted page (a one-off is also emailed)."""

    type: Literal["invoice.issued"] = "invoice.issued"


class InvoicePaymentFailed(_InvoiceEvent):
    """A payment attempt failed; the invoice stays open (``past_due`` tells the client)."""

    type: Literal["invoice.payment_failed"] = "invoice.payment_failed"


class InvoicePaid(_InvoiceEvent):
    """The invoice was paid in full."""

    type: Literal["invoice.paid"] = "invoice.paid"


class InvoiceVoided(_InvoiceEvent):
    """The invoice was voided: nothing is owed."""

    type: Literal["invoice.voided"] = "invoice.voided"


class InvoiceMarkedUncollectible(_InvoiceEvent):
    """The invoice was marked uncollectible."""

    type: Literal["invoice.marked_uncollectible"] = "invoice.marked_uncollectible"


class InvoiceRefunded(_InvoiceEvent):
    """More of the invoice's payment was refunded; ``amount_refunded_cents`` is the total."""

    type: Literal["invoice.refunded"] = "invoice.refunded"


class InvoiceDisputed(_InvoiceEvent):
    """The client disputed the invoice's charge."""

    type: Literal["invoice.disputed"] = "invoice.disputed"


class InvoiceDisputeUpdated(_InvoiceEvent):
    """The dispute moved on (``under_review``, ...) without being decided."""

    type: Literal["invoice.dispute_updated"] = "invoice.dispute_updated"


class InvoiceDisputeClosed(_InvoiceEvent):
    """The dispute was decided: ``dispute.status`` is ``won``, ``lost`` or ``warning_closed``."""

    type: Literal["invoice.dispute_closed"] = "invoice.dispute_closed"


class InvoiceUpdated(_InvoiceEvent):
    """Any other change (amounts of a draft, ``past_due``, the hosted page)."""

    type: Literal["invoice.updated"] = "invoice.updated"


INVOICES = Topic(
    name="invoicing.invoices.v1",
    description="Every client invoice of every agency as the invoice mirror sees it, with "
    "refunds and disputes. Key: invoice id.",
    events=(
        InvoiceMirrored,
        InvoiceIssued,
        InvoicePaymentFailed,
        InvoicePaid,
        InvoiceVoided,
        InvoiceMarkedUncollectible,
        InvoiceRefunded,
        InvoiceDisputed,
        InvoiceDisputeUpdated,
        InvoiceDisputeClosed,
        InvoiceUpdated,
    ),
)
