"""SLA on first response, counted in Japanese business hours (pure functions)."""
from datetime import datetime, timedelta

import pytest

from otasuke.helpdesk_bot.domain.business_hours import (
    JST,
    add_business_time,
    business_time_between,
    first_response_due,
    is_business_day,
)


def jst(*args) -> datetime:
    return datetime(*args, tzinfo=JST)


def test_weekends_holidays_and_new_year_are_not_business_days():
    assert is_business_day(jst(2025, 5, 2).date())  # Friday
    assert not is_business_day(jst(2025, 5, 3).date())  # Saturday (憲法記念日)
    assert not is_business_day(jst(2025, 5, 5).date())  # Monday, こどもの日
    assert not is_business_day(jst(2025, 5, 6).date())  # 振替休日
    assert not is_business_day(jst(2025, 12, 30).date())  # year-end break
    assert is_business_day(jst(2025, 5, 7).date())


def test_a_ticket_opened_on_friday_evening_before_golden_week_is_due_the_next_working_day():
    # Friday 17:00 → one hour left that day, one more on Wednesday 7 May after 3-6 May off.
    assert first_response_due(jst(2025, 5, 2, 17, 0)) == jst(2025, 5, 7, 10, 0)


def test_outside_hours_the_clock_starts_at_nine():
    assert first_response_due(jst(2025, 5, 7, 6, 30)) == jst(2025, 5, 7, 11, 0)
    assert first_response_due(jst(2025, 5, 7, 20, 0)) == jst(2025, 5, 8, 11, 0)


def test_business_time_between_skips_nights_and_weekends():
    assert business_time_between(jst(2025, 5, 9, 17, 0), jst(2025, 5, 12, 10, 0)) == timedelta(hours=2)
    assert business_time_between(jst(2025, 5, 12, 10, 0), jst(2025, 5, 9, 17, 0)) == timedelta(0)
    start = jst(2025, 5, 7, 16, 45)
    assert business_time_between(start, add_business_time(start, timedelta(hours=5))) == timedelta(hours=5)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        first_response_due(datetime(2025, 5, 7, 10, 0))
