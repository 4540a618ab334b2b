"""What one of Stripe's payment-side events tells the invoice mirror about a payment intent:
its charge, fee, refunds and dispute, and which invoice it paid when the event says so."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from billing_contracts.billing_invoices import StripeInvoicePaymentSnapshot
from billing_contracts.billing_payments import (
    StripeApplicationFeeSnapshot,
    StripeChargeSnapshot,
    StripeDisputeSnapshot,
    StripePaymentIntentSnapshot,
    StripeRefundSnapshot,
)
from billing_contracts.billing_stripe import PaymentAttribution
from invoicing.models import Payment


@dataclass(frozen=True)
class PaymentFacts:
    """What one payment-side event tells about a payment intent."""

    payment_intent_id: str
    account: str | None
    charge_id: str | None = None
    application_fee: int | None = None
    amount_refunded: int | None = None
    dispute_id: str | None = None
    dispute_status: str | None = None
    dispute_amount: int | None = None
    dispute_reason: str | None = None
    stripe_created: int = 0
    stripe_invoice_id: str | None = None
    refund_id: str | None = None
    refund_amount: int = 0
    refund_failed: bool = False
    """The refund failed (or was canceled): its amount is no longer refunded."""
    invoice_told: bool = False
    """The event says which invoice the payment paid (``stripe_invoice_id``, None: none
    known to Stripe yet): no need to ask Stripe."""


def _invoice_told(attribution: PaymentAttribution | None) -> dict[str, Any]:
    """Which invoice the payment paid, when the event carries it."""
    if attribution is None:
        return {}
    return {"stripe_invoice_id": attribution.invoice_id, "invoice_told": True}


def told_facts(payload: object) -> PaymentFacts | None:
    """The facts an event of a payment intent, a paid charge, a dispute or a refund carries
    about its payment intent (None for any other event)."""
    match payload:
        case StripePaymentIntentSnapshot():
            return PaymentFacts(
                payment_intent_id=payload.payment_intent_id,
                account=payload.stripe_account_id,
                application_fee=payload.application_fee_amount,
                stripe_created=payload.stripe_created,
                **_invoice_told(payload.attribution),
            )
        case StripeChargeSnapshot(payment_intent_id=str(intent)) if payload.paid:
            return PaymentFacts(
                payment_intent_id=intent,
                account=payload.stripe_account_id,
                charge_id=payload.charge_id,
                application_fee=payload.application_fee_amount,
                amount_refunded=payload.amount_refunded,
                stripe_created=payload.stripe_created,
                **_invoice_told(payload.attribution),
            )
        case StripeDisputeSnapshot(payment_intent_id=str(intent)):
            return PaymentFacts(
                payment_intent_id=intent,
                account=payload.stripe_account_id,
                charge_id=payload.charge_id,
                dispute_id=payload.dispute_id,
                dispute_status=payload.status,
                dispute_amount=payload.amount,
                dispute_reason=payload.reason,
                stripe_created=payload.stripe_created,
                **_invoice_told(payload.attribution),
            )
        case StripeRefundSnapshot(payment_intent_id=str(intent)):
            return PaymentFacts(
                payment_intent_id=intent,
                account=payload.stripe_account_id,
                charge_id=payload.charge_id,
                stripe_created=payload.stripe_created,
                refund_id=payload.refund_id,
                refund_amount=payload.amount,
                refund_failed=payload.status in ("failed", "canceled"),
                **_invoice_told(payload.attribution),
            )
    return None


async def payment_facts(
    payload: object, payment_of_charge: Callable[[str], Awaitable[Payment | None]]
) -> PaymentFacts | None:
    """The payment intent a payment-side event is about, and what it says of it; an
    application fee names only its charge, whose payment ``payment_of_charge`` finds."""
    if not isinstance(payload, StripeApplicationFeeSnapshot):
        return told_facts(payload)
    if payload.charge_id is None:
        return None
    known = await payment_of_charge(payload.charge_id)
    if known is None:
        return None  # the charge's own events carry the fee too
    return PaymentFacts(
        payment_intent_id=known.payment_intent_id,
        account=payload.paying_account_id,
        application_fee=payload.amount,
        stripe_created=payload.stripe_created,
    )


def invoice_payment_facts(payment: StripeInvoicePaymentSnapshot) -> PaymentFacts | None:
    """``invoice_payment.paid``: the payment intent (and its charge) that paid the invoice."""
    if payment.payment_intent_id is None or payment.stripe_account_id is None:
        return None
    return PaymentFacts(
        payment_intent_id=payment.payment_intent_id,
        account=payment.stripe_account_id,
        charge_id=payment.charge_id,
        stripe_invoice_id=payment.invoice_id,
        stripe_created=payment.stripe_created,
    )
