"""A refund that fails after it was made: its event carries the ``refund_failure`` balance
transaction's figures (the amount given back), read from Stripe when not expanded."""

from __future__ import annotations

import pytest

from billing_contracts.billing_payments import STRIPE_PAYMENTS, StripeRefundSnapshot
from billing_contracts.billing_stripe import BalanceFigures
from tests.helpers.webhook_ingest.stripe_events import fixture, new_id, stripe_event
from webhook_ingest.rules.normalize import FiguresLookup, completed, figures_lookup, normalize

pytestmark = pytest.mark.unit

GIVEN_BACK = BalanceFigures(
    balance_transaction_id="txn_back",
    currency="usd",
    gross=4_000,
    stripe_fee=0,
    application_fee=0,
    net=4_000,
)
TAKEN = BalanceFigures(
    balance_transaction_id="txn_taken",
    currency="usd",
    gross=-4_000,
    stripe_fee=0,
    application_fee=0,
    net=-4_000,
)


def _failed_refund(**fields: object) -> dict[str, object]:
    return fixture(
        "refund",
        id=new_id("re"),
        charge="ch_1",
        amount=4_000,
        status="failed",
        balance_transaction="txn_taken",
        failure_balance_transaction="txn_back",
        failure_reason="expired_or_canceled_card",
    ) | dict(fields)


def _snapshot(body: str) -> StripeRefundSnapshot:
    payload = STRIPE_PAYMENTS.decode(body).payload
    assert isinstance(payload, StripeRefundSnapshot)
    return payload


def test_a_failed_refund_asks_for_both_balance_transactions() -> None:
    event = stripe_event("charge.refund.updated", _failed_refund(), account="acct_7")
    assert figures_lookup(event) == FiguresLookup(
        account="acct_7",
        balance_transaction_id="txn_taken",
        failure_balance_transaction_id="txn_back",
        attribute_charge="ch_1",
    )
    held = normalize(event, "agency-7")
    assert held is not None
    snapshot = _snapshot(held.event.model_dump_json())
    assert snapshot.status == "failed"
    assert snapshot.failure_balance_transaction_id == "txn_back"
    assert snapshot.failure_reason == "expired_or_canceled_card"
    assert snapshot.failure_figures is None

    done = _snapshot(
        completed(
            STRIPE_PAYMENTS,
            held.event.model_dump_json(),
            {"figures": TAKEN, "failure_figures": GIVEN_BACK},
        )
    )
    assert (done.figures, done.failure_figures) == (TAKEN, GIVEN_BACK)


def test_expanded_figures_need_no_read_and_the_refunds_own_stay() -> None:
    expanded = fixture(
        "balance_transaction", id="txn_back", amount=4_000, fee=0, net=4_000, fee_details=[]
    )
    event = stripe_event(
        "refund.failed", _failed_refund(failure_balance_transaction=expanded), account="acct_7"
    )
    # Only the refund's own balance transaction is left to read.
    assert figures_lookup(event) == FiguresLookup(
        account="acct_7", balance_transaction_id="txn_taken", attribute_charge="ch_1"
    )
    normalized = normalize(event, "agency-7")
    assert normalized is not None
    snapshot = _snapshot(normalized.event.model_dump_json())
    assert snapshot.failure_figures is not None
    assert (snapshot.failure_figures.gross, snapshot.failure_figures.net) == (4_000, 4_000)

    # The refund's own figures expanded, the failure's not: only the failure is read.
    taken = fixture(
        "balance_transaction", id="txn_taken", amount=-4_000, fee=0, net=-4_000, fee_details=[]
    )
    event = stripe_event("refund.failed", _failed_refund(balance_transaction=taken))
    lookup = figures_lookup(event)
    assert lookup == FiguresLookup(account=None, failure_balance_transaction_id="txn_back")
    held = normalize(event, None)
    assert held is not None
    done = _snapshot(
        completed(STRIPE_PAYMENTS, held.event.model_dump_json(), {"failure_figures": GIVEN_BACK})
    )
    assert done.figures is not None
    assert done.figures.gross == -4_000
    assert done.failure_figures == GIVEN_BACK


def test_a_refund_that_did_not_fail_carries_no_failure() -> None:
    refund = fixture("refund", id=new_id("re"), charge="ch_1", balance_transaction="txn_taken")
    event = stripe_event("refund.created", refund, account="acct_7")
    assert figures_lookup(event) == FiguresLookup(
        account="acct_7", balance_transaction_id="txn_taken", attribute_charge="ch_1"
    )
    normalized = normalize(event, "agency-7")
    assert normalized is not None
    snapshot = _snapshot(normalized.event.model_dump_json())
    assert snapshot.failure_balance_transaction_id is None
    assert snapshot.failure_figures is None
