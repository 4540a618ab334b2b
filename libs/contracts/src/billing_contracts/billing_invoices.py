"""``billing.invoices.v1`` — Stripe invoices (every status change) and invoice payments.

Published by webhook-ingest; key = Stripe invoice id (invoice payment id for
``invoice_payment.paid``, whose ``invoice_id`` names the invoice).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from billing_contracts.billing_stripe import StripeObjectFacts
from billing_contracts.envelope import Event, Payload
from billing_contracts.topics import Topic

InvoiceStatus = Literal["draft", "open", "paid", "void", "uncollectible"]


class InvoicePaymentFailure(Payload):
    """Why an invoice's last payment attempt failed, from its payment intent (an invoice
    itself does not say); read from Stripe by webhook-ingest."""

    code: str | None = None


class StripeInvoiceSnapshot(StripeObjectFacts):
    invoice_id: str
    status: InvoiceStatus | None = None
    number: str | None = None
    customer_id: str | None = None
    customer_email: str | None = None
    customer_account: str | None = None
    """The connected account billed as a customer (the platform's SaaS fees)."""
    subscription_id: str | None = None
    billing_reason: str | None = None
    collection_method: str | None = None
    description: str | None = None
    currency: str
    amount_due: int
    amount_paid: int
    amount_remaining: int
    subtotal: int | None = None
    total: int | None = None
    hosted_invoice_url: str | None = None
    invoice_pdf: str | None = None
    period_start: int | None = None
    period_end: int | None = None
    due_date: int | None = None
    attempt_count: int | None = None
    next_payment_attempt: int | None = None
    created: int | None = None
    finalized_at: int | None = None
    paid_at: int | None = None
    voided_at: int | None = None
    marked_uncollectible_at: int | None = None
    last_payment_error_code: str | None = None
    last_payment_error_message: str | None = None
    payment_failure: InvoicePaymentFailure | None = None
    """On ``invoice.payment_failed`` of the platform's invoices to agencies (SaaS fees): the
    failure code; null on other events and on events published before it was carried."""


class StripeInvoicePaymentSnapshot(StripeObjectFacts):
    invoice_payment_id: str
    invoice_id: str
    status: str | None = None
    currency: str | None = None
    amount_paid: int | None = None
    amount_requested: int | None = None
    payment_type: str | None = None
    payment_intent_id: str | None = None
    charge_id: str | None = None
    paid_at: int | None = None


class _InvoiceEvent(Event):
    payload: StripeInvoiceSnapshot
    aggregate_field: ClassVar[str] = "invoice_id"


class StripeInvoiceCreated(_InvoiceEvent):
    """``invoice.created``."""

    type: Literal["invoice.created"] = "invoice.created"


class StripeInvoiceFinalized(_InvoiceEvent):
    """``invoice.finalized``: open, with its hosted invoice page."""

    type: Literal["invoice.finalized"] = "invoice.finalized"


class StripeInvoiceSent(_InvoiceEvent):
    """``invoice.sent``."""

    type: Literal["invoice.sent"] = "invoice.sent"


class StripeInvoicePaid(_InvoiceEvent):
    """``invoice.paid``."""

    type: Literal["invoice.paid"] = "invoice.paid"


class StripeInvoicePaymentSucceeded(_InvoiceEvent):
    """``invoice.payment_succeeded``."""

    type: Literal["invoice.payment_succeeded"] = "invoice.payment_succeeded"


class StripeInvoicePaymentFailed(_InvoiceEvent):
    """``invoice.payment_failed``: the invoice stays open; retries may follow."""

    type: Literal["invoice.payment_failed"] = "invoice.payment_failed"


class StripeInvoiceVoided(_InvoiceEvent):
    """``invoice.voided``."""

    type: Literal["invoice.voided"] = "invoice.voided"


class StripeInvoiceMarkedUncollectible(_InvoiceEvent):
    """``invoice.marked_uncollectible``."""

    type: Literal["invoice.marked_uncollectible"] = "invoice.marked_uncollectible"


class StripeInvoiceUpdated(_InvoiceEvent):
    """``invoice.updated``."""

    type: Literal["invoice.updated"] = "invoice.updated"


class StripeInvoiceOverdue(_InvoiceEvent):
    """``invoice.overdue``."""

    type: Literal["invoice.overdue"] = "invoice.overdue"


class StripeInvoiceDeleted(_InvoiceEvent):
    """``invoice.deleted`` (drafts only)."""

    type: Literal["invoice.deleted"] = "invoice.deleted"


class StripeInvoicePaymentPaid(Event):
    """``invoice_payment.paid``: which payment intent and charge paid the invoice."""

    type: Literal["invoice_payment.paid"] = "invoice_payment.paid"
    payload: StripeInvoicePaymentSnapshot
    aggregate_field: ClassVar[str] = "invoice_payment_id"


STRIPE_INVOICES = Topic(
    name="billing.invoices.v1",
    description="Stripe invoices and invoice payments, normalized from webhooks. "
    "Key: Stripe invoice id (invoice payment id for invoice_payment.paid).",
    events=(
        StripeInvoiceCreated,
        StripeInvoiceFinalized,
        StripeInvoiceSent,
        StripeInvoicePaid,
        StripeInvoicePaymentSucceeded,
        StripeInvoicePaymentFailed,
        StripeInvoiceVoided,
        StripeInvoiceMarkedUncollectible,
        StripeInvoiceUpdated,
        StripeInvoiceOverdue,
        StripeInvoiceDeleted,
        StripeInvoicePaymentPaid,
    ),
)
