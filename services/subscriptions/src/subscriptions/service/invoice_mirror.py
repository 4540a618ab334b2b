"""What a client subscription's invoices say of it: its latest invoice (the newest one, with
its current status and hosted page), and, once the client has paid an invoice, the switch of
renewals to the payment method paid with.

The invoice mirror writes only our rows; it never calls Stripe. A paid invoice of a
subscription still on payment terms is recorded on the subscription (``autopay_invoice_id``,
committed with the event) and the autopay worker (``run_autopay``) takes it from there: it
asks Stripe which payment method paid, and when Stripe keeps that method on the customer it
makes it the customer's default (unless the client chose one) and the subscription
``collection_method=charge_automatically``. A
Stripe outage leaves the record for the next round; a refusal (the account gone, the method
no longer attached) clears it and the client keeps paying by invoice.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import stripe
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_kit.db import unit_of_work
from billing_kit.runtime import Runtime
from billing_kit.stripe_states import SUBSCRIPTION_ENDED_STATUSES, invoice_progress
from subscriptions.repository import SubscriptionsRepository
from subscriptions.stripe_gateway import SubscriptionsStripe

log = structlog.get_logger(__name__)


async def apply_invoice(
    session: AsyncSession, event_type: str, invoice: StripeInvoiceSnapshot
) -> None:
    """Bring the subscription's latest invoice up to date with one invoice event."""
    if invoice.subscription_id is None or invoice.stripe_account_id is None:
        return
    repository = SubscriptionsRepository(session)
    subscription = await repository.subscription_by_stripe_id(invoice.subscription_id)
    if subscription is None or event_type == "invoice.deleted":
        return
    created = invoice.created or 0
    status = invoice.status
    if invoice.invoice_id == subscription.latest_invoice_id:
        # An invoice's status only moves forward: a late ``invoice.finalized`` cannot reopen
        # a paid invoice.
        current = invoice_progress(subscription.latest_invoice_status)
        if status is not None and invoice_progress(status) >= current:
            subscription.latest_invoice_status = status
            subscription.hosted_invoice_url = (
                invoice.hosted_invoice_url or subscription.hosted_invoice_url
            )
        subscription.latest_invoice_created = max(subscription.latest_invoice_created, created)
    elif created >= subscription.latest_invoice_created:
        subscription.latest_invoice_id = invoice.invoice_id
        subscription.latest_invoice_status = status
        subscription.hosted_invoice_url = invoice.hosted_invoice_url
        subscription.latest_invoice_created = created
    if (
        event_type == "invoice.paid"
        and subscription.collection_method == "send_invoice"
        and subscription.status not in SUBSCRIPTION_ENDED_STATUSES
        and invoice.amount_paid > 0
    ):
        subscription.autopay_invoice_id = invoice.invoice_id
    await repository.flush()


@dataclass
class Autopay:
    """Switches subscriptions whose client paid an invoice to charging that payment method."""

    runtime: Runtime
    every_seconds: float = 2.0

    async def run_once(self) -> int:
        """Take up every recorded paid invoice; how many subscriptions were settled."""
        async with unit_of_work(self.runtime.sessions) as session:
            waiting = [
                (
                    s.id,
                    s.stripe_account_id,
                    s.stripe_customer_id,
                    s.stripe_subscription_id,
                    s.autopay_invoice_id,
                )
                for s in await SubscriptionsRepository(session).autopay_waiting()
            ]
        stripe_gateway = SubscriptionsStripe(self.runtime.stripe)
        settled = 0
        for subscription_id, account_id, customer_id, stripe_subscription_id, invoice_id in waiting:
            assert invoice_id is not None
            try:
                method = await stripe_gateway.reusable_payment_method(account_id, invoice_id)
                if method is not None:
                    await stripe_gateway.save_autopay(
                        account_id, customer_id, stripe_subscription_id, method
                    )
            except (stripe.InvalidRequestError, stripe.PermissionError) as exc:
                log.warning(
                    "renewals stay on invoice", subscription_id=subscription_id, error=str(exc)
                )
                method = None
            except Exception as exc:  # Stripe away: the next round tries again
                log.warning(
                    "autopay not saved yet", subscription_id=subscription_id, error=repr(exc)
                )
                continue
            async with unit_of_work(self.runtime.sessions) as session:
                repository = SubscriptionsRepository(session)
                await repository.settle_autopay(subscription_id, invoice_id, method)
            settled += 1
        return settled

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # the database away: the next round tries again
                log.warning("autopay round failed", error=repr(exc))
            await asyncio.sleep(self.every_seconds)


def run_autopay(runtime: Runtime) -> None:
    """The autopay worker lives as long as the service (a second replica's work is harmless:
    the Stripe update carries a key of subscription and payment method)."""
    name = f"{runtime.settings.service_name}-autopay"
    runtime.run_alongside(name, Autopay(runtime).run_forever)
