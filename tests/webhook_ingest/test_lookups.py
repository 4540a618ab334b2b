"""What webhook-ingest reads from Stripe for an event before publishing it, so that its
consumers never have to: pure decisions on Stripe's fixture shapes, and the completion of a
held event with what was read."""

from __future__ import annotations

import orjson
import pytest

from billing_contracts.billing_invoices import STRIPE_INVOICES, InvoicePaymentFailure
from billing_contracts.billing_payments import (
    STRIPE_PAYMENTS,
    StripeApplicationFeeRefunded,
    StripeDisputeFundsWithdrawn,
)
from billing_contracts.billing_stripe import BalanceFigures, PaymentAttribution
from tests.helpers.webhook_ingest.stripe_events import fixture, new_id, stripe_event
from webhook_ingest.rules.normalize import FiguresLookup, completed, figures_lookup, normalize

pytestmark = pytest.mark.unit


def _txn(**fields: object) -> dict[str, object]:
    return fixture("balance_transaction", **fields)


def test_a_balance_transaction_s_figures_carry_its_day_kind_and_source() -> None:
    txn = _txn(
        id="txn_d",
        amount=-5_000,
        fee=1_500,
        net=-6_500,
        created=1_767_225_599,
        type="adjustment",
        reporting_category="dispute",
        source="dp_1",
        fee_details=[{"amount": 1_500, "currency": "usd", "type": "stripe_fee"}],
    )
    dispute = fixture("dispute", id="dp_1", balance_transactions=[txn])
    normalized = normalize(stripe_event("charge.dispute.funds_withdrawn", dispute), None)
    assert normalized is not None
    assert isinstance(normalized.event, StripeDisputeFundsWithdrawn)
    [figures] = normalized.event.payload.balance_transactions or []
    assert figures == BalanceFigures(
        balance_transaction_id="txn_d",
        currency="usd",
        gross=-5_000,
        stripe_fee=1_500,
        application_fee=0,
        net=-6_500,
        available_on=figures.available_on,
        status=figures.status,
        created=1_767_225_599,
        type="adjustment",
        reporting_category="dispute",
        source="dp_1",
    )


def test_a_dispute_carries_each_of_its_balance_transactions_with_its_own_day() -> None:
    withdrawal = _txn(
        id="txn_w",
        amount=-5_000,
        net=-6_500,
        created=1_000,
        type="adjustment",
        reporting_category="dispute",
    )
    reinstatement = _txn(
        id="txn_r",
        amount=5_000,
        fee=0,
        net=5_000,
        created=90_000,
        type="adjustment",
        reporting_category="dispute_reversal",
        fee_details=[],
    )
    dispute = fixture("dispute", status="won", balance_transactions=[withdrawal, reinstatement])
    normalized = normalize(stripe_event("charge.dispute.closed", dispute, account="acct_1"), None)
    assert normalized is not None
    carried = normalized.event.payload.balance_transactions  # type: ignore[attr-defined]
    assert [
        (f.balance_transaction_id, f.created, f.gross, f.reporting_category) for f in carried
    ] == [("txn_w", 1_000, -5_000, "dispute"), ("txn_r", 90_000, 5_000, "dispute_reversal")]


def test_a_payment_on_a_connected_account_asks_which_invoice_it_paid() -> None:
    charge = fixture(
        "charge",
        id=new_id("ch"),
        status="succeeded",
        payment_intent="pi_1",
        balance_transaction=_txn(),
        metadata={"workspace_id": "ws-1"},
    )
    lookup = figures_lookup(stripe_event("charge.succeeded", charge, account="acct_1"))
    assert lookup == FiguresLookup(
        account="acct_1",
        attribute_charge=charge["id"],
        attribute_payment_intent="pi_1",
        known_metadata={"workspace_id": "ws-1"},
    )
    assert lookup.attributes
    assert not lookup.reads_figures


def test_a_refund_or_a_dispute_asks_through_its_charge() -> None:
    refund = fixture("refund", id=new_id("re"), charge="ch_9", balance_transaction=_txn())
    dispute = fixture("dispute", charge="ch_9", balance_transactions=[_txn()])
    for event in (
        stripe_event("refund.created", refund, account="acct_1"),
        stripe_event("charge.dispute.created", dispute, account="acct_1"),
    ):
        assert figures_lookup(event) == FiguresLookup(account="acct_1", attribute_charge="ch_9")


def test_the_platform_s_own_payments_ask_nothing() -> None:
    charge = fixture("charge", status="succeeded", balance_transaction=_txn())
    assert figures_lookup(stripe_event("charge.succeeded", charge)) is None


def test_a_refunded_fee_asks_for_the_paying_account_s_movements() -> None:
    fee = fixture("application_fee", id="fee_1", account="acct_7", charge="ch_7", refunded=True)
    assert figures_lookup(stripe_event("application_fee.refunded", fee)) == FiguresLookup(
        account="acct_7", fee_refunds_of="fee_1", attribute_charge="ch_7"
    )
    assert figures_lookup(stripe_event("application_fee.created", fee)) is None


def test_a_failed_platform_invoice_to_an_agency_asks_why() -> None:
    invoice = fixture("invoice", id="in_f", customer_account="acct_a", status="open")
    event = stripe_event("invoice.payment_failed", invoice)
    assert figures_lookup(event) == FiguresLookup(account=None, failure_of_invoice="in_f")
    assert figures_lookup(stripe_event("invoice.finalized", invoice)) is None


def test_a_held_event_completed_later_equals_one_published_complete() -> None:
    fee = fixture("application_fee", id="fee_2", account="acct_2", charge="ch_2", refunded=True)
    event = stripe_event("application_fee.refunded", fee)
    refund = BalanceFigures(
        balance_transaction_id="txn_f",
        currency="usd",
        gross=25,
        stripe_fee=0,
        application_fee=0,
        net=25,
        created=7,
        type="application_fee_refund",
        source="fr_1",
    )
    attribution = PaymentAttribution(charge_id="ch_2", invoice_id="in_2", agency_id="ag")
    held = normalize(event, "ag")
    assert held is not None
    found = {"refund_balance_transactions": [refund], "attribution": attribution}
    body = completed(STRIPE_PAYMENTS, held.event.model_dump_json(), found)
    again = completed(STRIPE_PAYMENTS, held.event.model_dump_json(), found)
    assert body == again  # the same reads complete the same event, byte for byte
    decoded = STRIPE_PAYMENTS.decode(body)
    assert isinstance(decoded, StripeApplicationFeeRefunded)
    assert decoded.event_id == held.event.event_id
    assert decoded.payload.refund_balance_transactions == [refund]
    assert decoded.payload.attribution == attribution
    assert orjson.loads(body)["payload"]["amount"] == fee["amount"]


def test_an_invoice_s_payment_failure_completes_its_event() -> None:
    invoice = fixture("invoice", id="in_g", customer_account="acct_a", status="open")
    held = normalize(stripe_event("invoice.payment_failed", invoice), None)
    assert held is not None
    found = {"payment_failure": InvoicePaymentFailure(code="insufficient_funds")}
    body = completed(STRIPE_INVOICES, held.event.model_dump_json(), found)
    payload = STRIPE_INVOICES.decode(body).payload
    assert payload.payment_failure == InvoicePaymentFailure(code="insufficient_funds")  # type: ignore[attr-defined]


def test_a_subscription_event_asks_for_the_subscription_s_state_on_its_account() -> None:
    subscription = fixture("subscription", id="sub_s", status="active")
    on_account = stripe_event("customer.subscription.updated", subscription, account="acct_s")
    assert figures_lookup(on_account) == FiguresLookup(
        account="acct_s", state_of_subscription="sub_s"
    )
    platform = stripe_event("customer.subscription.created", subscription)
    assert figures_lookup(platform) == FiguresLookup(account=None, state_of_subscription="sub_s")


def test_a_reconciled_automatic_payout_asks_for_what_it_settled_and_carries_it() -> None:
    payout = fixture("payout", id="po_r", automatic=True, status="paid", amount=9_680)
    reconciled = stripe_event("payout.reconciliation_completed", payout, account="acct_p")
    assert figures_lookup(reconciled) == FiguresLookup(
        account="acct_p", transactions_of_payout="po_r"
    )
    assert figures_lookup(stripe_event("payout.paid", payout, account="acct_p")) is None
    assert figures_lookup(stripe_event("payout.reconciliation_completed", payout)) is None

    held = normalize(reconciled, "agency_p")
    assert held is not None
    settled = BalanceFigures(
        balance_transaction_id="txn_c", currency="usd", gross=10_000, stripe_fee=270,
        application_fee=50, net=9_680, type="charge", source="ch_1",
    )  # fmt: skip
    body = completed(held.topic, held.event.model_dump_json(), {"balance_transactions": [settled]})
    payload = held.topic.decode(body).payload
    assert payload.balance_transactions == [settled]  # type: ignore[attr-defined]
    assert payload.payout_id == "po_r"  # type: ignore[attr-defined]
