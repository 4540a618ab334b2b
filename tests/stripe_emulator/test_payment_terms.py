"""Clients on payment terms: send_invoice subscriptions are active at once, each period's
invoice is open and emailed with its due date, payable on its hosted page; past the due date
the subscription is past_due; switching to charge_automatically charges the saved card."""

from __future__ import annotations

import httpx
import pytest
import stripe

from tests.helpers.stripe_emulator.agency import Agency
from tests.helpers.stripe_emulator.emulator import Emulator

pytestmark = pytest.mark.integration
DAY = 86400


@pytest.fixture
def agency(client: stripe.StripeClient, fresh: Emulator) -> Agency:
    return Agency(client, fresh)


def _pay_on_hosted_page(invoice: stripe.Invoice) -> None:
    assert invoice.hosted_invoice_url is not None
    httpx.post(f"{invoice.hosted_invoice_url}/pay").raise_for_status()


def _sent(agency: Agency) -> list[str]:
    return [e.data.object["id"] for e in agency.events("invoice.sent")]


def test_each_period_opens_an_emailed_invoice_payable_until_due(
    agency: Agency, fresh: Emulator
) -> None:
    sub = agency.subscribe(agency.customer(), collection_method="send_invoice", days_until_due=14)
    assert (sub.status, sub.days_until_due) == ("active", 14)
    first = agency.invoices(sub)[0]
    assert (first.status, first.collection_method) == ("open", "send_invoice")
    assert first.due_date == (first.status_transitions.finalized_at or 0) + 14 * DAY
    assert _sent(agency) == [first.id]
    fresh.advance(13 * DAY)
    _pay_on_hosted_page(first)
    assert agency.v1.invoices.retrieve(first.id, options=agency.opts).status == "paid"
    assert agency.sub(sub).status == "active"
    fresh.advance(19 * DAY)  # the renewal's draft is finalized an hour after the period starts
    renewal = agency.invoices(sub)[0]
    assert renewal.id != first.id
    assert (renewal.billing_reason, renewal.status) == ("subscription_cycle", "open")
    assert renewal.due_date == (renewal.status_transitions.finalized_at or 0) + 14 * DAY
    assert _sent(agency)[0] == renewal.id
    assert agency.sub(sub).status == "active"
    fresh.advance(15 * DAY)
    assert [e.data.object["id"] for e in agency.events("invoice.overdue")] == [renewal.id]
    assert agency.sub(sub).status == "past_due"
    _pay_on_hosted_page(renewal)
    assert agency.sub(sub).status == "active"


def test_switching_to_charge_automatically_charges_the_saved_card(
    agency: Agency, fresh: Emulator
) -> None:
    customer = agency.customer()
    sub = agency.subscribe(customer, collection_method="send_invoice", days_until_due=30)
    session = agency.v1.billing_portal.sessions.create(
        params={"customer": customer.id}, options=agency.opts
    )
    saved_card = httpx.post(f"{session.url}/cards")  # the client saves a card
    assert saved_card.status_code == 303
    saved = agency.v1.customers.retrieve(customer.id, options=agency.opts)
    assert saved.invoice_settings is not None
    card = saved.invoice_settings.default_payment_method
    assert isinstance(card, str)
    switched = agency.v1.subscriptions.update(
        sub.id,
        params={"collection_method": "charge_automatically", "default_payment_method": card},
        options=agency.opts,
    )
    assert (switched.collection_method, switched.days_until_due) == ("charge_automatically", None)
    assert switched.default_payment_method == card
    updated = agency.events("customer.subscription.updated")[0]
    assert updated.data.previous_attributes is not None
    assert updated.data.previous_attributes["collection_method"] == "send_invoice"
    fresh.advance(32 * DAY)
    renewal = agency.invoices(sub)[0]
    assert (renewal.collection_method, renewal.status) == ("charge_automatically", "paid")
    failing = agency.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}, options=agency.opts
    )
    agency.v1.subscriptions.update(
        sub.id, params={"default_payment_method": failing.id}, options=agency.opts
    )
    fresh.advance(31 * DAY)
    declined = agency.invoices(sub)[0]
    assert (declined.status, declined.attempt_count) == ("open", 1)
    assert declined.next_payment_attempt is not None
    assert agency.sub(sub).status == "past_due"


def test_charge_automatically_needs_a_payment_method(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer(), collection_method="send_invoice", days_until_due=7)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        agency.v1.subscriptions.update(
            sub.id, params={"collection_method": "charge_automatically"}, options=agency.opts
        )
    assert refused.value.param == "collection_method"
    assert agency.sub(sub).collection_method == "send_invoice"


@pytest.mark.parametrize(("action", "final"), [("cancel", "canceled"), ("unpaid", "unpaid")])
def test_an_invoice_still_unpaid_after_the_extra_deadline_ends_the_subscription(
    agency: Agency, fresh: Emulator, action: str, final: str
) -> None:
    fresh.control(
        "POST",
        "/settings",
        {"send_invoice_past_due_action": action, "send_invoice_past_due_days": 15},
    )
    sub = agency.subscribe(agency.customer(), collection_method="send_invoice", days_until_due=7)
    fresh.advance(8 * DAY)
    assert agency.sub(sub).status == "past_due"
    fresh.advance(13 * DAY)  # 21 days after finalization: 14 past the due date
    assert agency.sub(sub).status == "past_due"
    fresh.advance(2 * DAY)
    ended = agency.sub(sub)
    assert ended.status == final
    if final == "canceled":
        assert ended.cancellation_details is not None
        assert ended.cancellation_details.reason == "payment_failed"
