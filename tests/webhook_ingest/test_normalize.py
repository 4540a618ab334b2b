"""Normalization of Stripe events into contract events, on Stripe's fixture shapes."""

from __future__ import annotations

from typing import Any

import pytest

from billing_contracts.billing_accounts import ACCOUNTS, StripeAccountUpdated
from billing_contracts.billing_balances import STRIPE_BALANCES, StripeBalanceAvailable
from billing_contracts.billing_invoices import STRIPE_INVOICES, StripeInvoicePaid
from billing_contracts.billing_payments import STRIPE_PAYMENTS, StripeChargeSucceeded
from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.billing_subscriptions import StripeSubscriptionUpdated
from tests.helpers.webhook_ingest.stripe_events import (
    fixture,
    new_id,
    paid_invoice_event,
    stripe_event,
)
from webhook_ingest.rules.normalize import (
    EVENT_TYPES,
    contract_event_id,
    figures_lookup,
    normalize,
    with_figures,
)

pytestmark = pytest.mark.unit

KIND_OF_PREFIX = {
    "account": "account",
    "account.application": "application",
    "product": "product",
    "price": "price",
    "customer": "customer",
    "customer.subscription": "subscription",
    "invoice": "invoice",
    "invoice_payment": "invoice_payment",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "charge.refund": "refund",
    "refund": "refund",
    "charge.dispute": "dispute",
    "application_fee": "application_fee",
    "balance": "balance",
    "payout": "payout",
}


def _kind(event_type: str) -> str:
    prefix = event_type.rsplit(".", 1)[0]
    return KIND_OF_PREFIX[prefix]


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_published_type_normalizes_from_its_fixture(event_type: str) -> None:
    event = stripe_event(event_type, fixture(_kind(event_type)), account="acct_1")
    normalized = normalize(event, "agency-1")
    assert normalized is not None
    contract = normalized.topic.decode(normalized.event.model_dump_json())
    assert contract.type == event_type
    assert contract.agency_id == "agency-1"
    assert contract.event_id == contract_event_id(event["id"])
    assert contract.aggregate_id()
    assert contract.payload.stripe_event_id == event["id"]  # type: ignore[attr-defined]
    assert contract.payload.stripe_created == event["created"]  # type: ignore[attr-defined]


def test_an_invoice_carries_its_agency_workspace_amounts_and_pay_link() -> None:
    event = paid_invoice_event(agency_id="agency-7", account="acct_7")
    normalized = normalize(event, agency_id=None)
    assert normalized is not None
    assert normalized.topic is STRIPE_INVOICES
    paid = normalized.event
    assert isinstance(paid, StripeInvoicePaid)
    invoice = event["data"]["object"]
    assert paid.aggregate_id() == invoice["id"]
    assert (paid.agency_id, paid.workspace_id) == ("agency-7", "ws-1")
    assert paid.payload.status == "paid"
    assert (paid.payload.amount_due, paid.payload.amount_paid) == (1000, 1000)
    assert paid.payload.currency == "usd"
    assert paid.payload.hosted_invoice_url == "https://invoice.stripe.com/i/test"
    assert paid.payload.stripe_account_id == "acct_7"
    assert paid.occurred_at.timestamp() == event["created"]


def test_the_replica_agency_wins_over_metadata() -> None:
    normalized = normalize(paid_invoice_event(agency_id="from-metadata"), "from-replica")
    assert normalized is not None
    assert normalized.event.agency_id == "from-replica"


def test_a_subscription_invoice_inherits_its_subscription_and_metadata() -> None:
    invoice = fixture("invoice", id=new_id("in"), metadata={})
    invoice["parent"] = {
        "type": "subscription_details",
        "subscription_details": {
            "subscription": "sub_42",
            "metadata": {"agency_id": "agency-s", "workspace_id": "ws-s"},
        },
    }
    normalized = normalize(stripe_event("invoice.finalized", invoice), None)
    assert normalized is not None
    assert normalized.event.payload.subscription_id == "sub_42"  # type: ignore[attr-defined]
    assert (normalized.event.agency_id, normalized.event.workspace_id) == ("agency-s", "ws-s")


def test_a_charge_without_figures_asks_for_its_balance_transaction() -> None:
    charge = fixture("charge", id=new_id("ch"), balance_transaction="txn_1", status="succeeded")
    event = stripe_event("charge.succeeded", charge, account="acct_9")
    lookup = figures_lookup(event)
    assert lookup is not None
    assert (lookup.account, lookup.balance_transaction_id) == ("acct_9", "txn_1")
    figures = BalanceFigures(
        balance_transaction_id="txn_1",
        currency="usd",
        gross=10_000,
        stripe_fee=320,
        application_fee=50,
        net=9_630,
    )
    normalized = normalize(event, "agency-9", figures)
    assert normalized is not None
    assert normalized.topic is STRIPE_PAYMENTS
    assert isinstance(normalized.event, StripeChargeSucceeded)
    assert normalized.event.payload.figures == figures


def test_a_charge_with_an_expanded_balance_transaction_needs_no_fetch() -> None:
    txn = fixture(
        "balance_transaction",
        amount=10_000,
        fee=370,
        net=9_630,
        fee_details=[
            {"amount": 320, "currency": "usd", "type": "stripe_fee"},
            {"amount": 50, "currency": "usd", "type": "application_fee"},
        ],
    )
    charge = fixture("charge", id=new_id("ch"), balance_transaction=txn, status="succeeded")
    event = stripe_event("charge.succeeded", charge)
    assert figures_lookup(event) is None
    normalized = normalize(event, None)
    assert normalized is not None
    figures = normalized.event.payload.figures  # type: ignore[attr-defined]
    assert (figures.gross, figures.stripe_fee, figures.application_fee, figures.net) == (
        10_000,
        320,
        50,
        9_630,
    )


def test_a_succeeded_payment_intent_reads_its_latest_charge() -> None:
    intent = fixture("payment_intent", status="succeeded", latest_charge="ch_1")
    event = stripe_event("payment_intent.succeeded", intent, account="acct_1")
    lookup = figures_lookup(event)
    assert lookup is not None
    assert (lookup.account, lookup.charge_id) == ("acct_1", "ch_1")


def test_account_updated_is_the_contract_catalog_consumes() -> None:
    account = fixture(
        "account", id="acct_x", charges_enabled=True, metadata={"agency_id": "agency-x"}
    )
    event = stripe_event("account.updated", account, account="acct_x")
    normalized = normalize(event, None)
    assert normalized is not None
    assert normalized.topic is ACCOUNTS
    decoded = ACCOUNTS.decode(normalized.event.model_dump_json())
    assert isinstance(decoded, StripeAccountUpdated)
    assert decoded.agency_id == "agency-x"
    assert decoded.aggregate_id() == "acct_x"
    assert decoded.payload.charges_enabled is True
    assert decoded.payload.stripe_created == event["created"]


def test_a_subscription_update_tells_the_status_it_left() -> None:
    subscription = fixture("subscription", status="past_due")
    event = stripe_event(
        "customer.subscription.updated", subscription, previous_attributes={"status": "active"}
    )
    normalized = normalize(event, None)
    assert normalized is not None
    assert isinstance(normalized.event, StripeSubscriptionUpdated)
    assert normalized.event.payload.status == "past_due"
    assert normalized.event.payload.previous_status == "active"


def test_a_dispute_counts_the_funds_it_moved() -> None:
    dispute = fixture(
        "dispute",
        status="needs_response",
        balance_transactions=[fixture("balance_transaction", amount=-1000, fee=1500)],
    )
    normalized = normalize(stripe_event("charge.dispute.funds_withdrawn", dispute), None)
    assert normalized is not None
    payload: Any = normalized.event.payload
    assert (payload.funds_withdrawn, payload.dispute_fees) == (1000, 1500)


def test_a_balance_is_keyed_by_its_account() -> None:
    event = stripe_event("balance.available", fixture("balance"), account="acct_b")
    normalized = normalize(event, None)
    assert normalized is not None
    assert normalized.topic is STRIPE_BALANCES
    assert isinstance(normalized.event, StripeBalanceAvailable)
    assert normalized.event.aggregate_id() == "acct_b"
    platform = normalize(stripe_event("balance.available", fixture("balance")), None)
    assert platform is not None
    assert platform.event.aggregate_id() == "platform"


def test_unknown_types_are_not_published() -> None:
    assert normalize(stripe_event("setup_intent.created", {"id": "seti_1"}), None) is None


def test_figures_read_later_complete_the_same_contract_event() -> None:
    charge = fixture("charge", id=new_id("ch"), balance_transaction="txn_2", status="succeeded")
    event = stripe_event("charge.succeeded", charge, account="acct_2")
    figures = BalanceFigures.model_validate(
        {"balance_transaction_id": "txn_2", "currency": "usd", "gross": 5_000}
        | {"stripe_fee": 175, "application_fee": 25, "net": 4_800}
    )
    held = normalize(event, "agency-2")
    at_once = normalize(event, "agency-2", figures)
    assert held is not None
    assert at_once is not None
    assert held.event.payload.figures is None  # type: ignore[attr-defined]
    completed = with_figures(STRIPE_PAYMENTS, held.event.model_dump_json(), figures)
    assert STRIPE_PAYMENTS.decode(completed) == at_once.event
