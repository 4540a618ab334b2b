"""Changing the price from the next renewal on, as Stripe does it: a subscription schedule
made from the subscription, a second phase on the new price, released after it ends."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers.stripe_emulator.agency import Agency
from tests.helpers.stripe_emulator.emulator import Emulator

pytestmark = pytest.mark.integration
DAY = 86400


@pytest.fixture
def agency(client: stripe.StripeClient, fresh: Emulator) -> Agency:
    return Agency(client, fresh)


def _next_period_on(
    agency: Agency, sub: stripe.Subscription, price: stripe.Price, end_behavior: str = "release"
) -> stripe.SubscriptionSchedule:
    schedule = agency.v1.subscription_schedules.create(
        params={"from_subscription": sub.id}, options=agency.opts
    )
    current = schedule.phases[0]
    return agency.v1.subscription_schedules.update(
        schedule.id,
        params={
            "end_behavior": end_behavior,
            "phases": [
                {
                    "items": [{"price": agency.price.id, "quantity": 1}],
                    "start_date": current.start_date,
                    "end_date": current.end_date,
                },
                {
                    "items": [{"price": price.id, "quantity": 1}],
                    "duration": {"interval": "month", "interval_count": 1},
                },
            ],
        },
        options=agency.opts,
    )


def test_a_schedule_moves_the_price_at_the_next_renewal_without_proration(
    agency: Agency, fresh: Emulator
) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    cheaper = agency.another_price(6_000)
    schedule = _next_period_on(agency, sub, cheaper)
    assert (schedule.status, schedule.subscription, schedule.end_behavior) == (
        "active",
        sub.id,
        "release",
    )
    assert schedule.current_phase is not None
    item = sub["items"].data[0]
    assert schedule.current_phase.end_date == item.current_period_end
    assert [p.items[0].price for p in schedule.phases] == [agency.price.id, cheaper.id]
    assert agency.sub(sub).schedule == schedule.id
    assert agency.sub(sub)["items"].data[0].price.id == agency.price.id  # unchanged until then
    pending = agency.v1.invoice_items.list(params={"pending": True}, options=agency.opts).data
    assert pending == []
    fresh.advance(32 * DAY)
    renewal = agency.invoices(sub)[0]
    assert (renewal.billing_reason, renewal.amount_paid) == ("subscription_cycle", 6_000)
    moved = agency.sub(sub)
    assert moved["items"].data[0].price.id == cheaper.id
    assert moved["items"].data[0].plan.id == cheaper.id
    updated = next(
        e
        for e in agency.events("customer.subscription.updated")
        if e.data.previous_attributes is not None and "items" in e.data.previous_attributes
    )
    assert updated.data.object["items"]["data"][0]["price"]["id"] == cheaper.id
    previous = updated.data.previous_attributes
    assert previous is not None
    assert previous["items"]["data"][0]["price"]["id"] == agency.price.id
    assert agency.events("subscription_schedule.updated") != []
    fresh.advance(31 * DAY)  # the last phase ended: released, the subscription goes on
    done = agency.v1.subscription_schedules.retrieve(schedule.id, options=agency.opts)
    assert done.status == "completed"
    after = agency.sub(sub)
    assert (after.status, after.schedule) == ("active", None)
    assert agency.invoices(sub)[0].amount_paid == 6_000


def test_end_behavior_cancel_ends_the_subscription_with_the_schedule(
    agency: Agency, fresh: Emulator
) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    schedule = _next_period_on(agency, sub, agency.another_price(6_000), "cancel")
    fresh.advance(63 * DAY)
    assert agency.sub(sub).status == "canceled"
    done = agency.v1.subscription_schedules.retrieve(schedule.id, options=agency.opts)
    assert done.status == "completed"


def test_release_keeps_the_subscription_as_it_is(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    schedule = _next_period_on(agency, sub, agency.another_price(6_000))
    released = agency.v1.subscription_schedules.release(schedule.id, options=agency.opts)
    assert (released.status, released.released_subscription) == ("released", sub.id)
    assert agency.sub(sub).schedule is None
    fresh.advance(32 * DAY)
    assert agency.invoices(sub)[0].amount_paid == 10_000
    with pytest.raises(stripe.InvalidRequestError):
        agency.v1.subscription_schedules.create(
            params={"from_subscription": "sub_missing"}, options=agency.opts
        )


def test_a_subscription_has_one_schedule_and_phases_are_checked(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    schedule = agency.v1.subscription_schedules.create(
        params={"from_subscription": sub.id}, options=agency.opts
    )
    with pytest.raises(stripe.InvalidRequestError) as twice:
        agency.v1.subscription_schedules.create(
            params={"from_subscription": sub.id}, options=agency.opts
        )
    assert twice.value.param == "from_subscription"
    with pytest.raises(stripe.InvalidRequestError) as moved_start:
        agency.v1.subscription_schedules.update(
            schedule.id,
            params={
                "phases": [
                    {
                        "items": [{"price": agency.price.id}],
                        "start_date": schedule.phases[0].start_date + 60,
                    }
                ]
            },
            options=agency.opts,
        )
    assert moved_start.value.param == "phases[0][start_date]"
    unchanged = agency.v1.subscription_schedules.retrieve(schedule.id, options=agency.opts)
    assert len(unchanged.phases) == 1
    listed = agency.v1.subscription_schedules.list(
        params={"customer": str(sub.customer)}, options=agency.opts
    ).data
    assert [s.id for s in listed] == [schedule.id]
