"""Which Stripe state is the later: an invoice's status never goes back, whatever order its
snapshots come in, and a subscription's status moves forward in Stripe's time."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_kit.stripe_states import (
    InvoiceState,
    apply_invoice_state,
    invoice_state_key,
    merge_invoice_state,
    subscription_status_applies,
)

pytestmark = pytest.mark.unit


@dataclass
class _Row:
    status: str = "draft"
    seen_at: int = -1
    attempt_count: int = 0


def _merged(events: list[InvoiceState]) -> InvoiceState:
    row = _Row()
    for event in events:
        apply_invoice_state(row, event)
    return InvoiceState(row.status, row.seen_at, row.attempt_count)


@st.composite
def invoice_lifecycles(draw: st.DrawFn) -> list[InvoiceState]:
    """An invoice's snapshots as Stripe sends them, in order: created as a draft (perhaps
    updated), finalized, payment attempts that fail, perhaps marked uncollectible, perhaps
    paid or voided; several may share a second, and an attempt may be told twice."""
    statuses = ["draft"] * draw(st.integers(1, 3))
    statuses += ["open"] * draw(st.integers(0, 4))
    if len(statuses) > 1 or draw(st.booleans()):
        if "open" not in statuses:
            statuses.append("open")
        if draw(st.booleans()):
            statuses += ["uncollectible"] * draw(st.integers(1, 2))
        statuses += draw(st.sampled_from([[], ["paid"], ["void"], ["paid", "paid"]]))
    at, attempts = draw(st.integers(1_700_000_000, 1_800_000_000)), 0
    events: list[InvoiceState] = []
    for status in statuses:
        at += draw(st.integers(0, 3))  # Stripe's times are seconds: ties are common
        if status in ("open", "paid") and events and draw(st.booleans()):
            attempts += 1  # a payment attempt (failed while open)
        events.append(InvoiceState(status, at, attempts))
    return events


@settings(max_examples=300, deadline=None)
@given(invoice_lifecycles(), st.randoms(use_true_random=False), st.integers(0, 3))
def test_an_invoice_ends_in_its_last_state_whatever_order_its_snapshots_come_in(
    events: list[InvoiceState], shuffle: random.Random, redelivered: int
) -> None:
    in_order = _merged(events)
    assert in_order == events[-1]
    arrived = events + [shuffle.choice(events) for _ in range(redelivered)]
    shuffle.shuffle(arrived)
    assert _merged(arrived) == in_order


def test_an_invoice_never_goes_back_to_open() -> None:
    uncollectible = InvoiceState("uncollectible", 100, 2)
    merged, newer = merge_invoice_state(uncollectible, InvoiceState("open", 200, 2))
    assert (merged, newer) == (uncollectible, False)  # the open was told before it
    assert merge_invoice_state(uncollectible, InvoiceState("paid", 150, 3))[1]
    assert merge_invoice_state(uncollectible, InvoiceState("void", 150, 2))[1]


def test_a_paid_invoice_never_goes_back_and_equal_states_are_not_newer() -> None:
    paid = invoice_state_key(InvoiceState("paid", 100, 1))
    assert invoice_state_key(InvoiceState("open", 200, 0)) < paid  # a late finalized
    assert invoice_state_key(InvoiceState("draft", 300, 0)) < paid  # a late created
    assert invoice_state_key(InvoiceState("uncollectible", 100, 1)) < paid
    assert not invoice_state_key(InvoiceState("paid", 100, 1)) > paid  # a duplicate
    assert invoice_state_key(InvoiceState("open", 100, 1)) > invoice_state_key(
        InvoiceState("open", 100, 0)
    )


def test_an_untold_status_keeps_the_known_one_and_attempts_only_grow() -> None:
    row = _Row("open", 100, 2)
    assert apply_invoice_state(row, InvoiceState(None, 50, 3)) is False
    assert (row.status, row.seen_at, row.attempt_count) == ("open", 100, 3)
    row = _Row("draft", 100, 0)
    assert apply_invoice_state(row, InvoiceState(None, 200, 0)) is True
    assert (row.status, row.seen_at) == ("draft", 200)


def test_a_subscription_status_moves_forward_in_stripe_s_time() -> None:
    assert subscription_status_applies(None, 0, "incomplete", 100)
    assert subscription_status_applies("incomplete", 100, "active", 100)
    assert not subscription_status_applies("incomplete", 100, "active", 99)
    assert subscription_status_applies("past_due", 100, "active", 100, previous="past_due")
    assert not subscription_status_applies("past_due", 100, "active", 100)
    assert subscription_status_applies("past_due", 100, "active", 101)
    assert not subscription_status_applies("canceled", 100, "active", 500)
    assert not subscription_status_applies("incomplete_expired", 100, "active", 500)
