"""Japanese business hours: the clock an SLA on first response runs on.

Weekdays 9:00-18:00 Japan time; weekends, national holidays (jpholiday) and the
year-end/new-year break (12/29-1/3, when Japanese firms close) do not count.
Pure functions: no I/O, no "now".
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

JST = ZoneInfo("Asia/Tokyo")
OPEN = time(9, 0)
CLOSE = time(18, 0)


def is_business_day(day: date) -> bool:
    if day.weekday() >= 5 or jpholiday.is_holiday(day):
        return False
    if (day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3):
        return False
    return True


def _windows(start: datetime):
    """Business-hour windows (JST) from the day of ``start`` on, forever."""
    day = start.astimezone(JST).date()
    while True:
        if is_business_day(day):
            yield datetime.combine(day, OPEN, JST), datetime.combine(day, CLOSE, JST)
        day += timedelta(days=1)


def add_business_time(start: datetime, duration: timedelta) -> datetime:
    """The moment ``duration`` of business time has passed after ``start``."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    left = duration
    for opens, closes in _windows(start):
        begin = max(opens, start)
        if begin >= closes:
            continue
        available = closes - begin
        if left <= available:
            return begin + left
        left -= available
    raise AssertionError("unreachable")


def business_time_between(start: datetime, end: datetime) -> timedelta:
    """Business time elapsed from ``start`` to ``end`` (zero if end is earlier)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("datetimes must be timezone-aware")
    total = timedelta(0)
    if end <= start:
        return total
    for opens, closes in _windows(start):
        if opens >= end:
            return total
        begin, finish = max(opens, start), min(closes, end)
        if finish > begin:
            total += finish - begin


FIRST_RESPONSE = timedelta(hours=2)


def first_response_due(opened_at: datetime, target: timedelta = FIRST_RESPONSE) -> datetime:
    return add_business_time(opened_at, target)
