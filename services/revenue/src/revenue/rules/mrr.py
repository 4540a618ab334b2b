"""MRR and its movements from subscriptions' histories, without I/O: what a subscription
brings in per month, when it counts, and how each month's MRR moved from the last."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fractions import Fraction

from revenue.rules.periods import from_day, next_month

MRR_STATUSES = frozenset({"active", "past_due"})
"""A subscription brings in recurring revenue while ``active`` or ``past_due`` (it is still
being charged), from its first paid invoice on."""

_STATE_RANK = {"incomplete": 0, "trialing": 1, "active": 2, "past_due": 3, "unpaid": 4,
               "paused": 4, "canceled": 5, "incomplete_expired": 5}  # fmt: skip
"""Of two states told in the same second, the one further along is the later."""

_PER_YEAR = {"day": 365, "week": 52, "month": 12, "year": 1}


def monthly_cents(items: Iterable[tuple[int, int, str, int]]) -> int:
    """What a subscription brings in per month, from its items' (unit amount, quantity,
    interval, interval count): a monthly price as it is, a yearly one as amount / 12; the
    subscription's total rounded half-up once."""
    per_year = Fraction(0)
    for unit_amount, quantity, interval, count in items:
        per_year += Fraction(unit_amount * quantity * _PER_YEAR.get(interval, 12), count or 1)
    monthly = per_year / 12
    return int(monthly) + (1 if monthly - int(monthly) >= Fraction(1, 2) else 0)


@dataclass(frozen=True)
class SubscriptionState:
    """A subscription as one event told it."""

    at: int
    """Stripe's ``created`` of the event (unix seconds)."""
    status: str
    monthly_cents: int


@dataclass(frozen=True)
class SubscriptionHistory:
    subscription_id: str
    workspace_id: str
    first_paid_at: int | None
    """When its first invoice was paid (unix seconds); None: never yet."""
    states: tuple[SubscriptionState, ...]

    def contribution(self, end: int) -> int:
        """Its MRR just before ``end``: its latest state's monthly amount when that state
        is ``active`` or ``past_due`` and its first invoice was paid before."""
        if self.first_paid_at is None or self.first_paid_at >= end:
            return 0
        known = [state for state in self.states if state.at < end]
        if not known:
            return 0
        last = max(known, key=lambda s: (s.at, _STATE_RANK.get(s.status, 4), s.monthly_cents))
        return last.monthly_cents if last.status in MRR_STATUSES else 0


@dataclass
class MrrMonth:
    month: date
    mrr_cents: int = 0
    new_cents: int = 0
    expansion_cents: int = 0
    contraction_cents: int = 0
    churned_cents: int = 0
    reactivated_cents: int = 0
    active_subscriptions: int = 0


def _end_of_month(month: date) -> int:
    """The first second after ``month`` (unix)."""
    return int(from_day(next_month(month)).timestamp())


def mrr_months(histories: Sequence[SubscriptionHistory], first: date, last: date) -> list[MrrMonth]:
    """MRR at the end of each month from ``first`` to ``last`` (firsts of months) and how it
    moved from the month before, per subscription: starting to count is ``new``, or
    ``reactivated`` when the subscription, or its workspace, counted before and had stopped;
    stopping is ``churned``; a different amount is ``expansion`` or ``contraction``. So
    ``mrr = previous mrr + new + expansion + reactivated - contraction - churned`` holds for
    every month, whatever order the events came in (a state is placed by its own time)."""
    starts = [h.first_paid_at for h in histories if h.first_paid_at is not None]
    if not starts:
        return [MrrMonth(month) for month in _months(first, last)]
    earliest = datetime.fromtimestamp(min(starts), UTC).date().replace(day=1)
    previous = {h.subscription_id: 0 for h in histories}
    subs_counted: set[str] = set()  # that counted in some month before
    workspaces_counted: set[str] = set()
    workspace_before: dict[str, int] = {}
    found = []
    for month in _months(min(earliest, first), last):
        end = _end_of_month(month)
        moved = MrrMonth(month)
        now = {h.subscription_id: h.contribution(end) for h in histories}
        workspace_now: dict[str, int] = {}
        for history in histories:
            sub, ws = history.subscription_id, history.workspace_id
            before, after = previous[sub], now[sub]
            workspace_now[ws] = workspace_now.get(ws, 0) + after
            if before == 0 < after:
                churned_workspace = ws in workspaces_counted and workspace_before.get(ws, 0) == 0
                if sub in subs_counted or churned_workspace:
                    moved.reactivated_cents += after
                else:
                    moved.new_cents += after
            elif after == 0 < before:
                moved.churned_cents += before
            elif after > before:
                moved.expansion_cents += after - before
            elif after < before:
                moved.contraction_cents += before - after
            if after > 0:
                moved.active_subscriptions += 1
        for history in histories:
            if now[history.subscription_id] > 0:
                subs_counted.add(history.subscription_id)
                workspaces_counted.add(history.workspace_id)
        moved.mrr_cents = sum(now.values())
        previous, workspace_before = now, workspace_now
        if month >= first:
            found.append(moved)
    return found


def _months(first: date, last: date) -> list[date]:
    months, month = [], first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months
