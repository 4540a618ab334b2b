"""invoicing's subscribers: Stripe's invoices, payments and subscriptions feed the invoice
mirror; catalog's agency profiles feed the billing gate, its products the names clients see.

The platform's own invoices charged to an agency (``customer_account``, on the platform
account) take the same invoice subscriber to the SaaS-fee collections instead of the mirror;
agencies' plans and balance movements feed those collections and their retries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_contracts.billing_balances import STRIPE_BALANCES, StripeBalanceAvailable
from billing_contracts.billing_invoices import (
    STRIPE_INVOICES,
    StripeInvoiceOverdue,
    StripeInvoicePaymentFailed,
    StripeInvoicePaymentPaid,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_payments import (
    STRIPE_PAYMENTS,
    StripeApplicationFeeSnapshot,
    StripeChargeSnapshot,
    StripeDisputeSnapshot,
    StripePaymentIntentSnapshot,
    StripeRefundSnapshot,
)
from billing_contracts.billing_stripe import PaymentAttribution
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS, StripeSubscriptionSnapshot
from billing_contracts.catalog_agencies import AGENCIES, AgencyBillingProfile
from billing_contracts.catalog_products import PRODUCTS, ProductSnapshot
from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS, AgencyPlanSnapshot
from billing_kit.inbox import Subscriber, by_event_type
from billing_kit.runtime import Runtime
from invoicing import replicas
from invoicing.saas_fees.service import Collections
from invoicing.service.mirror import Mirror, PaymentFacts


def _invoice_told(attribution: PaymentAttribution | None) -> dict[str, Any]:
    """Which invoice the payment paid, when the event carries it."""
    if attribution is None:
        return {}
    return {"stripe_invoice_id": attribution.invoice_id, "invoice_told": True}


async def _payment_facts(mirror: Mirror, payload: object) -> PaymentFacts | None:
    """The payment intent a payment-side event is about, and what it says of it."""
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
        case StripeApplicationFeeSnapshot(charge_id=str(charge)):
            known = await mirror.payment_of_charge(charge)
            if known is None:
                return None  # the charge's own events carry the fee too
            return PaymentFacts(
                payment_intent_id=known.payment_intent_id,
                account=payload.paying_account_id,
                application_fee=payload.amount,
                stripe_created=payload.stripe_created,
            )
    return None


def handlers(runtime: Runtime) -> dict[str, tuple[Topic, Subscriber]]:
    """What invoicing does with each topic it consumes, by consumer (its group is
    ``invoicing.<consumer>``), an event at a time."""

    async def on_invoice(session: AsyncSession, event: Event) -> None:
        payload = event.payload
        if not isinstance(payload, StripeInvoiceSnapshot):
            return
        if payload.stripe_account_id is None and payload.customer_account is not None:
            # the platform charging an agency: a SaaS-fee collection, not a client invoice
            failed = isinstance(event, StripeInvoicePaymentFailed)
            await Collections.build(runtime, session).apply_invoice(payload, failed=failed)
            return
        await Mirror.build(runtime, session).apply_invoice(
            payload,
            agency_id=event.agency_id,
            workspace_id=event.workspace_id,
            overdue=isinstance(event, StripeInvoiceOverdue),
        )

    async def on_invoice_payment(session: AsyncSession, event: StripeInvoicePaymentPaid) -> None:
        await Mirror.build(runtime, session).apply_invoice_payment(
            event.payload, agency_id=event.agency_id
        )

    async def on_payment(session: AsyncSession, event: Event) -> None:
        mirror = Mirror.build(runtime, session)
        facts = await _payment_facts(mirror, event.payload)
        if facts is not None:
            await mirror.apply_payment(facts, agency_id=event.agency_id)

    async def on_subscription(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, StripeSubscriptionSnapshot)
        await Mirror.build(runtime, session).apply_subscription(
            event.payload, agency_id=event.agency_id, workspace_id=event.workspace_id
        )

    async def on_agency(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, AgencyBillingProfile)
        await replicas.apply_profile(session, event.payload, event.occurred_at)

    async def on_product(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, ProductSnapshot)
        await replicas.apply_product(session, event.agency_id, event.payload)

    async def on_agency_plan(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, AgencyPlanSnapshot)
        await Collections.build(runtime, session).apply_agency_plan(
            event.payload, event.occurred_at
        )

    async def on_balance_available(session: AsyncSession, event: StripeBalanceAvailable) -> None:
        owner = event.payload.balance_owner
        if owner.startswith("acct_"):  # a connected account's (not the platform's) balance
            await Collections.build(runtime, session).signal_funds(owner)

    return {
        # an invoice payment (``invoice_payment.paid``) is the mirror's; any other event
        # carries the invoice: a client's into the mirror, the platform's into its collections
        "invoice-mirror": (
            STRIPE_INVOICES,
            by_event_type({StripeInvoicePaymentPaid: on_invoice_payment, Event: on_invoice}),
        ),
        "invoice-payments": (STRIPE_PAYMENTS, on_payment),
        "subscription-mirror": (STRIPE_SUBSCRIPTIONS, on_subscription),
        "agencies": (AGENCIES, on_agency),
        "products": (PRODUCTS, on_product),
        "agency-plans": (AGENCY_PLANS, on_agency_plan),
        "balances": (
            STRIPE_BALANCES,
            by_event_type({StripeBalanceAvailable: on_balance_available}),
        ),
    }


def register(runtime: Runtime) -> None:
    runtime.subscribe_all(handlers(runtime))
