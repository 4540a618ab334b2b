"""Stripe's events fed to the invoice mirror in process, as production feeds it: normalized by
webhook-ingest's own rules, then handed to the mirror as invoicing's consumers hand them
(their translation of a payment-side event included)."""

from __future__ import annotations

import random
import uuid
from collections.abc import Sequence

from billing_contracts import Event, Topic
from billing_contracts.billing_invoices import (
    STRIPE_INVOICES,
    StripeInvoiceFinalized,
    StripeInvoicePaymentFailed,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_payments import (
    STRIPE_PAYMENTS,
    StripeApplicationFeeCreated,
    StripeApplicationFeeSnapshot,
    StripeRefundCreated,
    StripeRefundFailed,
    StripeRefundSnapshot,
)
from billing_contracts.billing_stripe import PaymentAttribution
from billing_contracts.billing_subscriptions import (
    STRIPE_SUBSCRIPTIONS,
    StripeSubscriptionSnapshot,
    StripeSubscriptionState,
    StripeSubscriptionUpdated,
)
from invoicing.service.mirror import Mirror
from invoicing.service.mirror_batch import apply_event
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
    await apply_event(mirror, event)


# --- Many invoices at once, as the consumers meet them ---------------------------------------

MIRROR_TOPICS = (STRIPE_INVOICES, STRIPE_PAYMENTS, STRIPE_SUBSCRIPTIONS)


def topic_of(event: Event) -> Topic:
    return next(topic for topic in MIRROR_TOPICS if type(event) in topic.events)


def subscription_events(account: str, start: int, subscription_id: str) -> list[Event]:
    """A subscription falling past due and back within its second (Stripe's word carried),
    a late state of before, and its open invoice, finalized then failing a payment."""
    where = {"agency_id": "agency-subs", "workspace_id": "ws-subs"}

    def state(status: str, second: int, told: str | None = None) -> Event:
        payload = StripeSubscriptionSnapshot(
            stripe_event_id=f"evt_{subscription_id}_{second}_{status}",
            stripe_created=start + second,
            stripe_account_id=account,
            metadata=dict(where),
            subscription_id=subscription_id,
            customer_id=f"cus_{subscription_id}",
            status=status,
            currency="usd",
            application_fee_percent=2.5,
            stripe_state=None if told is None else StripeSubscriptionState(status=told),
        )
        return StripeSubscriptionUpdated(payload=payload, **where)

    def invoice(kind: type[Event], second: int, attempts: int) -> Event:
        payload = StripeInvoiceSnapshot(
            stripe_event_id=f"evt_{subscription_id}_invoice_{second}",
            stripe_created=start + second,
            stripe_account_id=account,
            invoice_id=f"in_{subscription_id}",
            subscription_id=subscription_id,
            customer_id=f"cus_{subscription_id}",
            status="open",
            currency="usd",
            amount_due=4_000,
            amount_paid=0,
            amount_remaining=4_000,
            subtotal=4_000,
            attempt_count=attempts,
            created=start,
        )
        return kind.model_validate({"payload": payload, **where})

    return [
        state("active", 0),
        invoice(StripeInvoiceFinalized, 1, 0),
        invoice(StripeInvoicePaymentFailed, 2, 1),
        state("past_due", 10),
        state("active", 5),  # late: changes nothing
        state("active", 10, told="active"),  # same second: Stripe's word says which is current
    ]


def refunds_and_fee(story: InvoiceStory, *, attributed: bool) -> list[Event]:
    """Two refunds of the story's payment, one of them failing later, and the platform's fee
    taken from its charge (an event naming the charge only)."""
    attribution = PaymentAttribution(
        charge_id=story.charge_id,
        payment_intent_id=story.payment_intent_id,
        invoice_id=story.invoice_id,
    )

    def refund(refund_id: str, status: str, second: int, amount: int) -> Event:
        payload = StripeRefundSnapshot(
            stripe_event_id=f"evt_{refund_id}_{status}",
            stripe_created=story.start + second,
            stripe_account_id=story.account,
            refund_id=refund_id,
            status=status,
            amount=amount,
            currency="usd",
            charge_id=story.charge_id,
            payment_intent_id=story.payment_intent_id,
            attribution=attribution if attributed else None,
        )
        kind = StripeRefundFailed if status == "failed" else StripeRefundCreated
        return kind(payload=payload)

    fee = StripeApplicationFeeSnapshot(
        stripe_event_id=f"evt_fee_{story.charge_id}",
        stripe_created=story.start + 20,
        application_fee_id=f"fee_{story.charge_id}",
        amount=75,
        currency="usd",
        charge_id=story.charge_id,
        paying_account_id=story.account,
    )
    refunded, failing = f"re_{story.charge_id}_1", f"re_{story.charge_id}_2"
    return [
        refund(refunded, "succeeded", 21, 1_000),
        refund(failing, "succeeded", 22, 500),
        refund(failing, "failed", 23, 500),
        StripeApplicationFeeCreated(payload=fee),
    ]


def feed_stories(invoices: int, seed: int, *, account: str, start: int) -> list[InvoiceStory]:
    """``invoices`` invoices' stories on one account, each a hundred seconds after the last."""
    return [
        InvoiceStory(
            account=account,
            agency_id="agency-feed",
            workspace_id=f"ws-{n % 3}",
            start=start + 100 * n,
            invoice_id=f"in_feed_{seed}_{n}",
            payment_intent_id=f"pi_feed_{seed}_{n}",
            charge_id=f"ch_feed_{seed}_{n}",
            dispute_id=f"dp_feed_{seed}_{n}",
        )
        for n in range(invoices)
    ]


def mixed_feed(invoices: int, seed: int, *, account: str, start: int) -> list[Event]:
    """The stories of ``feed_stories`` (with refunds and fees; every other one's payment
    events without the invoice they paid) and two subscriptions' told at once in a shuffled
    order, a third of the events twice (the repeat under an event id of its own, as Stripe
    sends an event again)."""
    rng = random.Random(seed)
    events: list[Event] = []
    for n, story in enumerate(feed_stories(invoices, seed, account=account, start=start)):
        events += told(story, attributed=n % 2 == 0)
        events += refunds_and_fee(story, attributed=n % 2 == 0)
    for n in range(2):
        events += subscription_events(account, start, f"sub_feed_{seed}_{n}")
    repeats = [
        event.model_copy(update={"event_id": uuid.uuid4()})
        for event in rng.sample(events, len(events) // 3)
    ]
    mixed = events + repeats
    rng.shuffle(mixed)
    return mixed


def schedule(events: Sequence[Event], max_batch: int) -> list[tuple[Topic, list[Event]]]:
    """The batches the mirror's consumers are given: each topic's events in their order, up
    to ``max_batch`` a batch, the topics' batches taking turns (as consumers of different
    topics run side by side)."""
    batches: dict[str, list[list[Event]]] = {topic.name: [] for topic in MIRROR_TOPICS}
    for event in events:
        runs = batches[topic_of(event).name]
        if not runs or len(runs[-1]) == max_batch:
            runs.append([])
        runs[-1].append(event)
    turns: list[tuple[Topic, list[Event]]] = []
    for step in range(max(len(runs) for runs in batches.values())):
        for topic in MIRROR_TOPICS:
            runs = batches[topic.name]
            if step < len(runs):
                turns.append((topic, runs[step]))
    return turns
