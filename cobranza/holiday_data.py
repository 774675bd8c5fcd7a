"""Public holidays by country and year, and which countries have them: the data behind
the business calendar (`cobranza.notices.calendar`) and the country codes a workbook may
use (`cobranza.book.countries`).

The `holidays` package computes them. Importing it and its first calendar cost ~0.1 s
(the package loads all of its ~250 countries at once), on every sync of any size; so the
source is replaceable: a sync installs one that keeps what the package answered on disk
(`sync.holiday_cache`), keyed by the installed package, and imports it only for a country
or year it has not seen. Without one, the package itself answers.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Protocol


class HolidaySource(Protocol):
    def year(self, country: str, year: int) -> frozenset[date]:
        """The public holidays of `country` (an upper-case code) in `year`."""
        ...

    def countries(self) -> frozenset[str]:
        """The country codes with a calendar."""
        ...


class LibraryHolidays:
    """The `holidays` package itself, imported on first use."""

    def year(self, country: str, year: int) -> frozenset[date]:
        import holidays

        return frozenset(holidays.country_holidays(country, years=year))

    def countries(self) -> frozenset[str]:
        import holidays

        return frozenset(holidays.list_supported_countries())


_source: HolidaySource = LibraryHolidays()


def use_source(source: HolidaySource) -> None:
    """Answer from `source` from now on (what was answered before is forgotten)."""
    global _source
    _source = source
    year_holidays.cache_clear()
    supported_countries.cache_clear()


@lru_cache(maxsize=256)
def year_holidays(country: str, year: int) -> frozenset[date]:
    """The public holidays of `country` (ISO code, any case) in `year`."""
    return _source.year(country.upper(), year)


@lru_cache(maxsize=1)
def supported_countries() -> frozenset[str]:
    """The country codes the holiday calendar knows."""
    return _source.countries()
