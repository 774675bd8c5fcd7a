"""When a customer may be contacted: Configuración's window and the customer's legal rules.

Three layers, all checked in the customer's own local time (`local` is an aware datetime
already converted to the customer's zone):

1. Solo días hábiles: no weekends and no holidays of the customer's country.
2. Ventana de envío: start inclusive, end exclusive ("08:00-20:00" allows 19:59, not 20:00).
3. The customer's legal profile: allowed hours per weekday, holidays of the profile's
   country, and frequency caps per customer across all customer notices.

Layers 1 and 3 are the customer's (`CustomerRules`, from its Clientes País: see
`customer_rules`); Solo días hábiles and the Ventana de envío stay company settings.

Each check returns the `Reason` that holds the message back, or None when allowed.
Legal profiles are data (`PROFILES`); adding a country is one entry.

Frequency caps are counted on the customer's local calendar dates:
* `per_day`: at most N contacts on the same local date (CO: 1).
* `per_week`: at most N contacts in any rolling 7 local days, i.e. the new day and the six
  before it (CL: 2). Rolling rather than Monday–Sunday, so Saturday + Monday + Wednesday
  cannot slip three messages into four days across a week boundary.
* `min_days_apart`: local dates of two contacts differ by at least N days (CL: 2; Monday
  then Wednesday is allowed, Monday then Tuesday is not).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from cobranza.book.config import Config
from cobranza.notices.calendar import WEEKDAY_NAMES_ES, is_holiday, is_weekend
from cobranza.vocabulary import Reason, ReasonCode, reason

Hours = tuple[time, time] | None  # allowed [start, end) on a weekday; None = no contact


@dataclass(frozen=True)
class LegalProfile:
    """One country's collection-contact rules."""

    code: str  # Perfil legal value: MX, CO, CL, PE, ninguno
    law: str  # the norm it follows, for the README and messages
    hours: tuple[Hours, ...]  # Monday..Sunday
    holiday_country: str = ""  # never contact on this country's holidays ("" = no rule)
    per_day: int | None = None  # max contacts per local calendar day
    per_week: int | None = None  # max contacts in any rolling 7 local days
    min_days_apart: int = 0  # min difference between local dates of two contacts

    def __hash__(self) -> int:
        # the code names the profile: hashing every field (hours of seven days) cost
        # more than the lookups a plan does with customers' rules as keys
        return hash(self.code)


def _every_day(start: time, end: time) -> tuple[Hours, ...]:
    return ((start, end),) * 7


_T = time
PROFILES: Mapping[str, LegalProfile] = {
    "MX": LegalProfile("MX", "CONDUSEF", _every_day(_T(7), _T(22))),
    "CO": LegalProfile(
        "CO",
        "Ley 2300 de 2023",
        ((_T(7), _T(19)),) * 5 + ((_T(8), _T(15)), None),
        holiday_country="CO",
        per_day=1,
    ),
    "CL": LegalProfile(
        "CL",
        "Ley 21.320",
        ((_T(8), _T(20)),) * 6 + (None,),
        per_week=2,
        min_days_apart=2,
    ),
    "PE": LegalProfile(
        "PE",
        "Ley 29571 art. 62",
        ((_T(7), _T(20)),) * 5 + (None, None),
        holiday_country="PE",
    ),
    "ninguno": LegalProfile("ninguno", "", _every_day(_T(0), _T(23, 59, 59, 999999))),
}

def profile(code: str) -> LegalProfile:
    """The legal profile for a Perfil legal value (unknown values: no extra rule)."""
    return PROFILES.get(code, PROFILES["ninguno"])


@dataclass(frozen=True)
class CustomerRules:
    """One customer's contact rules: its legal profile and the country whose holidays are
    not business days for it (Solo días hábiles)."""

    legal: LegalProfile
    holidays: str  # ISO code: the customer's País, or País feriados when it is blank


def customer_rules(country: str, config: Config) -> CustomerRules:
    """The rules of a customer whose Clientes País is `country` (validated, "" = blank):
    MX, CO, CL and PE have their own profile, any other country `ninguno`; a blank País
    takes Configuración's Perfil legal and País feriados."""
    if not country:
        return CustomerRules(profile(config.legal_profile), config.holiday_country)
    return CustomerRules(PROFILES.get(country, PROFILES["ninguno"]), country)


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")


def _span(start: time, end: time) -> str:
    return f"{_hhmm(start)}-{_hhmm(end)}"


def _inside(t: time, hours: tuple[time, time]) -> bool:
    return hours[0] <= t < hours[1]


def business_day_block(day: date, config: Config, rules: CustomerRules) -> Reason | None:
    """Solo días hábiles: weekends and holidays of the customer's country are not allowed."""
    if not config.business_days_only:
        return None
    if is_weekend(day):
        return reason(ReasonCode.NOT_BUSINESS_DAY, weekday=WEEKDAY_NAMES_ES[day.weekday()])
    if is_holiday(day, rules.holidays):
        return reason(ReasonCode.HOLIDAY, country=rules.holidays)
    return None


def legal_day_block(day: date, legal: LegalProfile) -> Reason | None:
    """The legal profile forbids any contact on this local date."""
    if legal.hours[day.weekday()] is None:
        return reason(ReasonCode.LEGAL_DAY, profile=legal.code,
                      weekday=WEEKDAY_NAMES_ES[day.weekday()])
    if legal.holiday_country and is_holiday(day, legal.holiday_country):
        return reason(ReasonCode.LEGAL_HOLIDAY, profile=legal.code,
                      country=legal.holiday_country)
    return None


def hours_block(local: datetime, config: Config, rules: CustomerRules) -> Reason | None:
    """Ventana de envío, then the legal hours of the local weekday."""
    if not _inside(local.time(), (config.window_start, config.window_end)):
        return reason(ReasonCode.WINDOW, window=_span(config.window_start, config.window_end))
    legal = rules.legal
    hours = legal.hours[local.weekday()]
    if hours is not None and not _inside(local.time(), hours):
        return reason(ReasonCode.LEGAL_HOURS, profile=legal.code, hours=_span(*hours))
    return None


def window_block(local: datetime, config: Config, rules: CustomerRules) -> Reason | None:
    """Why `local` (customer's local time) is outside every allowed window; None if inside."""
    day = local.date()
    return (
        business_day_block(day, config, rules)
        or legal_day_block(day, rules.legal)
        or hours_block(local, config, rules)
    )


def cap_block(day: date, legal: LegalProfile, previous: Iterable[date]) -> Reason | None:
    """Frequency caps for one more contact on local date `day`, given earlier contact dates:
    the legal profile's, then the product's own one email a day."""
    dates = list(previous)
    if legal.per_day is not None and sum(d == day for d in dates) >= legal.per_day:
        return reason(ReasonCode.DAILY_LIMIT, profile=legal.code)
    week_start = day - timedelta(days=6)
    if legal.per_week is not None and sum(week_start <= d <= day for d in dates) >= legal.per_week:
        return reason(ReasonCode.WEEKLY_LIMIT, profile=legal.code, count=legal.per_week)
    if legal.min_days_apart and any(abs((day - d).days) < legal.min_days_apart for d in dates):
        return reason(ReasonCode.DAYS_APART, profile=legal.code, count=legal.min_days_apart)
    if day in dates:  # the policy under every law: one customer email a day
        return reason(ReasonCode.ALREADY_TODAY)
    return None


def local_dates(contacts: Iterable[datetime], like: datetime) -> list[date]:
    """Dates of earlier contacts in the zone of `like` (the customer's local time)."""
    return [c.astimezone(like.tzinfo).date() for c in contacts]


def contact_block(local: datetime, config: Config, rules: CustomerRules,
                  previous: Iterable[datetime]) -> Reason | None:
    """Window and caps together: the reason to hold a message back at `local`, or None."""
    return window_block(local, config, rules) or cap_block(
        local.date(), rules.legal, local_dates(previous, local)
    )


def _day_opening(day: date, config: Config, rules: CustomerRules) -> tuple[time, time] | None:
    """Allowed [start, end) on `day`: Ventana ∩ legal hours; None if the day is closed."""
    legal = rules.legal
    if business_day_block(day, config, rules) or legal_day_block(day, legal):
        return None
    start, end = config.window_start, config.window_end
    hours = legal.hours[day.weekday()]
    if hours is not None:
        start, end = max(start, hours[0]), min(end, hours[1])
    return (start, end) if start < end else None


def next_allowed(
    local: datetime, config: Config, rules: CustomerRules, previous: Iterable[datetime] = (),
    horizon: int = 400,
) -> datetime | None:
    """Earliest instant at or after `local` when a contact is allowed (None beyond `horizon`)."""
    dates = local_dates(previous, local)
    for offset in range(horizon):
        day = local.date() + timedelta(days=offset)
        opening = _day_opening(day, config, rules)
        if opening is None or cap_block(day, rules.legal, dates):
            continue
        start = datetime.combine(day, opening[0], tzinfo=local.tzinfo)
        candidate = max(local, start)
        if candidate.time() < opening[1] and candidate.date() == day:
            return candidate
    return None
