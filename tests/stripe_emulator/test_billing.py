"""Subscriptions and invoices: collection methods, failures, retries, due dates, statuses."""

from __future__ import annotations

import pytest
import stripe

from tests.helpers.stripe_emulator.agency import Agency
from tests.helpers.stripe_emulator.emulator import Emulator, expanded, unexpanded

pytestmark = pytest.mark.integration
DAY = 86400


@pytest.fixture
def agency(client: stripe.StripeClient, fresh: Emulator) -> Agency:
    return Agency(client, fresh)


def test_send_invoice_becomes_past_due_after_days_until_due(
    agency: Agency, fresh: Emulator
) -> None:
    sub = agency.subscribe(agency.customer(), collection_method="send_invoice", days_until_due=7)
    assert sub.status == "active"
    invoice = agency.invoices(sub)[0]
    assert invoice.status == "open"
    finalized_at = invoice.status_transitions.finalized_at
    assert finalized_at is not None
    assert invoice.due_date == finalized_at + 7 * DAY
    assert invoice.hosted_invoice_url is not None
    assert invoice.hosted_invoice_url.endswith(f"/invoice/{invoice.id}")
    fresh.advance(6 * DAY)
    assert agency.sub(sub).status == "active"
    fresh.advance(2 * DAY)
    assert agency.sub(sub).status == "past_due"
    paid = agency.v1.invoices.pay(
        invoice.id, params={"paid_out_of_band": True}, options=agency.opts
    )
    assert paid.status == "paid"
    assert agency.sub(sub).status == "active"


def test_default_incomplete_without_payment_method(agency: Agency) -> None:
    sub = agency.subscribe(
        agency.customer(), payment_behavior="default_incomplete", expand=["latest_invoice"]
    )
    assert sub.status == "incomplete"
    latest = expanded(sub.latest_invoice, stripe.Invoice)
    assert latest.status == "open"
    paid = agency.v1.invoices.pay(
        latest.id, params={"payment_method": "pm_card_visa"}, options=agency.opts
    )
    assert paid.status == "paid"
    assert agency.sub(sub).status == "active"


def test_declined_first_payment_leaves_subscription_incomplete(agency: Agency) -> None:
    sub = agency.subscribe(agency.customer("pm_card_chargeDeclined"), expand=["latest_invoice"])
    assert sub.status == "incomplete"
    latest = expanded(sub.latest_invoice, stripe.Invoice)
    assert latest.status == "open"
    assert latest.attempt_count == 1
    payment = agency.v1.invoice_payments.list(
        params={"invoice": latest.id}, options=agency.opts
    ).data[0]
    pi = agency.v1.payment_intents.retrieve(
        unexpanded(payment.payment.payment_intent), options=agency.opts
    )
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error is not None
    assert pi.last_payment_error.code == "card_declined"
    with pytest.raises(stripe.CardError) as declined:
        agency.v1.invoices.pay(
            latest.id,
            params={"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
            options=agency.opts,
        )
    assert declined.value.code == "card_declined"
    assert declined.value.error is not None
    assert declined.value.error.decline_code == "insufficient_funds"


def test_failed_renewal_goes_past_due_then_recovers_on_retry(
    agency: Agency, fresh: Emulator
) -> None:
    customer = agency.customer("pm_card_visa")
    sub = agency.subscribe(customer)
    assert sub.status == "active"
    failing = agency.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}, options=agency.opts
    )
    agency.v1.subscriptions.update(
        sub.id, params={"default_payment_method": failing.id}, options=agency.opts
    )
    fresh.advance(32 * DAY)
    assert agency.sub(sub).status == "past_due"
    renewal = agency.invoices(sub)[0]
    assert (renewal.status, renewal.attempt_count) == ("open", 1)
    assert renewal.next_payment_attempt is not None
    agency.v1.subscriptions.update(
        sub.id, params={"default_payment_method": "pm_card_visa"}, options=agency.opts
    )
    fresh.advance(3 * DAY + 60)
    renewal = agency.invoices(sub)[0]
    assert (renewal.status, renewal.attempt_count) == ("paid", 2)
    assert agency.sub(sub).status == "active"


def test_exhausted_retries_cancel_the_subscription(agency: Agency, fresh: Emulator) -> None:
    customer = agency.customer("pm_card_visa")
    sub = agency.subscribe(customer)
    failing = agency.v1.payment_methods.attach(
        "pm_card_chargeCustomerFail", params={"customer": customer.id}, options=agency.opts
    )
    agency.v1.customers.update(
        customer.id,
        params={"invoice_settings": {"default_payment_method": failing.id}},
        options=agency.opts,
    )
    fresh.advance(31 * DAY + 8 * DAY + 3600)
    final = agency.sub(sub)
    assert final.status == "canceled"
    assert final.cancellation_details is not None
    assert final.cancellation_details.reason == "payment_failed"
    assert agency.invoices(sub)[0].attempt_count == 4


def test_invoice_lifecycle_void_and_uncollectible(agency: Agency) -> None:
    customer = agency.customer()
    v1, opts = agency.v1, agency.opts
    draft = v1.invoices.create(
        params={
            "customer": customer.id,
            "collection_method": "send_invoice",
            "days_until_due": 14,
            "metadata": {"project": "p1"},
        },
        options=opts,
    )
    v1.invoice_items.create(
        params={"customer": customer.id, "invoice": draft.id, "amount": 1234, "currency": "usd"},
        options=opts,
    )
    assert v1.invoices.retrieve(draft.id, options=opts).amount_due == 1234
    finalized = v1.invoices.finalize_invoice(draft.id, options=opts)
    assert finalized.status == "open"
    assert finalized.number is not None
    sent = v1.invoices.send_invoice(draft.id, options=opts)
    assert sent.status == "open"
    voided = v1.invoices.void_invoice(draft.id, options=opts)
    assert voided.status == "void"
    with pytest.raises(stripe.InvalidRequestError):
        v1.invoices.pay(draft.id, params={"paid_out_of_band": True}, options=opts)
    other = v1.invoices.create(
        params={"customer": customer.id, "collection_method": "send_invoice", "days_until_due": 3},
        options=opts,
    )
    v1.invoice_items.create(
        params={"customer": customer.id, "invoice": other.id, "amount": 700, "currency": "usd"},
        options=opts,
    )
    v1.invoices.finalize_invoice(other.id, options=opts)
    bad = v1.invoices.mark_uncollectible(other.id, options=opts)
    assert bad.status == "uncollectible"
    statuses = {
        i.status for i in v1.invoices.list(params={"customer": customer.id}, options=opts).data
    }
    assert statuses == {"void", "uncollectible"}
    assert v1.invoices.list(params={"status": "void"}, options=opts).data[0].id == draft.id


def test_application_fee_only_on_connected_accounts(
    client: stripe.StripeClient, agency: Agency
) -> None:
    customer = client.v1.customers.create()
    with pytest.raises(stripe.InvalidRequestError, match="application_fee_amount"):
        client.v1.invoices.create(params={"customer": customer.id, "application_fee_amount": 100})


def test_cancel_at_period_end(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_visa"))
    agency.v1.subscriptions.update(
        sub.id, params={"cancel_at_period_end": True}, options=agency.opts
    )
    fresh.advance(32 * DAY)
    final = agency.sub(sub)
    assert final.status == "canceled"
    assert len(agency.invoices(sub)) == 1


def test_balance_becomes_available_and_is_paid_out_on_schedule(
    agency: Agency, fresh: Emulator
) -> None:
    agency.v1.accounts.update(
        agency.id,
        params={
            "settings": {"payouts": {"schedule": {"interval": "weekly", "weekly_anchor": "friday"}}}
        },
    )
    account = agency.v1.accounts.retrieve(agency.id)
    assert account.settings is not None
    assert account.settings.payouts is not None
    assert account.settings.payouts.schedule.interval == "weekly"
    agency.subscribe(agency.customer("pm_card_visa"))
    balance = agency.v1.balance.retrieve(options=agency.opts)
    net = 10_000 - 320
    assert (balance.pending[0].amount, balance.available[0].amount) == (net, 0)
    fresh.advance(10 * DAY)
    payouts = agency.v1.payouts.list(options=agency.opts).data
    assert [(p.amount, p.status, p.automatic) for p in payouts] == [(net, "paid", True)]
    balance = agency.v1.balance.retrieve(options=agency.opts)
    assert (balance.pending[0].amount, balance.available[0].amount) == (0, 0)
    txn = agency.v1.balance_transactions.list(params={"type": "payout"}, options=agency.opts).data[
        0
    ]
    assert txn.amount == -net


def test_an_automatic_payout_lists_what_it_settled_once_reconciled(
    agency: Agency, fresh: Emulator
) -> None:
    agency.subscribe(agency.customer("pm_card_visa"))
    agency.subscribe(agency.customer("pm_card_visa"))
    fresh.advance(5 * DAY)  # available after 2 days, paid out daily, in the bank a day later
    [payout] = agency.v1.payouts.list(options=agency.opts).data
    assert (payout.status, payout.automatic, payout.reconciliation_status) == (
        "paid", True, "completed",
    )  # fmt: skip
    settled = agency.v1.balance_transactions.list(
        params={"payout": payout.id, "limit": 100}, options=agency.opts
    ).data
    own = [t for t in settled if t.type == "payout" and t.source == payout.id]
    others = [t for t in settled if t not in own]
    assert [t.amount for t in own] == [-payout.amount]
    assert sorted(t.type for t in others) == ["charge", "charge"]
    assert sum(t.net for t in others) == payout.amount
    events = agency.v1.events.list(params={"limit": 100}, options=agency.opts).data
    told = [e.type for e in events if e.type.startswith("payout.")]
    assert sorted(told) == ["payout.created", "payout.paid", "payout.reconciliation_completed"]


def test_unpaid_first_invoice_expires_after_23_hours(agency: Agency, fresh: Emulator) -> None:
    sub = agency.subscribe(agency.customer("pm_card_chargeDeclined"))
    assert sub.status == "incomplete"
    fresh.advance(22 * 3600)
    assert agency.sub(sub).status == "incomplete"
    fresh.advance(2 * 3600)
    assert agency.sub(sub).status == "incomplete_expired"
    assert agency.invoices(sub)[0].status == "void"


def test_error_if_incomplete_refuses_a_declined_card(agency: Agency) -> None:
    with pytest.raises(stripe.CardError):
        agency.subscribe(
            agency.customer("pm_card_chargeDeclined"), payment_behavior="error_if_incomplete"
        )
