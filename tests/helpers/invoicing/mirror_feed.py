"""Stripe's events fed to the invoice mirror in process, as production feeds it: normalized by
webhook-ingest's own rules, then handed to the mirror as invoicing's consumers hand them
(their translation of a payment-side event included)."""

from __future__ import annotations

from billing_contracts import Event
from billing_contracts.billing_invoices import (
    StripeInvoiceOverdue,
    StripeInvoicePaymentPaid,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_stripe import PaymentAttribution
from billing_contracts.billing_subscriptions import StripeSubscriptionSnapshot
from invoicing.consumers import _payment_facts
from invoicing.service.mirror import Mirror
from tests.helpers.invoicing.invoice_events import InvoiceStory
from webhook_ingest.rules.normalize import normalize


def told(story: InvoiceStory, *, attributed: bool) -> list[Event]:
    """The story's events as webhook-ingest publishes them; ``attributed``: each payment-side
    event says which invoice the payment paid (else the mirror asks Stripe)."""
    attribution = PaymentAttribution(
        charge_id=story.charge_id,
        payment_intent_id=story.payment_intent_id,
        invoice_id=story.invoice_id,
        agency_id=story.agency_id,
        workspace_id=story.workspace_id,
    )
    published = []
    for stripe_event in story.events():
        normalized = normalize(stripe_event, None)
        assert normalized is not None
        event = normalized.event
        if attributed and "attribution" in type(event.payload).model_fields:
            payload = event.payload.model_copy(update={"attribution": attribution})
            event = event.model_copy(update={"payload": payload})
        published.append(event)
    return published


async def deliver(mirror: Mirror, event: Event) -> None:
    """What invoicing's consumers have the mirror do with one of Stripe's events."""
    payload = event.payload
    if isinstance(event, StripeInvoicePaymentPaid):
        await mirror.apply_invoice_payment(event.payload, agency_id=event.agency_id)
    elif isinstance(payload, StripeInvoiceSnapshot):
        overdue = isinstance(event, StripeInvoiceOverdue)
        where = {"agency_id": event.agency_id, "workspace_id": event.workspace_id}
        await mirror.apply_invoice(payload, **where, overdue=overdue)
    elif isinstance(payload, StripeSubscriptionSnapshot):
        where = {"agency_id": event.agency_id, "workspace_id": event.workspace_id}
        await mirror.apply_subscription(payload, **where)
    else:
        facts = await _payment_facts(mirror, payload)
        if facts is not None:
            await mirror.apply_payment(facts, agency_id=event.agency_id)
