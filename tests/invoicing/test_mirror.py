"""The invoice mirror (``invoicing.service.mirror``).

On the stack: gaps in what the mirror saw are filled from Stripe: a payment event about an
invoice the mirror never heard of finds its invoice through Stripe's invoice payments and
mirrors it as Stripe has it (the mirror on a database of its own against the real emulator).

In the fast tier (``unit``, the section "The mirror on fakes"): the mirror over the fakes of
its ports, fed one invoice's life as Stripe tells it, normalized as webhook-ingest publishes
it, each event in a transaction of its own as the consumers run it. Duplicated, shuffled and
late events end in the same invoice, and each change is announced once."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from functools import partial
from itertools import pairwise
from typing import Any, cast

import pytest
import stripe
from sqlalchemy import func
from sqlmodel import select

from billing_contracts import Event
from billing_contracts.billing_invoices import StripeInvoiceSnapshot
from billing_contracts.billing_payments import (
    StripeApplicationFeeCreated,
    StripeApplicationFeeSnapshot,
    StripeRefundCreated,
    StripeRefundFailed,
    StripeRefundSnapshot,
)
from billing_contracts.billing_subscriptions import (
    StripeSubscriptionSnapshot,
    StripeSubscriptionState,
    StripeSubscriptionUpdated,
)
from billing_contracts.invoicing_invoices import InvoiceSnapshot
from billing_devstack import Infra
from billing_kit.db import unit_of_work
from billing_kit.outbox import Outbox
from billing_kit.stripe_client import stripe_client
from billing_kit.stripe_states import invoice_progress
from invoicing.models import Invoice, Subscription, kit_tables
from invoicing.repository import InvoicingRepository, invoice_id_for
from invoicing.service.facts import PaymentFacts
from invoicing.service.mirror import Mirror
from invoicing.stripe_gateway import InvoicingStripe
from tests.helpers.agencies import Agency
from tests.helpers.databases import service_sessions
from tests.helpers.invoicing.fakes import FakeUnitOfWork
from tests.helpers.invoicing.invoice_events import InvoiceStory
from tests.helpers.invoicing.mirror_feed import deliver, told


@pytest.fixture(scope="module")
async def sessions(infra: Infra) -> AsyncIterator[Any]:
    async with service_sessions(infra.database_url, "invoicing") as made:
        yield made


@pytest.mark.integration
@pytest.mark.slow
async def test_a_payment_of_an_unknown_invoice_brings_the_invoice_from_stripe(
    agency: Agency, stripe_sdk: stripe.StripeClient, sessions: Any, infra: Infra
) -> None:
    assert agency.account_id is not None
    assert infra.stripe_api_base is not None
    options: Any = {"stripe_account": agency.account_id}
    workspace_id = f"ws-{uuid.uuid4().hex[:10]}"
    metadata = {"agency_id": agency.agency_id, "workspace_id": workspace_id}
    customer = await stripe_sdk.v1.customers.create_async(options=options)
    invoice = await stripe_sdk.v1.invoices.create_async(
        params={"customer": customer.id, "collection_method": "send_invoice", "metadata": metadata},
        options=options,
    )
    assert invoice.id is not None
    await stripe_sdk.v1.invoice_items.create_async(
        params={"customer": customer.id, "invoice": invoice.id, "amount": 7_500, "currency": "usd"},
        options=options,
    )
    await stripe_sdk.v1.invoices.finalize_invoice_async(invoice.id, options=options)
    payments = await stripe_sdk.v1.invoice_payments.list_async(
        params={"invoice": invoice.id}, options=options
    )
    intent = payments.data[0].payment.payment_intent
    assert isinstance(intent, str)

    async with (
        stripe_client("sk_test_gaps", infra.stripe_api_base) as client,
        unit_of_work(sessions) as session,
    ):
        mirror = Mirror(
            session,
            InvoicingRepository(session),
            Outbox(kit_tables.outbox),
            InvoicingStripe(client),
        )
        await mirror.apply_payment(
            PaymentFacts(
                payment_intent_id=intent, account=agency.account_id, stripe_created=int(time.time())
            ),
            agency_id=agency.agency_id,
        )

    async with sessions() as session:
        row = (
            await session.execute(select(Invoice).where(Invoice.stripe_invoice_id == invoice.id))
        ).scalar_one()
        announced = await session.execute(select(func.count()).select_from(kit_tables.outbox))
    assert (row.status, row.amount_due, row.kind) == ("open", 7_500, "one_off")
    assert (row.agency_id, row.workspace_id) == (agency.agency_id, workspace_id)
    assert row.hosted_invoice_url is not None
    assert announced.scalar_one() == 2  # invoice.mirrored, invoice.issued


# --- The mirror on fakes (unit tier: no stack) ------------------------------------------------

ACCOUNT = "acct_story"
START = 1_780_000_000
IN_ORDER_ANNOUNCEMENTS = [
    ("invoice.finalized", ["invoice.mirrored", "invoice.issued"]),
    ("invoice.payment_failed", ["invoice.payment_failed"]),
    ("charge.succeeded", ["invoice.updated"]),  # now with its payment intent and charge
    ("invoice.paid", ["invoice.paid"]),
    ("charge.refunded", ["invoice.refunded"]),
    ("charge.refunded", ["invoice.refunded"]),
    ("charge.dispute.created", ["invoice.disputed"]),
    ("charge.dispute.updated", ["invoice.dispute_updated"]),
    ("charge.dispute.closed", ["invoice.dispute_closed"]),
]
"""What each event of the story announces when Stripe's events come in order (the others,
``invoice.created`` a draft's and the rest repeats of what was known, announce nothing)."""


def _story() -> InvoiceStory:
    return InvoiceStory(
        account=ACCOUNT, agency_id="agency-story", workspace_id="ws-story", start=START
    )


def _world(story: InvoiceStory) -> FakeUnitOfWork:
    """The fakes, with Stripe holding the story's invoice as it ended and its payment."""
    world = FakeUnitOfWork()
    world.stripe.invoices[story.invoice_id] = story.invoice("paid", attempt_count=2)
    world.stripe.paid_by[story.payment_intent_id] = story.invoice_id
    return world


async def _feed(world: FakeUnitOfWork, events: Sequence[Event]) -> None:
    """Each event consumed in a transaction of its own."""
    for event in events:
        await world.in_mirror(partial(deliver, event=event))


def _by_type(story: InvoiceStory, *, attributed: bool) -> dict[str, Event]:
    """The story's events by type (of two of a type, the later)."""
    return {event.type: event for event in told(story, attributed=attributed)}


async def _paid_by_its_charge() -> tuple[InvoiceStory, FakeUnitOfWork]:
    """The story's invoice mirrored paid, with the charge that paid it."""
    story = _story()
    world = _world(story)
    events = _by_type(story, attributed=True)
    await _feed(world, [events["invoice.paid"], events["charge.succeeded"]])
    return story, world


def _shown(invoice: InvoiceSnapshot) -> dict[str, Any]:
    """What an announcement shows of the invoice, its revision aside."""
    return invoice.model_dump(mode="json", exclude={"revision"})


async def _settled(world: FakeUnitOfWork, stripe_invoice_id: str) -> dict[str, Any]:
    """The invoice as the mirror shows it now."""

    async def shown(mirror: Mirror) -> InvoiceSnapshot:
        row = await mirror.repository.invoice(stripe_invoice_id)
        assert row is not None
        return await mirror.snapshot(row)

    return _shown(await world.in_mirror(shown))


def _announced(world: FakeUnitOfWork) -> list[InvoiceSnapshot]:
    payloads = [row.event.payload for row in world.outbox.published]
    assert all(isinstance(payload, InvoiceSnapshot) for payload in payloads)
    return cast(list[InvoiceSnapshot], payloads)


@pytest.mark.unit
async def test_the_story_in_order_announces_each_change_once_on_the_invoice_s_key() -> None:
    story = _story()
    world = _world(story)
    batches = []
    for event in told(story, attributed=True):
        before = len(world.outbox.published)
        await _feed(world, [event])
        batch = [row.event_type for row in world.outbox.published[before:]]
        # written in the event's own transaction, beside the change they announce
        assert {row.session for row in world.outbox.published[before:]} <= {world.sessions[-1]}
        if batch:
            batches.append((event.type, batch))

    assert batches == IN_ORDER_ANNOUNCEMENTS
    published = world.outbox.published
    assert {row.topic for row in published} == {"invoicing.invoices.v1"}
    assert {row.key for row in published} == {invoice_id_for(story.invoice_id)}
    assert {(row.event.agency_id, row.event.workspace_id) for row in published} == {
        ("agency-story", "ws-story")
    }
    revisions = [payload.revision for payload in _announced(world)]
    assert revisions == [1, 1, 2, 3, 4, 5, 6, 7, 8, 9]  # the events of one change share one
    last = _announced(world)[-1]
    assert (last.status, last.amount_paid_cents, last.amount_refunded_cents) == (
        "paid",
        12_000,
        5_000,
    )
    assert (last.application_fee_cents, last.stripe_charge_id) == (60, story.charge_id)
    assert last.dispute is not None
    assert last.dispute.status == "lost"
    assert _shown(last) == await _settled(world, story.invoice_id)
    assert world.stripe.calls == []  # every event told the mirror all it needed


@pytest.mark.unit
@pytest.mark.parametrize("attributed", [True, False], ids=["attributed", "asking-stripe"])
async def test_shuffled_and_repeated_events_end_in_the_same_invoice_announced_once_a_change(
    attributed: bool,
) -> None:
    """Property over 100 orders: any order of the story's events, some delivered twice, ends
    in the invoice the in-order story ends in; every announcement is a change, none goes
    back; the invoice's milestones are announced once; then the whole story again, in any
    order, announces nothing."""
    story = _story()
    events = told(story, attributed=attributed)
    in_order = _world(story)
    await _feed(in_order, events)
    expected = await _settled(in_order, story.invoice_id)

    for seed in range(100):
        rng = random.Random(seed)
        deliveries = [*events, *rng.choices(events, k=rng.randrange(len(events)))]
        rng.shuffle(deliveries)
        world = _world(story)
        await _feed(world, deliveries)

        assert await _settled(world, story.invoice_id) == expected, f"seed {seed}"
        announced = _announced(world)
        types = world.outbox.types()
        assert types[0] == "invoice.mirrored", f"seed {seed}"
        for milestone in ("invoice.mirrored", "invoice.paid", "invoice.disputed"):
            assert types.count(milestone) == 1, f"seed {seed}: {types}"
        assert types.count("invoice.dispute_closed") == 1, f"seed {seed}: {types}"
        assert types.count("invoice.issued") <= 1, f"seed {seed}: {types}"
        by_revision = {payload.revision: payload for payload in announced}
        assert list(by_revision) == list(range(1, len(by_revision) + 1)), f"seed {seed}"
        shown = [_shown(payload) for payload in by_revision.values()]
        assert all(a != b for a, b in pairwise(shown)), f"seed {seed}: announced no change"
        statuses = [invoice_progress(payload.status) for payload in announced]
        assert statuses == sorted(statuses), f"seed {seed}: a status went back"
        refunded = [payload.amount_refunded_cents for payload in announced]
        assert refunded == sorted(refunded), f"seed {seed}"
        assert shown[-1] == expected, f"seed {seed}: the last announcement is not the invoice"
        if attributed:
            assert "invoice_of_payment_intent" not in world.stripe.calls

        published = len(world.outbox.published)
        await _feed(world, rng.sample(events, len(events)))
        assert len(world.outbox.published) == published, f"seed {seed}: a replay announced"


@pytest.mark.unit
async def test_late_events_of_an_earlier_state_change_nothing() -> None:
    story = _story()
    world = _world(story)
    events = _by_type(story, attributed=True)
    await _feed(world, [events["invoice.paid"]])
    assert world.outbox.types() == ["invoice.mirrored", "invoice.paid"]
    paid = await _settled(world, story.invoice_id)

    late = ("invoice.created", "invoice.finalized", "invoice.sent", "invoice.payment_failed")
    await _feed(world, [events[name] for name in late])

    assert await _settled(world, story.invoice_id) == paid
    assert world.outbox.types() == ["invoice.mirrored", "invoice.paid"]
    assert paid["status"] == "paid"
    assert paid["attempt_count"] == 2


@pytest.mark.unit
async def test_a_draft_is_kept_but_not_announced_until_it_opens() -> None:
    story = _story()
    world = _world(story)
    created, finalized = told(story, attributed=True)[:2]
    await _feed(world, [created, created])
    assert world.tables.invoices[story.invoice_id].status == "draft"
    assert world.outbox.published == []
    await _feed(world, [finalized])
    assert world.outbox.types() == ["invoice.mirrored", "invoice.issued"]
    assert _announced(world)[0].status == "open"


def _invoice_snapshot(**fields: Any) -> StripeInvoiceSnapshot:
    values: dict[str, Any] = {
        "stripe_event_id": "evt_1",
        "stripe_created": START,
        "stripe_account_id": ACCOUNT,
        "invoice_id": "in_plain",
        "status": "open",
        "customer_id": "cus_plain",
        "currency": "usd",
        "amount_due": 4_000,
        "amount_paid": 0,
        "amount_remaining": 4_000,
        "subtotal": 4_000,
        "created": START,
    }
    return StripeInvoiceSnapshot.model_validate({**values, **fields})


@pytest.mark.unit
async def test_the_platform_s_own_invoice_is_no_client_invoice() -> None:
    world = FakeUnitOfWork()
    snapshot = _invoice_snapshot(stripe_account_id=None, customer_account="acct_agency")
    row = await world.in_mirror(
        lambda mirror: mirror.apply_invoice(snapshot, agency_id="agency-1", workspace_id=None)
    )
    assert row is None
    assert world.tables.invoices == {}
    assert world.outbox.published == []


@pytest.mark.unit
async def test_an_invoice_without_our_metadata_belongs_to_its_account_and_its_customer() -> None:
    """Made in Stripe's dashboard: the agency is the account's, the workspace the one another
    row of the same customer belongs to."""
    world = FakeUnitOfWork()
    world.agency("agency-1", ACCOUNT)
    world.tables.subscriptions["sub_1"] = Subscription(
        stripe_subscription_id="sub_1",
        stripe_account_id=ACCOUNT,
        stripe_customer_id="cus_plain",
        agency_id="agency-1",
        workspace_id="ws-1",
        status="active",
    )
    snapshot = _invoice_snapshot()
    await world.in_mirror(
        lambda mirror: mirror.apply_invoice(snapshot, agency_id=None, workspace_id=None)
    )

    row = world.tables.invoices["in_plain"]
    assert (row.agency_id, row.workspace_id, row.kind) == ("agency-1", "ws-1", "one_off")
    assert world.outbox.types() == ["invoice.mirrored", "invoice.issued"]
    event = world.outbox.published[0].event
    assert (event.agency_id, event.workspace_id) == ("agency-1", "ws-1")


def _refund(story: InvoiceStory, *, status: str, second: int) -> Event:
    payload = StripeRefundSnapshot(
        stripe_event_id=f"evt_refund_{second}",
        stripe_created=START + second,
        stripe_account_id=ACCOUNT,
        refund_id="re_1",
        status=status,
        amount=2_000,
        currency="usd",
        charge_id=story.charge_id,
        payment_intent_id=story.payment_intent_id,
    )
    kind = StripeRefundFailed if status == "failed" else StripeRefundCreated
    return kind(payload=payload)


@pytest.mark.unit
async def test_a_refund_that_fails_no_longer_counts_and_stays_failed() -> None:
    story, world = await _paid_by_its_charge()
    before = len(world.outbox.published)

    await _feed(world, [_refund(story, status="succeeded", second=20)])
    await _feed(world, [_refund(story, status="failed", second=21)])
    await _feed(world, [_refund(story, status="succeeded", second=20)])  # redelivered late

    assert world.outbox.types()[before:] == ["invoice.refunded", "invoice.updated"]
    refunded = [p.amount_refunded_cents for p in _announced(world)[before:]]
    assert refunded == [2_000, 0]
    assert world.tables.refunds["re_1"].failed is True


@pytest.mark.unit
async def test_a_stripe_outage_while_linking_a_payment_changes_nothing() -> None:
    """The consumer's transaction rolls back and the event comes again: nothing is kept of
    the first attempt (not even that Stripe was asked)."""
    story = _story()
    world = _world(story)
    charge = next(e for e in told(story, attributed=False) if e.type == "charge.succeeded")
    away = stripe.APIConnectionError("Stripe is away")  # type: ignore[no-untyped-call]
    world.stripe.failures["invoice_of_payment_intent"] = away

    with pytest.raises(stripe.APIConnectionError):
        await _feed(world, [charge])
    assert world.tables.payments == {}
    assert world.outbox.published == []

    del world.stripe.failures["invoice_of_payment_intent"]
    await _feed(world, [charge])
    assert world.tables.payments[story.payment_intent_id].stripe_invoice_id == story.invoice_id
    assert world.outbox.types() == ["invoice.mirrored", "invoice.paid"]
    assert world.stripe.calls == [
        "invoice_of_payment_intent",
        "invoice_of_payment_intent",
        "invoice",
    ]


@pytest.mark.unit
async def test_a_payment_stripe_knows_no_invoice_for_waits_for_its_invoice_payment() -> None:
    story = _story()
    world = _world(story)
    del world.stripe.paid_by[story.payment_intent_id]
    events = _by_type(story, attributed=False)

    await _feed(world, [events["charge.succeeded"], events["charge.refunded"]])
    payment = world.tables.payments[story.payment_intent_id]
    assert (payment.stripe_invoice_id, payment.looked_up) == (None, True)
    assert world.outbox.published == []
    assert world.stripe.calls == ["invoice_of_payment_intent"]  # asked once, not per event

    await _feed(world, [events["invoice_payment.paid"]])
    assert world.outbox.types() == ["invoice.mirrored", "invoice.paid", "invoice.refunded"]
    last = _announced(world)[-1]
    assert (last.stripe_charge_id, last.amount_refunded_cents) == (story.charge_id, 5_000)


@pytest.mark.unit
async def test_an_invoice_stripe_no_longer_has_is_not_mirrored() -> None:
    story = _story()
    world = FakeUnitOfWork()  # Stripe has no such invoice
    charge = next(e for e in told(story, attributed=True) if e.type == "charge.succeeded")
    await _feed(world, [charge])
    assert world.tables.payments[story.payment_intent_id].stripe_invoice_id == story.invoice_id
    assert world.tables.invoices == {}
    assert world.outbox.published == []
    assert world.stripe.calls == ["invoice"]


@pytest.mark.unit
async def test_the_fee_taken_from_the_charge_replaces_the_planned_one() -> None:
    story, world = await _paid_by_its_charge()
    fee = StripeApplicationFeeSnapshot(
        stripe_event_id="evt_fee",
        stripe_created=START + 20,
        application_fee_id="fee_1",
        amount=75,
        currency="usd",
        charge_id=story.charge_id,
        paying_account_id=ACCOUNT,
    )
    await _feed(world, [StripeApplicationFeeCreated(payload=fee)])
    assert world.outbox.types()[-1] == "invoice.updated"
    assert _announced(world)[-1].application_fee_cents == 75


def _subscription(status: str, second: int, **fields: Any) -> Event:
    payload = StripeSubscriptionSnapshot(
        stripe_event_id=f"evt_sub_{second}",
        stripe_created=START + second,
        stripe_account_id=ACCOUNT,
        metadata={"agency_id": "agency-1", "workspace_id": "ws-1"},
        subscription_id="sub_1",
        customer_id="cus_plain",
        status=status,
        currency="usd",
        application_fee_percent=2.5,
        **fields,
    )
    return StripeSubscriptionUpdated(payload=payload, agency_id="agency-1", workspace_id="ws-1")


async def _open_subscription_invoice(world: FakeUnitOfWork) -> None:
    snapshot = _invoice_snapshot(subscription_id="sub_1", invoice_id="in_sub")
    await world.in_mirror(
        lambda mirror: mirror.apply_invoice(snapshot, agency_id="agency-1", workspace_id="ws-1")
    )


@pytest.mark.unit
async def test_a_subscription_falling_past_due_announces_its_open_invoice_past_due() -> None:
    world = FakeUnitOfWork()
    await _feed(world, [_subscription("active", 0)])
    await _open_subscription_invoice(world)
    assert world.outbox.types() == ["invoice.mirrored", "invoice.issued"]
    assert _announced(world)[-1].application_fee_cents == 100  # 2.5 % of 4,000

    await _feed(world, [_subscription("past_due", 10)])
    await _feed(world, [_subscription("active", 5)])  # late: changes nothing

    assert world.tables.subscriptions["sub_1"].status == "past_due"
    assert world.outbox.types()[2:] == ["invoice.updated"]
    assert _announced(world)[-1].past_due is True
    assert world.stripe.calls == []


@pytest.mark.unit
@pytest.mark.parametrize(
    ("stripe_state", "stripe_answers", "current"),
    [("active", None, "active"), ("past_due", None, "past_due"), (None, "active", "active")],
    ids=["event-tells-the-new-one", "event-tells-the-kept-one", "asking-stripe"],
)
async def test_two_subscription_states_in_one_second_take_stripe_s_word(
    stripe_state: str | None, stripe_answers: str | None, current: str
) -> None:
    """``past_due`` then ``active`` within one second: Stripe's word (carried by the event,
    else asked) says which is current."""
    world = FakeUnitOfWork()
    await _feed(world, [_subscription("past_due", 10)])
    await _open_subscription_invoice(world)
    assert _announced(world)[-1].past_due is True
    if stripe_answers is not None:
        world.stripe.subscriptions["sub_1"] = {"id": "sub_1", "status": stripe_answers}
    told_state = None if stripe_state is None else StripeSubscriptionState(status=stripe_state)

    await _feed(world, [_subscription("active", 10, stripe_state=told_state)])

    assert world.tables.subscriptions["sub_1"].status == current
    assert _announced(world)[-1].past_due is (current == "past_due")
    assert world.outbox.types()[2:] == ([] if current == "past_due" else ["invoice.updated"])
    assert world.stripe.calls == ([] if stripe_answers is None else ["subscription"])
