"""MRR and its movements from subscriptions' histories, without I/O: what a subscription
brings in per month, when it counts, and how each month's MRR moved from the last."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revenue.rules import (
    SubscriptionHistory,
    SubscriptionState,
    monthly_cents,
    mrr_months,
)

pytestmark = pytest.mark.unit

JAN, JUN = date(2026, 1, 1), date(2026, 6, 1)


def _at(month: int, day: int = 10) -> int:
    return int(datetime(2026, month, day, tzinfo=UTC).timestamp())


def _history(
    sub: str, ws: str, paid: int | None, *states: tuple[int, str, int]
) -> SubscriptionHistory:
    return SubscriptionHistory(
        sub, ws, paid, tuple(SubscriptionState(at, status, cents) for at, status, cents in states)
    )


def test_a_yearly_price_counts_as_a_twelfth_rounded_half_up_once_per_subscription() -> None:
    assert monthly_cents([(250_000, 1, "month", 1)]) == 250_000
    assert monthly_cents([(100_006, 1, "year", 1)]) == 8_334  # 8,333.83
    assert monthly_cents([(100_002, 1, "year", 1)]) == 8_334  # 8,333.5: half up
    assert monthly_cents([(100_001, 1, "year", 1)]) == 8_333
    # two yearly items: rounded once on their sum, not each
    assert monthly_cents([(6, 1, "year", 1), (6, 1, "year", 1)]) == 1
    assert monthly_cents([(3_000, 2, "month", 3)]) == 2_000  # every 3 months, 2 seats


def test_each_movement_of_a_retainer_s_life() -> None:
    histories = [
        # paid in January, migrated up in March, down in April, cancelled in May
        _history(
            "sub_a", "ws-1", _at(1),
            (_at(1, 5), "incomplete", 1_000), (_at(1), "active", 1_000),
            (_at(3), "active", 1_500), (_at(4), "active", 1_200), (_at(5), "canceled", 1_200),
        ),
        # ws-1 pays again in June (a new subscription of a workspace that churned)
        _history("sub_b", "ws-1", _at(6), (_at(6), "active", 900)),
        # started in February but its first invoice was paid only in March
        _history("sub_c", "ws-2", _at(3, 2),
                 (_at(2), "active", 300), (_at(2, 20), "past_due", 300)),
        # never paid: never counts
        _history("sub_d", "ws-3", None, (_at(1), "incomplete", 5_000)),
    ]  # fmt: skip
    months = mrr_months(histories, JAN, JUN)
    rows = [
        (m.mrr_cents, m.new_cents, m.expansion_cents, m.contraction_cents, m.churned_cents,
         m.reactivated_cents, m.active_subscriptions)
        for m in months
    ]  # fmt: skip
    assert rows == [
        (1_000, 1_000, 0, 0, 0, 0, 1),  # January: sub_a new
        (1_000, 0, 0, 0, 0, 0, 1),  # February: sub_c not paid yet
        (1_800, 300, 500, 0, 0, 0, 2),  # March: sub_a up, sub_c paid (past due still counts)
        (1_500, 0, 0, 300, 0, 0, 2),  # April: sub_a down
        (300, 0, 0, 0, 1_200, 0, 1),  # May: sub_a cancelled
        (1_200, 0, 0, 0, 0, 900, 2),  # June: ws-1 back
    ]


def _random_histories(seed: int) -> list[SubscriptionHistory]:
    rng = random.Random(seed)
    statuses = ("incomplete", "active", "active", "past_due", "unpaid", "canceled")
    histories = []
    for n in range(rng.randint(1, 8)):
        states = tuple(
            SubscriptionState(_at(rng.randint(1, 12), rng.randint(1, 28)), rng.choice(statuses),
                              rng.choice((0, 500, 1_000, 2_500)))
            for _ in range(rng.randint(1, 6))
        )  # fmt: skip
        paid = rng.choice((None, _at(rng.randint(1, 12), rng.randint(1, 28))))
        histories.append(SubscriptionHistory(f"sub_{n}", f"ws-{rng.randint(1, 3)}", paid, states))
    return histories


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=10**9))
def test_each_month_moves_from_the_last_by_its_movements_for_any_order_of_events(
    seed: int,
) -> None:
    histories = _random_histories(seed)
    months = mrr_months(histories, JAN, date(2026, 12, 1))
    before = mrr_months(histories, date(2025, 12, 1), date(2025, 12, 1))[0].mrr_cents
    for month in months:
        assert month.mrr_cents == (
            before + month.new_cents + month.expansion_cents + month.reactivated_cents
            - month.contraction_cents - month.churned_cents
        ), month  # fmt: skip
        assert month.active_subscriptions <= len(histories)
        before = month.mrr_cents
    shuffled = [
        SubscriptionHistory(h.subscription_id, h.workspace_id, h.first_paid_at,
                            tuple(random.Random(seed).sample(h.states, len(h.states))))
        for h in histories
    ]  # fmt: skip
    assert mrr_months(shuffled, JAN, date(2026, 12, 1)) == months
