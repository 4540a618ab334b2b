"""Moving a subscription to another price: prorations on the next invoice, at once, or none;
a new billing interval restarts the cycle."""

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


def _halfway(sub: stripe.Subscription) -> int:
    item = sub["items"].data[0]
    return int((item.current_period_start + item.current_period_end) // 2)


def _move(
    agency: Agency, sub: stripe.Subscription, price: stripe.Price, behavior: str, at: int
) -> stripe.Subscription:
    item = sub["items"].data[0]
    return agency.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": item.id, "price": price.id}],
            "proration_behavior": behavior,
            "proration_date": at,
        },
        options=agency.opts,
    )


def _exactly_half(sub: stripe.Subscription) -> bool:
    item = sub["items"].data[0]
    return bool((item.current_period_end - item.current_period_start) % 2 == 0)


def _is_proration(line: stripe.InvoiceLineItem) -> bool:
    details = line.parent.invoice_item_details if line.parent is not None else None
    return details is not None and details.proration


def test_create_prorations_land_on_the_next_invoice(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    assert _exactly_half(sub)
    upgraded = _move(agency, sub, agency.another_price(20_000), "create_prorations", _halfway(sub))
    item = upgraded["items"].data[0]
    assert (item.id, item.price.unit_amount, item.plan.amount) == (
        sub["items"].data[0].id,
        20_000,
        20_000,
    )
    pending = agency.v1.invoice_items.list(params={"pending": True}, options=agency.opts).data
    assert sorted((i.amount, i.proration) for i in pending) == [(-5000, True), (10_000, True)]
    for pending_item in pending:
        assert pending_item.parent is not None
        assert pending_item.parent.subscription_details is not None
        assert pending_item.parent.subscription_details.subscription == sub.id
    credit = next(i for i in pending if i.amount < 0)
    assert credit.description is not None
    assert credit.description.startswith("Unused time on")
    assert len(agency.invoices(sub)) == 1  # nothing billed yet
    updated = agency.events("customer.subscription.updated")[0]
    assert updated.data.previous_attributes is not None
    previous_items = updated.data.previous_attributes["items"]["data"]
    assert previous_items[0]["price"]["unit_amount"] == 10_000
    fresh.advance(32 * DAY)
    renewal = agency.invoices(sub)[0]
    assert renewal.billing_reason == "subscription_cycle"
    assert renewal.status == "paid"
    assert renewal.amount_paid == 20_000 - 5000 + 10_000
    lines = agency.v1.invoices.line_items.list(renewal.id, options=agency.opts).data
    prorations = [line for line in lines if _is_proration(line)]
    assert sorted(line.amount for line in prorations) == [-5000, 10_000]


def test_always_invoice_bills_the_prorations_at_once(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    assert _exactly_half(sub)
    moved = _move(agency, sub, agency.another_price(20_000), "always_invoice", _halfway(sub))
    invoice = agency.invoices(sub)[0]
    assert moved.latest_invoice == invoice.id
    assert (invoice.billing_reason, invoice.status, invoice.amount_paid) == (
        "subscription_update",
        "paid",
        5000,
    )
    assert agency.sub(sub).status == "active"


def test_none_bills_the_new_price_from_the_next_renewal(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    _move(agency, sub, agency.another_price(7_000), "none", _halfway(sub))
    pending = agency.v1.invoice_items.list(params={"pending": True}, options=agency.opts).data
    assert pending == []
    fresh.advance(32 * DAY)
    renewal = agency.invoices(sub)[0]
    assert (renewal.billing_reason, renewal.amount_paid) == ("subscription_cycle", 7_000)


def test_a_new_interval_restarts_the_cycle_and_invoices_now(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    assert _exactly_half(sub)
    yearly = agency.another_price(100_000, "year")
    moved = _move(agency, sub, yearly, "create_prorations", _halfway(sub))
    item = moved["items"].data[0]
    assert item.current_period_end - item.current_period_start >= 365 * DAY
    invoice = agency.invoices(sub)[0]
    assert invoice.billing_reason == "subscription_update"
    assert invoice.amount_paid == 100_000 - 5000


def test_send_invoice_prorations_are_sent(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer(), collection_method="send_invoice", days_until_due=10)
    _move(agency, sub, agency.another_price(20_000), "always_invoice", _halfway(sub))
    invoice = agency.invoices(sub)[0]
    assert (invoice.status, invoice.collection_method) == ("open", "send_invoice")
    assert invoice.due_date is not None
    assert agency.events("invoice.sent")[0].data.object["id"] == invoice.id


def test_an_unknown_proration_behavior_is_refused(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    with pytest.raises(stripe.InvalidRequestError) as refused:
        _move(agency, sub, agency.another_price(20_000), "sometimes", _halfway(sub))
    assert refused.value.param == "proration_behavior"


def test_an_item_removed_and_one_added_are_prorated_too(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    assert _exactly_half(sub)
    old_item = sub["items"].data[0]
    new_price = agency.another_price(20_000)
    moved = agency.v1.subscriptions.update(
        sub.id,
        params={
            "items": [{"id": old_item.id, "deleted": True}, {"price": new_price.id}],
            "proration_date": _halfway(sub),
        },
        options=agency.opts,
    )
    assert [i.price.id for i in moved["items"].data] == [new_price.id]
    assert moved["items"].data[0].id != old_item.id
    pending = agency.v1.invoice_items.list(params={"pending": True}, options=agency.opts).data
    assert sorted(i.amount for i in pending) == [-5000, 10_000]
    credit = next(i for i in pending if i.amount < 0)
    assert credit.proration_details is not None
    credited = credit.proration_details.credited_items
    assert credited is not None
    assert credited.type == "invoice_line_items"
    assert credited.invoice_line_item_details is not None
    assert credited.invoice_line_item_details.invoice == sub.latest_invoice
    fresh.advance(32 * DAY)
    assert agency.invoices(sub)[0].amount_paid == 20_000 + 5000


def test_the_last_item_cannot_go_and_intervals_cannot_mix(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    item = sub["items"].data[0]
    with pytest.raises(stripe.InvalidRequestError):
        agency.v1.subscriptions.update(
            sub.id, params={"items": [{"id": item.id, "deleted": True}]}, options=agency.opts
        )
    with pytest.raises(stripe.InvalidRequestError):
        agency.v1.subscriptions.update(
            sub.id,
            params={"items": [{"price": agency.another_price(9_000, "year").id}]},
            options=agency.opts,
        )
    assert [i.id for i in agency.sub(sub)["items"].data] == [item.id]
