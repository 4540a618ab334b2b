"""Calendar arithmetic of billing periods."""

from __future__ import annotations

import calendar
import datetime as dt


def add_period(start: int, interval: str, count: int, anchor: int) -> int:
    """`start` plus `count` intervals; months keep the anchor's day, clamped to month end."""
    if interval == "day":
        return start + count * 86400
    if interval == "week":
        return start + count * 7 * 86400
    when = dt.datetime.fromtimestamp(start, dt.UTC)
    anchor_day = dt.datetime.fromtimestamp(anchor, dt.UTC).day
    months = count * (12 if interval == "year" else 1)
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    day = min(anchor_day, calendar.monthrange(year, month + 1)[1])
    return int(when.replace(year=year, month=month + 1, day=day).timestamp())
