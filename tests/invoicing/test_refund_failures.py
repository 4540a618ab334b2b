"""The refunded total of a payment when refunds fail: the same in any order of events."""

from __future__ import annotations

import itertools

import pytest

from invoicing.rules import refunded_total

pytestmark = pytest.mark.unit


def test_a_failed_refund_comes_off_the_refunded_total() -> None:
    assert refunded_total(0, []) == 0
    assert refunded_total(3_000, []) == 3_000  # the charge told of it before the refund did
    assert refunded_total(3_000, [(3_000, False)]) == 3_000
    assert refunded_total(3_000, [(3_000, True)]) == 0
    assert refunded_total(0, [(3_000, True)]) == 0  # the failure came before the charge


def test_any_order_of_a_failed_then_a_standing_refund_ends_the_same() -> None:
    # Refund A (3,000) fails, then refund B (5,000) stands. What each event tells:
    told = [
        ("charge", 3_000),  # charge.refunded after A
        ("refund", (3_000, False)),  # refund.created of A
        ("refund", (3_000, True)),  # refund.failed of A
        ("charge", 5_000),  # charge.refunded after B (A no longer counts)
        ("refund", (5_000, False)),  # refund.created of B
    ]
    for order in itertools.permutations(range(len(told))):
        by_charge, refunds = 0, dict[str, tuple[int, bool]]()
        for index in order:
            kind, fact = told[index]
            if kind == "charge":
                assert isinstance(fact, int)
                by_charge = max(by_charge, fact)
            else:
                assert isinstance(fact, tuple)
                key = "A" if index in (1, 2) else "B"
                amount, failed = fact
                refunds[key] = (amount, refunds.get(key, (amount, False))[1] or failed)
        assert refunded_total(by_charge, list(refunds.values())) == 5_000, order
