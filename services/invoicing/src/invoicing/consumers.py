"""invoicing's subscribers: Stripe's invoices, payments and subscriptions feed the invoice
mirror; catalog's agency profiles feed the billing gate, its products the names clients see.

The platform's own invoices charged to an agency (``customer_account``, on the platform
account) take the same invoice subscriber to the SaaS-fee collections instead of the mirror;
agencies' plans and balance movements feed those collections and their retries."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event
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
from billing_kit.runtime import Runtime
from invoicing import agencies
from invoicing.mirror import Mirror, PaymentFacts
from invoicing.saas_fees.gateway import CollectionsStripe
from invoicing.saas_fees.service import Collections
from invoicing.stripe_gateway import InvoicingStripe


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


def register(runtime: Runtime) -> None:
    def mirror(session: AsyncSession) -> Mirror:
        return Mirror(session, runtime.outbox, InvoicingStripe(runtime.stripe))

    def collections(session: AsyncSession) -> Collections:
        return Collections(session, runtime.outbox, CollectionsStripe(runtime.stripe))

    async def on_invoice(session: AsyncSession, event: Event) -> None:
        payload = event.payload
        if (
            isinstance(payload, StripeInvoiceSnapshot)
            and payload.stripe_account_id is None
            and payload.customer_account is not None
        ):  # the platform charging an agency: a SaaS-fee collection, not a client invoice
            failed = isinstance(event, StripeInvoicePaymentFailed)
            await collections(session).apply_invoice(payload, failed=failed)
        elif isinstance(event, StripeInvoicePaymentPaid):
            await mirror(session).apply_invoice_payment(event.payload, agency_id=event.agency_id)
        elif isinstance(payload, StripeInvoiceSnapshot):
            await mirror(session).apply_invoice(
                payload,
                agency_id=event.agency_id,
                workspace_id=event.workspace_id,
                overdue=isinstance(event, StripeInvoiceOverdue),
            )

    async def on_payment(session: AsyncSession, event: Event) -> None:
        found = mirror(session)
        facts = await _payment_facts(found, event.payload)
        if facts is not None:
            await found.apply_payment(facts, agency_id=event.agency_id)

    async def on_subscription(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, StripeSubscriptionSnapshot)
        await mirror(session).apply_subscription(
            event.payload, agency_id=event.agency_id, workspace_id=event.workspace_id
        )

    async def on_agency(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, AgencyBillingProfile)
        await agencies.apply_profile(session, event.payload, event.occurred_at)

    runtime.subscribe(STRIPE_INVOICES, "invoice-mirror", on_invoice)
    runtime.subscribe(STRIPE_PAYMENTS, "invoice-payments", on_payment)
    runtime.subscribe(STRIPE_SUBSCRIPTIONS, "subscription-mirror", on_subscription)

    async def on_product(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, ProductSnapshot)
        await agencies.apply_product(session, event.agency_id, event.payload)

    async def on_agency_plan(session: AsyncSession, event: Event) -> None:
        assert isinstance(event.payload, AgencyPlanSnapshot)
        await collections(session).apply_agency_plan(event.payload, event.occurred_at)

    async def on_balance(session: AsyncSession, event: Event) -> None:
        if isinstance(event, StripeBalanceAvailable) and event.payload.balance_owner.startswith(
            "acct_"
        ):
            await collections(session).signal_funds(event.payload.balance_owner)

    runtime.subscribe(AGENCIES, "agencies", on_agency)
    runtime.subscribe(PRODUCTS, "products", on_product)
    runtime.subscribe(AGENCY_PLANS, "agency-plans", on_agency_plan)
    runtime.subscribe(STRIPE_BALANCES, "balances", on_balance)
