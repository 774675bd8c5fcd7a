"""Business calendar: weekends and public holidays per country."""

from datetime import date

import pytest

from cobranza.notices.calendar import (
    business_days_of_month,
    first_business_days,
    is_business_day,
    is_holiday,
    next_business_day,
)


@pytest.mark.parametrize(
    ("day", "country", "expected"),
    [
        (date(2026, 12, 24), "MX", True),  # Thursday
        (date(2026, 12, 25), "MX", False),  # Navidad
        (date(2026, 12, 26), "MX", False),  # Saturday
        (date(2026, 12, 27), "MX", False),  # Sunday
        (date(2026, 2, 2), "MX", False),  # Día de la Constitución (first Monday of February)
        (date(2026, 2, 2), "CO", True),
        (date(2026, 1, 12), "CO", False),  # Reyes Magos, moved to Monday (Ley Emiliani)
        (date(2026, 7, 28), "PE", False),  # Fiestas Patrias
        (date(2026, 7, 28), "MX", True),
        (date(2026, 9, 18), "CL", False),  # Independencia
    ],
)
def test_is_business_day(day, country, expected):
    assert is_business_day(day, country) is expected


def test_is_holiday_ignores_weekends():
    assert is_holiday(date(2026, 12, 26), "MX") is False
    assert is_holiday(date(2026, 12, 25), "MX") is True


@pytest.mark.parametrize(
    ("year", "month", "country", "n", "expected"),
    [
        (2026, 2, "MX", 5, (date(2026, 2, 3), date(2026, 2, 4), date(2026, 2, 5),
                            date(2026, 2, 6), date(2026, 2, 9))),
        (2026, 12, "MX", 1, (date(2026, 12, 1),)),
        (2026, 1, "CO", 3, (date(2026, 1, 2), date(2026, 1, 5), date(2026, 1, 6))),
        (2026, 8, "MX", 0, ()),
    ],
)
def test_first_business_days(year, month, country, n, expected):
    assert first_business_days(year, month, country, n) == expected


def test_business_days_of_month_counts_a_whole_month():
    days = business_days_of_month(2026, 12, "MX")
    assert (days[0], days[-1], len(days)) == (date(2026, 12, 1), date(2026, 12, 31), 22)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 12, 24), date(2026, 12, 24)),
        (date(2026, 12, 25), date(2026, 12, 28)),
        (date(2026, 12, 27), date(2026, 12, 28)),
    ],
)
def test_next_business_day(day, expected):
    assert next_business_day(day, "MX") == expected
