"""invoicing's subscribers: Stripe's invoices, payments and subscriptions feed the invoice
mirror; catalog's agency profiles feed the billing gate, its products the names clients see.

The platform's own invoices charged to an agency (``customer_account``, on the platform
account) take the same invoice subscriber to the SaaS-fee collections instead of the mirror;
agencies' plans and balance movements feed those collections and their retries."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event, Topic
from billing_contracts.billing_balances import STRIPE_BALANCES, StripeBalanceAvailable
from billing_contracts.billing_invoices import (
    STRIPE_INVOICES,
    StripeInvoicePaymentFailed,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_payments import STRIPE_PAYMENTS
from billing_contracts.billing_subscriptions import STRIPE_SUBSCRIPTIONS
from billing_contracts.catalog_agencies import AGENCIES, AgencyBillingProfile
from billing_contracts.catalog_products import PRODUCTS, ProductSnapshot
from billing_contracts.subscriptions_agency_plans import AGENCY_PLANS, AgencyPlanSnapshot
from billing_kit.inbox import Batched, Subscriber, by_event_type
from billing_kit.runtime import Runtime
from invoicing import replicas
from invoicing.saas_fees.service import Collections
from invoicing.service.mirror_batch import MirrorBatch, caused_by


def _platform_invoice(event: Event) -> StripeInvoiceSnapshot | None:
    """The platform's invoice charging an agency (a SaaS fee), not a client's."""
    payload = event.payload
    if isinstance(payload, StripeInvoiceSnapshot) and payload.stripe_account_id is None:
        return payload if payload.customer_account is not None else None
    return None


def handlers(runtime: Runtime) -> dict[str, tuple[Topic, Subscriber]]:
    """What invoicing does with each topic it consumes, by consumer (its group is
    ``invoicing.<consumer>``): Stripe's invoices, payments and subscriptions a batch at a
    time (the hot paths), the rest an event at a time."""

    async def on_invoices(session: AsyncSession, events: Sequence[Event]) -> None:
        # The platform's invoices go to the SaaS-fee collections, one at a time in their
        # place; the rest between them (clients' invoices, payments, subscriptions) to the
        # mirror, together.
        run: list[Event] = []
        for event in events:
            platform = _platform_invoice(event)
            if platform is None:
                run.append(event)
                continue
            await MirrorBatch.build(runtime, session).apply(run)
            run = []
            failed = isinstance(event, StripeInvoicePaymentFailed)
            with caused_by(event):
                await Collections.build(runtime, session).apply_invoice(platform, failed=failed)
            await session.flush()
            session.expunge_all()
        await MirrorBatch.build(runtime, session).apply(run)

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

    # The mirror's a batch at a time, its three topics' events of a batch in one transaction:
    # its invoices (a client's; the platform's go to its collections), the payments behind
    # them and the subscriptions they bill for.
    mirror = Batched(on_invoices)
    return {
        "invoice-mirror": (STRIPE_INVOICES, mirror),
        "invoice-payments": (STRIPE_PAYMENTS, mirror),
        "subscription-mirror": (STRIPE_SUBSCRIPTIONS, mirror),
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
