"""The ledger's arithmetic, without I/O: which balance transactions are money movements of
client billing, and how one movement adds to the summary's figures.

A ledger entry keeps Stripe's balance transaction figures as they are (``gross`` is the
transaction's amount, signed; ``net = gross - stripe_fee - platform_fee``). The summary
splits them into what an owner reads:

- ``gross``: what clients paid (charges);
- ``refunded`` and ``disputed``: what went back (positive numbers; a refund that failed
  gives its amount back and lowers ``refunded``, a won dispute's reinstatement lowers
  ``disputed``);
- ``stripe_fee``: Stripe's processing and dispute fees;
- ``platform_fee``: the platform's application fees, less the ones it refunded;
- ``net``: what reached the agency's balance, always the sum of the entries' ``net``.

So ``net = gross - refunded - disputed - stripe_fee - platform_fee`` holds for every sum.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from typing import Any, Literal

from billing_contracts.billing_stripe import BalanceFigures
from billing_contracts.revenue_ledger import LedgerKind
from billing_kit.errors import FieldError, ValidationFailedError

LEDGER_KINDS: tuple[LedgerKind, ...] = (
    "charge",
    "refund",
    "refund_failure",
    "dispute",
    "dispute_reversal",
    "application_fee_refund",
)


def kind_of_balance_transaction(txn: dict[str, Any]) -> LedgerKind | None:
    """The ledger kind of a Stripe balance transaction; None for what is not revenue
    (payouts, Stripe balance payments of the platform's own fees, ...)."""
    kind = txn.get("type")
    category = txn.get("reporting_category")
    if kind in ("charge", "payment"):
        return "charge"
    if kind in ("refund", "payment_refund"):
        return "refund"
    if kind == "refund_failure" or (kind == "adjustment" and category == "refund_failure"):
        return "refund_failure"
    if kind == "application_fee_refund":
        return "application_fee_refund"
    if kind in ("adjustment", "dispute") and category in ("dispute", "dispute_reversal"):
        return "dispute" if category == "dispute" else "dispute_reversal"
    return None


def kind_of_figures(figures: BalanceFigures) -> LedgerKind | None:
    """``kind_of_balance_transaction`` of the figures an event carries."""
    return kind_of_balance_transaction(
        {"type": figures.type, "reporting_category": figures.reporting_category}
    )


@dataclass(frozen=True)
class Figures:
    """A balance transaction's figures in cents."""

    balance_transaction_id: str
    currency: str
    gross: int
    stripe_fee: int
    platform_fee: int
    net: int
    created: int | None = None

    @classmethod
    def from_contract(cls, figures: BalanceFigures) -> Figures:
        # Fees that are neither Stripe's processing fee nor the platform's (taxes on fees)
        # are still Stripe's: counting them there keeps net = gross - fees.
        return cls(
            balance_transaction_id=figures.balance_transaction_id,
            currency=figures.currency,
            gross=figures.gross,
            stripe_fee=figures.stripe_fee + figures.other_fees,
            platform_fee=figures.application_fee,
            net=figures.net,
            created=figures.created,
        )

    @classmethod
    def from_stripe(cls, txn: dict[str, Any]) -> Figures:
        platform_fee = stripe_fee = 0
        for detail in txn.get("fee_details") or ():
            if detail.get("type") == "application_fee":
                platform_fee += int(detail["amount"])
            else:
                stripe_fee += int(detail["amount"])
        if not txn.get("fee_details"):
            stripe_fee = int(txn.get("fee") or 0)
        return cls(
            balance_transaction_id=str(txn["id"]),
            currency=str(txn["currency"]),
            gross=int(txn["amount"]),
            stripe_fee=stripe_fee,
            platform_fee=platform_fee,
            net=int(txn["net"]),
            created=int(txn["created"]) if txn.get("created") is not None else None,
        )


ROLLUP_FIGURES = (
    "gross_cents",
    "refunded_cents",
    "disputed_cents",
    "stripe_fee_cents",
    "platform_fee_cents",
    "net_cents",
)


def rollup_delta(
    kind: str, gross: int, stripe_fee: int, platform_fee: int, net: int
) -> dict[str, int]:
    """How one entry adds to each of the ``ROLLUP_FIGURES`` (see the module docstring)."""
    delta = dict.fromkeys(ROLLUP_FIGURES, 0)
    delta.update(stripe_fee_cents=stripe_fee, net_cents=net, platform_fee_cents=platform_fee)
    if kind == "charge":
        delta["gross_cents"] = gross
    elif kind in ("refund", "refund_failure"):
        delta["refunded_cents"] = -gross
    elif kind in ("dispute", "dispute_reversal"):
        delta["disputed_cents"] = -gross
    elif kind == "application_fee_refund":
        delta["platform_fee_cents"] = platform_fee - gross
    else:
        raise ValueError(f"not a ledger kind: {kind}")
    return delta


def from_unix(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


Grain = Literal["year", "month", "day"]


@dataclass(frozen=True)
class Span:
    """Rollup rows of one grain whose periods start from ``first`` to ``last`` (inclusive)."""

    grain: Grain
    first: date
    last: date


def from_day(day: date) -> datetime:
    """The first moment of a UTC day."""
    return datetime.combine(day, datetime.min.time(), UTC)


def day_of(moment: datetime) -> date:
    """The day a movement counts in: its UTC calendar day."""
    return moment.astimezone(UTC).date()


def rollup_periods(day: date) -> tuple[tuple[Grain, date], ...]:
    """The periods a movement of ``day`` adds to, coarsest first: its year, month and day."""
    return ("year", date(day.year, 1, 1)), ("month", day.replace(day=1)), ("day", day)


def _month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _next_month(month: date) -> date:
    return (month.replace(day=28) + timedelta(days=4)).replace(day=1)


def spans(start: date, end: date, *, years: bool = True) -> list[Span]:
    """The fewest rollup rows that cover exactly the days from ``start`` to ``end``
    (inclusive): days at the edges of a partial month, whole months, and (with ``years``)
    whole years. Empty when ``end`` is before ``start``."""
    found: list[Span] = []
    if start.day != 1 and start <= end:  # the days before the first whole month
        head = min(end, _month_end(start))
        found.append(Span("day", start, head))
        start = head + timedelta(days=1)
    if start <= end and end != _month_end(end):  # the days after the last whole month
        found.append(Span("day", end.replace(day=1), end))
        end = end.replace(day=1) - timedelta(days=1)
    if start > end:
        return found
    first, last = start, end.replace(day=1)  # whole months from here on
    if not years:
        return [*found, Span("month", first, last)]
    if first.month != 1:  # the months before the first whole year
        head = min(last, date(first.year, 12, 1))
        found.append(Span("month", first, head))
        first = _next_month(head)
    if first <= last and last.month != 12:  # the months after the last whole year
        found.append(Span("month", date(last.year, 1, 1), last))
        last = date(last.year - 1, 12, 1)
    if first <= last:
        found.append(Span("year", first, date(last.year, 1, 1)))
    return found


@dataclass(frozen=True)
class Page:
    """Which of a list in id order an answer lists: at most ``limit``, those whose id sorts
    after ``after`` (None: from the first)."""

    limit: int
    after: str | None = None


WorkspacePage = Page
"""A summary's workspaces ('' is the id of the movements no workspace was found for)."""
AgencyPage = Page
"""The platform overview's agencies."""

AGENCIES_PAGE = 100
"""Agencies the overview lists unless asked for more."""
AGENCIES_MAX = 1_000

WORKSPACES_PAGE = 1_000
"""How many workspaces a summary lists unless asked for another number."""
WORKSPACES_MAX = 10_000
FIRST_PAGE = WorkspacePage(limit=WORKSPACES_PAGE)


_PAYOUT_RANK = {"pending": 0, "in_transit": 1, "paid": 2, "failed": 2, "canceled": 2}
"""How far along a payout's status is: ``paid``, ``failed`` and ``canceled`` end it."""


def payout_status_applies(current: str, seen_at: int, status: str, told_at: int) -> bool:
    """Whether a payout event's status (told at Stripe's ``told_at``) replaces the one kept:
    never after an end; else when further along, or as far along and newer."""
    if _PAYOUT_RANK.get(current, 0) == 2:
        return False
    rank, kept = _PAYOUT_RANK.get(status, 0), _PAYOUT_RANK.get(current, 0)
    return rank > kept or (rank == kept and told_at > seen_at)


def payout_figures(sums_by_kind: dict[str | None, tuple[int, int, int, int]]) -> dict[str, int]:
    """A payout's figures (``ROLLUP_FIGURES`` and ``other_cents``) from its transactions'
    (gross, stripe fee, platform fee, net) summed per ledger kind; ``other_cents`` is what
    moved outside client revenue (the platform's SaaS fees taken from the balance,
    adjustments), so ``net = gross - refunded - disputed - stripe_fee - platform_fee +
    other`` and ``net_cents`` is the payout's amount."""
    figures = dict.fromkeys((*ROLLUP_FIGURES, "other_cents"), 0)
    for kind, (gross, stripe_fee, platform_fee, net) in sums_by_kind.items():
        if kind is None:
            figures["other_cents"] += net
            figures["net_cents"] += net
            continue
        for name, value in rollup_delta(kind, gross, stripe_fee, platform_fee, net).items():
            figures[name] += value
    return figures


# --- MRR -------------------------------------------------------------------------------

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
    return int(datetime.combine(_next_month(month), datetime.min.time(), UTC).timestamp())


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
        month = _next_month(month)
    return months


# --- periods asked for ------------------------------------------------------------------

MAX_YEARS = 10
"""The longest period a question may span."""


def this_year() -> tuple[date, date]:
    today = datetime.now(UTC).date()
    return date(today.year, 1, 1), date(today.year, 12, 31)


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The days asked for (this calendar year by default); ``to`` before ``from`` is a
    validation error naming ``to``."""
    default_start, default_end = this_year()
    start, end = start or default_start, end or default_end
    if start > end:
        raise ValidationFailedError(
            "The period must not end before it starts.",
            fields=[FieldError(field="to", message="must be on or after from")],
        )
    return start, end


def bounded(start: date, end: date) -> tuple[date, date]:
    """A period of at most ``MAX_YEARS`` years; a longer one is a validation error naming
    ``from``."""
    earliest = end.year - MAX_YEARS
    day = 28 if (end.month, end.day) == (2, 29) else end.day
    if earliest >= 1 and start < end.replace(year=earliest, day=day):
        raise ValidationFailedError(
            f"The period may span at most {MAX_YEARS} years.",
            fields=[FieldError(field="from", message=f"must be within {MAX_YEARS} years of to")],
        )
    return start, end
