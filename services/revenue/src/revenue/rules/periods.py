"""Days, periods and pages, without I/O: the UTC day a movement counts in, the rollup rows
that cover exactly the days asked for, the periods a question may ask for and the pages of
an answer's lists."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from billing_kit.errors import FieldError, ValidationFailedError


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


def next_month(month: date) -> date:
    """The first day of the month after ``month`` (a first of a month)."""
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
        first = next_month(head)
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


# --- periods asked for -----------------------------------------------------------------

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
