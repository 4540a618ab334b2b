"""The invoice mirror a batch of Stripe's events at a time: the rows the batch names are read
and locked together, each event is merged in its order by the mirror's own rules
(``Mirror``, over ``BatchRows``), so that each sees what the ones before it changed and
announces what it would announce alone, and the rows changed are written back together.
What only Stripe knows (a gap, a subscription's two states in one second) is asked per event,
as alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from billing_contracts import Event
from billing_contracts.billing_invoices import (
    StripeInvoiceOverdue,
    StripeInvoicePaymentPaid,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_payments import StripeApplicationFeeSnapshot
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from billing_kit.logging import bind_causation_id, bind_correlation_id
from billing_kit.outbox import Publisher
from billing_kit.runtime import Runtime
from invoicing.repository.batch import BatchRepository
from invoicing.service.batch_rows import BatchRows, Wanted
from invoicing.service.facts import (
    PaymentFacts,
    invoice_payment_facts,
    payment_facts,
    told_facts,
)
from invoicing.service.mirror import Mirror, first_sight
from invoicing.service.ports import MirrorBatchRepository, MirrorStripe
from invoicing.stripe_gateway import InvoicingStripe


async def apply_event(mirror: Mirror, event: Event) -> None:
    """What the mirror does with one of Stripe's events of a client's invoice, payment or
    subscription."""
    payload = event.payload
    if isinstance(event, StripeInvoicePaymentPaid):
        await mirror.apply_invoice_payment(event.payload, agency_id=event.agency_id)
    elif isinstance(payload, StripeInvoiceSnapshot):
        await mirror.apply_invoice(
            payload,
            agency_id=event.agency_id,
            workspace_id=event.workspace_id,
            overdue=isinstance(event, StripeInvoiceOverdue),
        )
    elif isinstance(payload, StripeSubscriptionSnapshot):
        await mirror.apply_subscription(
            payload, agency_id=event.agency_id, workspace_id=event.workspace_id
        )
    else:
        facts = await payment_facts(payload, mirror.payment_of_charge)
        if facts is not None:
            await mirror.apply_payment(facts, agency_id=event.agency_id)


def wanted(events: Sequence[Event]) -> Wanted:
    """The rows ``events`` name, each with its first sight in them."""
    found = Wanted()

    def paid(facts: PaymentFacts | None) -> None:
        if facts is not None and facts.account is not None:
            found.payments.setdefault(facts.payment_intent_id, facts.account)
            if facts.stripe_invoice_id is not None:
                found.refreshed.add(facts.stripe_invoice_id)

    for event in events:
        payload = event.payload
        if isinstance(event, StripeInvoicePaymentPaid):
            paid(invoice_payment_facts(event.payload))
        elif isinstance(payload, StripeInvoiceSnapshot):
            if payload.stripe_account_id is not None:
                found.invoices.setdefault(payload.invoice_id, first_sight(payload))
                if payload.subscription_id is not None:
                    found.billed_by.add(payload.subscription_id)
        elif isinstance(payload, StripeSubscriptionSnapshot):
            if payload.stripe_account_id is not None:
                found.subscriptions.setdefault(payload.subscription_id, payload.status)
        elif isinstance(payload, StripeApplicationFeeSnapshot):
            if payload.charge_id is not None:
                found.charges.add(payload.charge_id)
        else:
            paid(told_facts(payload))
    return found


@contextlib.contextmanager
def caused_by(event: Event) -> Iterator[None]:
    """What the event announces names it as its cause, as when it is applied alone."""
    bind_correlation_id(event.correlation_id or event.event_id.hex)
    bind_causation_id(str(event.event_id))
    try:
        yield
    finally:
        bind_causation_id(None)


@dataclass
class MirrorBatch:
    session: AsyncSession
    """The consumer's transaction: the outbox rows join it."""
    repository: MirrorBatchRepository
    outbox: Publisher
    stripe: MirrorStripe

    @classmethod
    def build(cls, runtime: Runtime, session: AsyncSession) -> MirrorBatch:
        """The mirror for one consumed batch's transaction."""
        return cls(
            session, BatchRepository(session), runtime.outbox, InvoicingStripe(runtime.stripe)
        )

    async def apply(self, events: Sequence[Event]) -> None:
        """Merge ``events`` (of client invoices, payments and subscriptions) in their order,
        leaving the rows and announcements applying them one at a time would."""
        if not events:
            return
        rows = BatchRows(self.repository)
        await rows.load(wanted(events))
        mirror = Mirror(self.session, rows, self.outbox, self.stripe)
        for event in events:
            with caused_by(event):
                await apply_event(mirror, event)
        await rows.save()
