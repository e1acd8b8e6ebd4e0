"""When each recipient's mail goes out: realistic spreading over Japanese business time.

The seed report's users noticed that one mail to everyone at the same moment
made staff suspicious and talk to each other. So each recipient gets a random
moment inside the campaign window, only during business hours (Japan time),
never on weekends, national holidays (``jpholiday``) or the year-end break,
and members of one department are spread over the whole window (stratified:
the window is cut into as many equal slices as the department has members and
each member lands at a random point of a different slice).

Pure and deterministic for a given seed (the campaign id), so a retried
``create campaign`` plans exactly the same times.
"""
from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import jpholiday

JST = ZoneInfo("Asia/Tokyo")


class NoBusinessTime(ValueError):
    """The window holds no business hours at all."""


@dataclass(frozen=True)
class BusinessHours:
    """Working periods of a day in Japan time (default 9:00–12:00 and 13:00–17:00)."""

    periods: tuple[tuple[time, time], ...] = ((time(9, 0), time(12, 0)), (time(13, 0), time(17, 0)))

    def is_business_day(self, day: date) -> bool:
        if day.weekday() >= 5 or jpholiday.is_holiday(day):
            return False
        # 年末年始: most SMEs are closed from 29 December to 3 January.
        return not ((day.month == 12 and day.day >= 29) or (day.month == 1 and day.day <= 3))

    def contains(self, moment: datetime) -> bool:
        local = moment.astimezone(JST)
        if not self.is_business_day(local.date()):
            return False
        return any(start <= local.time() < end for start, end in self.periods)


def business_intervals(start: datetime, end: datetime, hours: BusinessHours) -> list[tuple[datetime, datetime]]:
    """The business-time intervals inside ``[start, end)``, in order."""
    out: list[tuple[datetime, datetime]] = []
    day = start.astimezone(JST).date()
    last = end.astimezone(JST).date()
    while day <= last:
        if hours.is_business_day(day):
            for p_start, p_end in hours.periods:
                a = max(datetime.combine(day, p_start, JST), start)
                b = min(datetime.combine(day, p_end, JST), end)
                if a < b:
                    out.append((a, b))
        day += timedelta(days=1)
    return out


def _at_offset(intervals: list[tuple[datetime, datetime]], seconds: float) -> datetime:
    """The moment ``seconds`` of business time after the first interval's start."""
    for a, b in intervals:
        length = (b - a).total_seconds()
        if seconds < length:
            return a + timedelta(seconds=seconds)
        seconds -= length
    a, b = intervals[-1]
    return b - timedelta(seconds=1)


def plan_send_times(
    departments: Sequence[str],
    *,
    window_start: datetime,
    window_end: datetime,
    seed: str,
    hours: BusinessHours = BusinessHours(),
) -> list[datetime]:
    """A send time (UTC-aware) for each recipient, given each recipient's department.

    Returns times in the order of ``departments``. Raises :class:`NoBusinessTime`
    when the window has no business hours.
    """
    if window_end <= window_start:
        raise NoBusinessTime("the campaign window ends before it starts")
    intervals = business_intervals(window_start, window_end, hours)
    total = sum((b - a).total_seconds() for a, b in intervals)
    if total < 60:
        raise NoBusinessTime("the campaign window holds no business hours (weekdays 9:00–17:00 Japan time)")
    rng = random.Random(seed)
    members: dict[str, list[int]] = defaultdict(list)
    for index, dept in enumerate(departments):
        members[dept].append(index)
    out: list[datetime | None] = [None] * len(departments)
    for dept in sorted(members):
        indexes = members[dept][:]
        rng.shuffle(indexes)  # who gets which slice is random, not list order
        n = len(indexes)
        slice_len = total / n
        for k, index in enumerate(indexes):
            offset = (k + rng.random()) * slice_len
            out[index] = _at_offset(intervals, min(offset, total - 1)).astimezone(ZoneInfo("UTC"))
    return out  # type: ignore[return-value]


def immediate_send_times(count: int, now: datetime) -> list[datetime]:
    """``immediate`` mode: everyone now (business hours are ignored on purpose)."""
    return [now] * count
