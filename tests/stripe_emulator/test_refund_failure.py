"""Stripe's failing-refund test card (4000 0000 0000 5126, ``pm_card_refundFail``): the charge
succeeds, its refund is created ``succeeded`` and then fails, and a ``refund_failure``
balance transaction gives the amount back to the balance."""

from __future__ import annotations

import stripe

from tests.helpers.stripe_emulator.emulator import Emulator, expanded, onboarded_account, unexpanded


def _paid_charge(client: stripe.StripeClient, opts: stripe.RequestOptions, pm: str) -> str:
    pi = client.v1.payment_intents.create(
        params={
            "amount": 10_000,
            "currency": "usd",
            "payment_method": pm,
            "confirm": True,
            "application_fee_amount": 50,
        },
        options=opts,
    )
    assert pi.status == "succeeded"
    return unexpanded(pi.latest_charge)


def test_refund_of_the_refund_fail_card_fails_and_gives_the_money_back(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    account = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account}
    v1 = client.v1
    charge_id = _paid_charge(client, opts, "pm_card_refundFail")

    refund = v1.refunds.create(params={"charge": charge_id, "amount": 4_000}, options=opts)
    assert (refund.status, refund.amount) == ("succeeded", 4_000)  # as created

    failed = v1.refunds.retrieve(
        refund.id, params={"expand": ["failure_balance_transaction"]}, options=opts
    )
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    given_back = expanded(failed.failure_balance_transaction, stripe.BalanceTransaction)
    assert (given_back.type, given_back.reporting_category) == ("refund_failure", "refund_failure")
    assert (given_back.amount, given_back.fee, given_back.net) == (4_000, 0, 4_000)
    assert (given_back.source, given_back.status) == (refund.id, "available")
    taken = v1.balance_transactions.retrieve(unexpanded(failed.balance_transaction), options=opts)
    assert (taken.type, taken.amount) == ("refund", -4_000)

    charge = v1.charges.retrieve(charge_id, options=opts)
    assert (charge.amount_refunded, charge.refunded) == (0, False)

    # The account's balance transactions: the charge's net, and the refund undone.
    moves = v1.balance_transactions.list(params={"limit": 100}, options=opts).data
    assert sorted(txn.type for txn in moves) == ["charge", "refund", "refund_failure"]
    assert sum(txn.net for txn in moves) == 10_000 - (290 + 30) - 50

    events = v1.events.list(params={"limit": 100}, options=opts).data
    types = [event.type for event in reversed(events)]
    assert types[-5:] == [
        "refund.created",
        "charge.refunded",
        "charge.refund.updated",
        "refund.updated",
        "refund.failed",
    ]
    updated = next(event for event in events if event.type == "charge.refund.updated")
    assert updated.data.object["status"] == "failed"
    assert updated.data.object["failure_balance_transaction"] == given_back.id
    previous = updated.data.previous_attributes
    assert previous is not None
    assert previous["status"] == "succeeded"
    assert previous["failure_balance_transaction"] is None
    assert all(event.account == account for event in events)


def test_the_refund_fail_card_number_and_other_cards(
    client: stripe.StripeClient, fresh: Emulator
) -> None:
    account = onboarded_account(client, fresh)
    opts: stripe.RequestOptions = {"stripe_account": account}
    v1 = client.v1
    pm = v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4000000000005126", "exp_month": 12, "exp_year": 2034},
        },
        options=opts,
    )
    assert pm.card is not None
    assert pm.card.last4 == "5126"
    refund = v1.refunds.create(params={"charge": _paid_charge(client, opts, pm.id)}, options=opts)
    assert v1.refunds.retrieve(refund.id, options=opts).status == "failed"

    # A refund of any other card stays succeeded, with no failure fields.
    kept = v1.refunds.create(
        params={"charge": _paid_charge(client, opts, "pm_card_visa")}, options=opts
    )
    found = v1.refunds.retrieve(kept.id, options=opts)
    assert found.status == "succeeded"
    assert "failure_balance_transaction" not in found
