"""Business calendar: weekends and public holidays of a country (`cobranza.holiday_data`).

A business day is Monday to Friday and not a public holiday of the country (ISO code
such as "MX", "CO", "CL", "PE"). Pure: dates are arguments, nothing reads the clock.
"""

from __future__ import annotations

from datetime import date, timedelta

from cobranza.holiday_data import year_holidays

WEEKDAY_NAMES_ES = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")


def is_holiday(d: date, country: str) -> bool:
    """True when `d` is a public holiday of `country`."""
    return d in year_holidays(country, d.year)


def is_weekend(d: date) -> bool:
    return d.weekday() >= 5


def is_business_day(d: date, country: str) -> bool:
    """Monday to Friday and not a public holiday of `country`."""
    return not is_weekend(d) and not is_holiday(d, country)


def business_days_of_month(year: int, month: int, country: str) -> tuple[date, ...]:
    """Every business day of the month, in order."""
    day = date(year, month, 1)
    out = []
    while day.month == month:
        if is_business_day(day, country):
            out.append(day)
        day += timedelta(days=1)
    return tuple(out)


def first_business_days(year: int, month: int, country: str, n: int) -> tuple[date, ...]:
    """The month's first `n` business days (fewer only if the month has fewer)."""
    return business_days_of_month(year, month, country)[: max(n, 0)]


def next_business_day(d: date, country: str) -> date:
    """`d` itself when it is a business day, else the next one."""
    while not is_business_day(d, country):
        d += timedelta(days=1)
    return d
