"""Exact money: amounts are int64 minor units of their currency, never binary floats."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

import numpy as np
import pandas as pd

# ISO 4217 alphabetic codes of currencies and funds (not metals, not test codes), with
# the recently replaced ANG, HRK, SLL and ZWL that older invoices may still carry.
_ISO_4217 = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD
BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP
DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HRK HTG HUF IDR ILS
INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR
PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS
SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW
UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL
"""
CURRENCIES = frozenset(_ISO_4217.split())
CURRENCY_HINT = "use un código ISO 4217 de tres letras, por ejemplo MXN o USD"
# ISO 4217 minor units for the currencies a Latin American team meets; 2 otherwise.
_ZERO_DECIMALS = {"CLP", "PYG", "JPY", "KRW", "UYI"}


def currency_code(text: str) -> str | None:
    """The one currency rule (Facturas and Configuración `Moneda`): the ISO 4217 code
    `text` names, in capitals ("usd" -> "USD"); None when it names none ("pesos", "MNX")."""
    code = text.strip().upper()
    return code if code in CURRENCIES else None


def decimals(currency: str) -> int:
    return 0 if currency.upper() in _ZERO_DECIMALS else 2


def decimals_of(currencies: pd.Series) -> np.ndarray:
    """Vectorized `decimals` for a column of currency codes (once per distinct code; a
    categorical column is not hashed again)."""
    if isinstance(currencies.dtype, pd.CategoricalDtype):
        codes, uniques = currencies.cat.codes.to_numpy(), currencies.cat.categories
    else:
        # to_numpy, not np.asarray: numpy's probe for __array_interface__ makes pandas
        # hash a text index whole (0.1 s at 1 000 000 rows, per new index)
        codes, uniques = pd.factorize(currencies.to_numpy(dtype=object))
    places = np.array([decimals(c) for c in uniques] + [2], dtype="int64")
    return places[codes]  # code -1 (a missing code) picks the trailing 2, as before


# Excel keeps 15 significant digits of a number (what it shows and what a user can type);
# the double it stores may differ beyond them (10.05 is 10.0499999999999998...).
EXCEL_DIGITS = 15


def excess_decimals(amounts: pd.Series, currencies: pd.Series) -> np.ndarray:
    """True where an amount (float major units) has more decimals than its currency
    allows (`100.5` CLP, `10.005` MXN), the amount read as Excel shows it, to
    EXCEL_DIGITS significant digits: the double of a typed 10.05 or of =0.1+0.2 passes,
    a real third decimal does not. Blank (NaN) is never in excess."""
    x = np.abs(amounts.to_numpy(dtype="float64"))
    x = np.where(np.isfinite(x), x, np.nan)
    scale = 10.0 ** decimals_of(currencies)
    scaled = x * scale
    off_by = np.abs(scaled - np.rint(scaled))  # in minor units
    excess = np.zeros(len(x), dtype=bool)
    # A whole number of minor units is never in excess: the product is exact to far less
    # than a 15th digit. Only the others (most typed amounts are whole) are weighed.
    ask = np.flatnonzero(off_by > 0)  # NaN compares False
    excess[ask] = _beyond_shown(x[ask], scale[ask], scaled[ask], off_by[ask])
    return excess


def _beyond_shown(x: np.ndarray, scale: np.ndarray, scaled: np.ndarray, off_by: np.ndarray
                  ) -> np.ndarray:
    """`excess_decimals` of amounts `x` (> 0) not a whole number of minor units."""
    magnitude = np.floor(np.log10(x))
    magnitude -= 10.0 ** magnitude > x  # log10(999999999999.998) rounds up to 12
    # half a unit of the last significant digit Excel keeps, in minor units
    tolerance = 0.5 * 10.0 ** (magnitude - (EXCEL_DIGITS - 1)) * scale
    excess = off_by > tolerance
    # A double half-way between two 15-digit numbers: the product's rounding cannot
    # tell which one Excel shows, the decimal text can (rare: never a typed amount; most
    # large typed amounts are close enough to the line to ask).
    near = np.flatnonzero(np.abs(off_by - tolerance) <= 4 * np.spacing(scaled))
    shown = np.fromiter(map(_shown_decimals, x[near].tolist()), dtype=np.int64, count=len(near))
    excess[near] = shown > np.log10(scale[near])
    return excess


def _shown_decimals(amount: float) -> int:
    """Decimals of `amount` as Excel shows it (EXCEL_DIGITS significant digits)."""
    exponent = Decimal(f"{amount:.{EXCEL_DIGITS}g}").normalize().as_tuple().exponent
    return max(-int(exponent), 0)


def to_minor(amounts: pd.Series, currencies: pd.Series) -> pd.Series:
    """Float major units -> int64 minor units. Validation has refused the amounts with
    more decimals than their currency's (`excess_decimals`), so rounding here only drops
    the binary noise of the double (10.049999999999999 -> 1005)."""
    scale = 10.0 ** decimals_of(currencies)
    minor = np.rint(amounts.to_numpy(dtype="float64") * scale)
    return pd.Series(minor, index=amounts.index).astype("int64")


def to_major(minor: pd.Series, currencies: pd.Series) -> pd.Series:
    """int64 minor units -> float major units, for display and Excel cells only."""
    return minor.astype("float64") / (10.0 ** decimals_of(currencies))


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-decimals(currency))


def decimal_text(minor: int, currency: str) -> str:
    """`str(to_decimal(minor, currency))` ("15000.50", "-0.05", "1500" for JPY) by integer
    arithmetic: an email builds a payment link, with its amount, per invoice."""
    scale, places, _ = _amount_format(currency)
    minor = int(minor)
    if not places:
        return str(minor)
    units, fraction = divmod(abs(minor), scale)
    return f"{'-' if minor < 0 else ''}{units}.{str(fraction).zfill(places)}"


def format_amount(minor: int, currency: str) -> str:
    """1234567 MXN -> "$12,345.67 MXN" (for email bodies)."""
    scale, places, suffix = _amount_format(currency)
    minor = int(minor)
    # integer arithmetic: what formatting `to_decimal(minor, currency)` gives, ~3x faster
    units, fraction = divmod(abs(minor), scale)
    sign = "-" if minor < 0 else ""
    if places:  # zfill: a nested format spec ({fraction:{spec}}) is parsed per amount
        return f"${sign}{units:,}.{str(fraction).zfill(places)}{suffix}"
    return f"${sign}{units:,}{suffix}"


@lru_cache(maxsize=64)
def _amount_format(currency: str) -> tuple[int, int, str]:
    """(10**decimals, the decimals (0: no cents), " CODE") of a currency: a
    digest formats ~20 000 amounts in a few currencies."""
    places = decimals(currency)
    return 10**places, places, " " + currency.upper()
