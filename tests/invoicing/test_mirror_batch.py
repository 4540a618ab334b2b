"""The invoice mirror a batch at a time (``invoicing.service.mirror_batch``) over the fakes of
its ports: whatever the batches, the rows, the announcements and what Stripe is asked are
those of the same events applied one at a time, each in a transaction of its own (duplicates,
late events, a gap filled from Stripe, a subscription's two states in one second included);
and a batch asks for its rows a few times whatever its size."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

import pytest

from billing_contracts import Event
from billing_contracts.billing_invoices import (
    STRIPE_INVOICES,
    StripeInvoiceFinalized,
    StripeInvoiceSnapshot,
)
from billing_contracts.billing_payments import (
    StripeApplicationFeeCreated,
    StripeApplicationFeeSnapshot,
)
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionSnapshot,
    StripeSubscriptionUpdated,
)
from invoicing.models import Invoice, Payment, Refund, Subscription
from tests.helpers.invoicing.fakes import FakeUnitOfWork
from tests.helpers.invoicing.invoice_events import InvoiceStory
from tests.helpers.invoicing.mirror_feed import (
    deliver,
    feed_stories,
    mixed_feed,
    schedule,
    told,
)

pytestmark = pytest.mark.unit

ACCOUNT = "acct_batch"
START = 1_780_000_000


def _world(stories: list[InvoiceStory]) -> FakeUnitOfWork:
    """The fakes, with Stripe holding each story's invoice as it ended and its payment."""
    world = FakeUnitOfWork()
    world.agency("agency-feed", ACCOUNT)
    for story in stories:
        world.stripe.invoices[story.invoice_id] = story.invoice("paid", attempt_count=2)
        world.stripe.paid_by[story.payment_intent_id] = story.invoice_id
    return world


def _state(world: FakeUnitOfWork) -> dict[str, Any]:
    """Every row of the mirror, every announcement and every question to Stripe."""
    rows: list[Invoice | Payment | Refund | Subscription] = [
        *world.tables.invoices.values(),
        *world.tables.payments.values(),
        *world.tables.refunds.values(),
        *world.tables.subscriptions.values(),
    ]
    return {
        "rows": sorted(repr(sorted(row.model_dump().items())) for row in rows),
        "announced": [
            (row.key, row.event_type, row.event.payload.model_dump(mode="json"))
            for row in world.outbox.published
        ],
        "stripe": world.stripe.calls,
    }


async def _one_at_a_time(world: FakeUnitOfWork, events: list[Event]) -> dict[str, Any]:
    for event in events:
        await world.in_mirror(partial(deliver, event=event))
    return _state(world)


async def _in_batches(world: FakeUnitOfWork, batches: list[list[Event]]) -> dict[str, Any]:
    for batch in batches:
        await world.in_batch(batch)
    return _state(world)


@pytest.mark.parametrize(("seed", "max_batch"), [(0, 1), (1, 8), (2, 500), (3, None)])
async def test_batches_leave_what_one_event_at_a_time_leaves(
    seed: int, max_batch: int | None
) -> None:
    """Property over shuffled feeds of four invoices and two subscriptions, a third of the
    events twice, every other invoice's payments naming no invoice (Stripe is asked): in
    each topic's batches of up to ``max_batch``, or (None) all in one batch."""
    stories = feed_stories(4, seed, account=ACCOUNT, start=START)
    events = mixed_feed(4, seed, account=ACCOUNT, start=START)
    by_topic = [batch for _, batch in schedule(events, max_batch or len(events))]
    batches = [events] if max_batch is None else by_topic

    alone = await _one_at_a_time(_world(stories), [e for batch in batches for e in batch])
    together = await _in_batches(_world(stories), batches)

    assert together == alone
    kinds = [kind for _, kind, _ in alone["announced"]]
    assert kinds.count("invoice.mirrored") == 6  # four stories, two subscriptions' invoices
    assert {"invoice.paid", "invoice.refunded", "invoice.dispute_closed"} <= set(kinds)


def _story() -> InvoiceStory:
    return InvoiceStory(
        account=ACCOUNT,
        agency_id="agency-feed",
        workspace_id="ws-1",
        start=START,
        invoice_id="in_story",
        payment_intent_id="pi_story",
        charge_id="ch_story",
        dispute_id="dp_story",
    )


def _again(event: Event) -> Event:
    """The same Stripe event delivered a second time (under an event id of its own)."""
    return event.model_copy(update={"event_id": uuid.uuid4()})


async def test_a_batch_of_a_finalized_then_paid_invoice_with_repeats_and_late_events() -> None:
    story = _story()
    events = {e.type: e for e in told(story, attributed=True)}
    batch = [
        events["invoice.finalized"],
        events["invoice.paid"],
        events["charge.succeeded"],
        _again(events["invoice.paid"]),
        events["invoice.payment_failed"],  # late: an earlier state
        events["invoice.created"],  # late: the draft
    ]

    alone = await _one_at_a_time(_world([story]), batch)
    together = await _in_batches(_world([story]), [batch])

    assert together == alone
    assert [kind for _, kind, _ in together["announced"]] == [
        "invoice.mirrored",
        "invoice.issued",
        "invoice.paid",
        "invoice.updated",  # with the charge that paid it
    ]
    last = together["announced"][-1][2]
    assert (last["status"], last["attempt_count"], last["stripe_charge_id"]) == (
        "paid",
        2,
        story.charge_id,
    )
    assert together["stripe"] == []


async def test_a_gap_filled_from_stripe_before_the_invoice_s_own_event_in_the_batch() -> None:
    """The charge names no invoice: Stripe says which, and the mirror, which never saw it,
    mirrors it as Stripe has it (paid) before the invoice's own, older event comes."""
    story = _story()
    events = {e.type: e for e in told(story, attributed=False)}
    finalized = events["invoice.finalized"]
    # (without the invoice's own ``created``: the event's time stands for it on first sight)
    untimed = finalized.payload.model_copy(update={"created": None})
    batch = [
        events["charge.succeeded"],
        finalized.model_copy(update={"payload": untimed}),
        events["invoice.sent"],
    ]

    alone = await _one_at_a_time(_world([story]), batch)
    together = await _in_batches(_world([story]), [batch])

    assert together == alone
    assert together["stripe"] == ["invoice_of_payment_intent", "invoice"]
    assert [kind for _, kind, _ in together["announced"]] == ["invoice.mirrored", "invoice.paid"]


def _subscription(status: str, second: int) -> Event:
    payload = StripeSubscriptionSnapshot(
        stripe_event_id=f"evt_sub_{second}_{status}",
        stripe_created=START + second,
        stripe_account_id=ACCOUNT,
        metadata={"agency_id": "agency-feed", "workspace_id": "ws-1"},
        subscription_id="sub_1",
        customer_id="cus_1",
        status=status,
        currency="usd",
        application_fee_percent=2.5,
    )
    return StripeSubscriptionUpdated(payload=payload, agency_id="agency-feed")


def _subscription_invoice() -> Event:
    payload = StripeInvoiceSnapshot(
        stripe_event_id="evt_sub_invoice",
        stripe_created=START + 1,
        stripe_account_id=ACCOUNT,
        invoice_id="in_sub",
        subscription_id="sub_1",
        customer_id="cus_1",
        status="open",
        currency="usd",
        amount_due=4_000,
        amount_paid=0,
        amount_remaining=4_000,
        subtotal=4_000,
        created=START,
    )
    return StripeInvoiceFinalized(payload=payload)


@pytest.mark.parametrize("stripe_says", ["active", "past_due"])
@pytest.mark.parametrize("one_batch", [False, True], ids=["batch-a-topic", "one-batch"])
async def test_a_subscription_s_two_states_in_one_second_inside_a_batch(
    stripe_says: str, one_batch: bool
) -> None:
    """Its open invoice turns past due, then back, as Stripe's word on the second state says;
    the invoice comes between the subscription's states, in a batch of its own topic or in
    the same batch."""
    world = {mode: FakeUnitOfWork() for mode in ("alone", "together")}
    for each in world.values():
        each.stripe.subscriptions["sub_1"] = {"id": "sub_1", "status": stripe_says}
    first = [_subscription("active", 0), _subscription("past_due", 10)]
    second = [_subscription("active", 10), _subscription("trialing", 5)]  # Stripe asked; late
    events = [*first, _subscription_invoice(), *second]

    alone = await _one_at_a_time(world["alone"], events)
    batches = [events] if one_batch else [first, [_subscription_invoice()], second]
    together = await _in_batches(world["together"], batches)

    assert together == alone
    assert together["stripe"] == ["subscription"]
    assert world["together"].tables.subscriptions["sub_1"].status == stripe_says
    past_due = [payload["past_due"] for _, _, payload in together["announced"]]
    assert past_due == ([True, True, False] if stripe_says == "active" else [True, True])


async def test_a_fee_naming_a_charge_the_batch_first_told_of() -> None:
    """The fee's event names only the charge, which an earlier event of the batch linked to
    its payment: the fee taken replaces the one planned."""
    story = _story()
    events = {e.type: e for e in told(story, attributed=True)}
    fee = StripeApplicationFeeSnapshot(
        stripe_event_id="evt_fee",
        stripe_created=START + 30,
        application_fee_id="fee_1",
        amount=75,
        currency="usd",
        charge_id=story.charge_id,
        paying_account_id=ACCOUNT,
    )
    batch = [events["invoice.paid"], events["charge.succeeded"]]
    batch += [StripeApplicationFeeCreated(payload=fee)]

    alone = await _one_at_a_time(_world([story]), batch)
    together = await _in_batches(_world([story]), [batch])

    assert together == alone
    assert [p["application_fee_cents"] for _, _, p in together["announced"]] == [60, 60, 60, 75]


async def test_an_invoice_without_our_metadata_takes_the_workspace_its_batch_told() -> None:
    """Two invoices of one customer in a batch: the second, made without our metadata,
    belongs to the workspace the first one's says."""
    told_workspace = _invoice_of_customer("in_1", {"workspace_id": "ws-7"})
    untold = _invoice_of_customer("in_2", {})
    world = {mode: FakeUnitOfWork() for mode in ("alone", "together")}
    for each in world.values():
        each.agency("agency-feed", ACCOUNT)

    alone = await _one_at_a_time(world["alone"], [told_workspace, untold])
    together = await _in_batches(world["together"], [[told_workspace, untold]])

    assert together == alone
    assert world["together"].tables.invoices["in_2"].workspace_id == "ws-7"


def _invoice_of_customer(invoice_id: str, metadata: dict[str, str]) -> Event:
    payload = StripeInvoiceSnapshot(
        stripe_event_id=f"evt_{invoice_id}",
        stripe_created=START,
        stripe_account_id=ACCOUNT,
        metadata=metadata,
        invoice_id=invoice_id,
        customer_id="cus_1",
        status="open",
        currency="usd",
        amount_due=4_000,
        amount_paid=0,
        amount_remaining=4_000,
        created=START,
    )
    return StripeInvoiceFinalized(payload=payload)


@pytest.mark.parametrize("topic", ["invoices", "payments"])
async def test_a_batch_asks_for_its_rows_a_few_times_whatever_its_size(topic: str) -> None:
    asked = []
    for invoices in (2, 10):
        stories = feed_stories(invoices, 0, account=ACCOUNT, start=START)
        world = _world(stories)
        events = [e for story in stories for e in told(story, attributed=True)]
        on_invoices = [e for e in events if type(e) in STRIPE_INVOICES.events]
        repository = await world.in_batch(on_invoices)
        if topic == "payments":
            repository = await world.in_batch([e for e in events if e not in on_invoices])
        asked.append(repository.queries)

    assert asked[0] == asked[1]
    assert len(asked[0]) <= 10
