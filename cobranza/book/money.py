"""Exact money: amounts are int64 minor units of their currency, never binary floats."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd

# ISO 4217 minor units for the currencies a Latin American team meets; 2 otherwise.
_ZERO_DECIMALS = {"CLP", "PYG", "JPY", "KRW", "UYI", "CLF_UNITS"}


def decimals(currency: str) -> int:
    return 0 if currency.upper() in _ZERO_DECIMALS else 2


def decimals_of(currencies: pd.Series) -> np.ndarray:
    """Vectorized `decimals` for a column of currency codes (once per distinct code)."""
    codes, uniques = pd.factorize(np.asarray(currencies, dtype=object))
    places = np.array([decimals(c) for c in uniques] + [2], dtype="int64")
    return places[codes]  # code -1 (a missing code) picks the trailing 2, as before


def to_minor(amounts: pd.Series, currencies: pd.Series) -> pd.Series:
    """Float major units -> int64 minor units, rounded once at the edge."""
    scale = 10.0 ** decimals_of(currencies)
    minor = np.rint(amounts.to_numpy(dtype="float64") * scale)
    return pd.Series(minor, index=amounts.index).astype("int64")


def to_major(minor: pd.Series, currencies: pd.Series) -> pd.Series:
    """int64 minor units -> float major units, for display and Excel cells only."""
    return minor.astype("float64") / (10.0 ** decimals_of(currencies))


def to_decimal(minor: int, currency: str) -> Decimal:
    return Decimal(int(minor)).scaleb(-decimals(currency))


def format_amount(minor: int, currency: str) -> str:
    """1234567 MXN -> "$12,345.67 MXN" (for email bodies)."""
    d = decimals(currency)
    value = to_decimal(minor, currency)
    return f"${value:,.{d}f} {currency.upper()}"
