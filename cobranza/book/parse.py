"""Vectorized cell parsers: one column of raw cell objects in, typed values and a bad-mask out.

Cells arrive as whatever the reader produced (python-calamine: str, float, int, bool,
date, datetime, time; xlwings: the same plus None). Each parser splits the column by
Python type once and converts every group with whole-array operations. Blank cells
(None, NaN, "" or spaces) are never bad: they come back as the missing value, and the
caller decides whether the column is required.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import date, datetime, time

import numpy as np
import pandas as pd
from pandas.api.types import infer_dtype

from cobranza.book.text import normalize, parse_yes_no

# Excel's day zero for serial dates (1900 system, after its 1900-02-29 bug).
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Dates outside this range are typos (and would overflow datetime64[ns]).
DATE_MIN = pd.Timestamp("1900-01-01")
DATE_MAX = pd.Timestamp("2199-12-31")
# Largest amount accepted: far above any invoice, and x100 still fits int64 minor units.
AMOUNT_MAX = 1e15
_SERIAL_MAX = (DATE_MAX - _EXCEL_EPOCH).days
# Text date formats, day first. Never mm/dd. %d and %m also take one digit.
_DATE_FORMATS = (
    "%d/%m/%Y",
    "%Y-%m-%d",
    "%d-%m-%Y",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
)
_AMOUNT_PATTERNS = {  # decimal separator -> full-match pattern of a text amount
    ".": r"-?\s*\$?\s*(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?",
    ",": r"-?\s*\$?\s*(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d+)?",
}


_strip = np.frompyfunc(str.strip, 1, 1)  # object array in, object array out, in C
# Cell categories, as small ints so masks are cheap numpy comparisons.
BLANK, TEXT, NUMBER, DATE, DATETIME, OTHER = range(6)
# Column type pandas infers in one C pass -> category of every cell (before blank checks).
_UNIFORM = {"string": TEXT, "floating": NUMBER, "integer": NUMBER, "mixed-integer-float": NUMBER,
            "date": DATE, "datetime": DATETIME, "empty": BLANK}


def _category(kind: type) -> int:
    """Category of a cell's Python type (bool is not a number here)."""
    if issubclass(kind, (bool, np.bool_)):
        return OTHER
    if issubclass(kind, str):
        return TEXT
    if issubclass(kind, (int, float, np.integer, np.floating)):
        return NUMBER
    if issubclass(kind, (datetime, np.datetime64)):
        return DATETIME
    if issubclass(kind, date):
        return DATE
    if kind is type(None) or kind is type(pd.NaT):
        return BLANK
    return OTHER


class _Categories(dict):
    """Cell type -> its category, `_category` asked on a type's first lookup."""

    def __missing__(self, kind: type) -> int:
        self[kind] = found = _category(kind)
        return found


def categories(values: pd.Series) -> np.ndarray:
    """Category of every cell; NaN numbers and empty or all-space text count as BLANK."""
    arr = values.to_numpy(dtype=object)
    uniform = _UNIFORM.get(infer_dtype(arr, skipna=False))
    if uniform is not None:
        cats = np.full(len(arr), uniform, dtype=np.int8)
    else:  # one C-level pass: a lookup per cell's type, `_category` once per new type
        table = _Categories()
        cats = np.fromiter(map(table.__getitem__, map(type, arr)), dtype=np.int8, count=len(arr))
    text = cats == TEXT
    if text.any():
        blank = np.fromiter((not v or v.isspace() for v in arr[text]), bool, int(text.sum()))
        cats[np.flatnonzero(text)[blank]] = BLANK
    num = cats == NUMBER
    if num.any():
        cats[np.flatnonzero(num)[np.isnan(arr[num].astype("float64"))]] = BLANK
    return cats


def blank_mask(values: pd.Series) -> pd.Series:
    """True where the cell is empty (None, NaN, NaT, "" or only spaces)."""
    return pd.Series(categories(values) == BLANK, index=values.index)


def per_unique(text: pd.Series, func: Callable[[str], object]) -> pd.Series:
    """Apply `func` once per distinct value (code lists, Sí/No, zones have few); a blank
    (NaN, None) is a value too, not the last value's result."""
    codes, uniques = pd.factorize(text, use_na_sentinel=False)
    results = pd.Series([func(u) for u in uniques], dtype=object)
    return pd.Series(results.to_numpy()[codes], index=text.index)


def text_codes(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """`to_text(values)` factorized: per cell the code of its text, and the texts (two
    codes may strip to the same text). An all-text column is hashed as it is and
    stripped once per distinct value (a currency column: 100 000 cells, two values)."""
    arr = values.to_numpy(dtype=object)
    if infer_dtype(arr, skipna=False) == "string":
        codes, uniques = pd.factorize(arr)
        return codes, [u.strip() for u in uniques]
    codes, uniques = pd.factorize(to_text(values).to_numpy(dtype=object))
    return codes, list(uniques)


def _ns(stamps: pd.Series) -> pd.Series:
    """Any datetime resolution -> datetime64[ns], NaT outside DATE_MIN..DATE_MAX."""
    return stamps.where((stamps >= DATE_MIN) & (stamps <= DATE_MAX)).astype("datetime64[ns]")


def _text_dates(text: pd.Series) -> pd.Series:
    """Try each day-first format on the cells still unparsed; NaT where none fits."""
    text = text.str.strip()
    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    todo = text
    for fmt in _DATE_FORMATS:
        got = pd.to_datetime(todo, format=fmt, errors="coerce")
        hit = got.notna()
        out[hit[hit].index] = _ns(got[hit])
        todo = todo[~hit]
        if todo.empty:
            break
    return out


def _serial_dates(numbers: pd.Series) -> pd.Series:
    """Excel serial day numbers (time fraction dropped) -> timestamps; NaT when out of range."""
    days = numbers.astype("float64")
    ok = np.isfinite(days) & (days >= 1) & (days <= _SERIAL_MAX)
    out = pd.Series(pd.NaT, index=numbers.index, dtype="datetime64[ns]")
    out.loc[ok] = _EXCEL_EPOCH + pd.to_timedelta(np.floor(days[ok]), unit="D")
    return out


def _object_dates(objs: pd.Series, with_time: bool) -> pd.Series:
    if not with_time:  # datetime.date: exact via ordinals, no per-cell parsing
        # over the array: iterating the Series calls ndarray.item per cell (2x slower)
        days = np.fromiter(map(date.toordinal, objs.to_numpy()), dtype="int64", count=len(objs))
        stamps = (days - _EPOCH_ORDINAL).astype("datetime64[D]")
        return _ns(pd.Series(stamps, index=objs.index))
    return _ns(pd.to_datetime(objs, errors="coerce")).dt.normalize()


def parse_dates(values: pd.Series, cats: np.ndarray | None = None
                ) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (datetime64[ns] at midnight, bad-mask). Blank -> NaT and not bad.

    Accepts date/datetime objects, Excel serial numbers, `dd/mm/aaaa`, `d/m/aaaa`,
    `dd-mm-aaaa` and ISO `aaaa-mm-dd` (optionally with a time). Impossible dates
    (31/02/2026) and dates outside 1900-2199 are bad. `cats`: `categories(values)`,
    when the caller already has them.
    """
    cats = categories(values) if cats is None else cats
    out = np.full(len(values), np.datetime64("NaT"), dtype="datetime64[ns]")
    for cat, convert in (
        (TEXT, lambda s: _text_dates(s.astype(str))),
        (NUMBER, _serial_dates),
        (DATE, lambda s: _object_dates(s, with_time=False)),
        (DATETIME, lambda s: _object_dates(s, with_time=True)),
    ):
        mask = cats == cat
        if mask.any():
            out[mask] = convert(values[mask]).to_numpy(dtype="datetime64[ns]")
    out[(out < DATE_MIN.to_datetime64()) | (out > DATE_MAX.to_datetime64())] = np.datetime64("NaT")
    out = out.astype("datetime64[D]").astype("datetime64[ns]")  # midnight (floor; NaT stays)
    parsed = pd.Series(out, index=values.index)
    return parsed, pd.Series((cats != BLANK) & np.isnat(out), index=values.index)


def parse_amounts(values: pd.Series, decimal_separator: str = ".", cats: np.ndarray | None = None
                  ) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (float major units, bad-mask). Blank -> NaN and not bad.

    Text may carry a leading "$", spaces and thousands separators; the decimal separator
    is the configured one ("." or ","). Negative amounts are bad but keep their value, so
    the caller can tell "negative" from "not a number" (NaN); amounts above AMOUNT_MAX
    are bad too, with their value. `cats` as in parse_dates.
    """
    cats = categories(values) if cats is None else cats
    out = np.full(len(values), np.nan)
    num = cats == NUMBER
    if num.any():
        out[num] = values[num].to_numpy(dtype="float64")
    text = cats == TEXT
    if text.any():
        out[text] = _text_amounts(to_text(values[text]), decimal_separator).to_numpy()
    bad = ((cats != BLANK) & ~np.isfinite(out)) | (out < 0) | (out > AMOUNT_MAX)
    return pd.Series(out, index=values.index), pd.Series(bad, index=values.index)


def _text_amounts(text: pd.Series, decimal_separator: str) -> pd.Series:
    thousands = "," if decimal_separator == "." else "."
    ok = text.str.fullmatch(_AMOUNT_PATTERNS[decimal_separator]).astype(bool)
    clean = text[ok].str.replace(rf"[\s$\{thousands}]", "", regex=True)
    clean = clean.str.replace(decimal_separator, ".", regex=False)
    out = pd.Series(np.nan, index=text.index, dtype="float64")
    out[ok] = pd.to_numeric(clean, errors="coerce")
    return out


def parse_ints(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (float holding whole numbers, bad-mask). "-5", 5.0 and "+5" are fine."""
    cats = categories(values)
    out = pd.Series(np.nan, index=values.index, dtype="float64")
    num = cats == NUMBER
    out[num] = values[num].astype("float64")
    text = cats == TEXT
    if text.any():
        t = to_text(values[text]).str.replace(r"^\+", "", regex=True)
        out[text] = pd.to_numeric(t.where(t.str.fullmatch(r"-?\d+").astype(bool)), errors="coerce")
    out = out.where(np.isfinite(out) & (out == np.floor(out)))
    return out, (cats != BLANK) & out.isna()


def parse_choice(values: pd.Series, choices: dict[str, str]) -> tuple[pd.Series, pd.Series]:
    """Raw cells -> (canonical choice or "", bad-mask); `choices` maps normalized -> canonical."""
    text = to_text(values)
    out = per_unique(text, lambda v: choices.get(normalize(v), "")).astype(str)
    return out, (text != "") & (out == "")


def parse_bools(values: pd.Series, default: bool) -> tuple[pd.Series, pd.Series]:
    """Sí/No cells -> (bool, bad-mask); blank gives `default`, bad cells give False."""
    parsed = per_unique(to_text(values), lambda v: parse_yes_no(v, default))
    bad = parsed.isna()
    return parsed.where(~bad, False).astype(bool), bad


def cell_text(value: object) -> str:
    """One cell as the user sees it: 12.0 -> "12", a date -> "31/01/2026", blank -> ""."""
    if value is None or value is pd.NaT:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "VERDADERO" if value else "FALSO"
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(float(value))
    if isinstance(value, datetime):
        return value.strftime("%d/%m/%Y %H:%M" if value.time() != time() else "%d/%m/%Y")
    if isinstance(value, date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return str(value).strip()


def to_text(values: pd.Series) -> pd.Series:
    """Raw cells -> str column ("" for blank). All-text columns take the fast path."""
    if values.empty:
        return pd.Series([], index=values.index, dtype=str)
    arr = values.to_numpy(dtype=object)
    try:
        stripped = _strip(arr)  # all text: the fast path
    except TypeError:  # some cell is not a str
        stripped = [cell_text(v) for v in arr]
    # copy=False: `stripped` is new (pandas 3 would copy it again)
    return pd.Series(stripped, index=values.index, dtype=str, copy=False)
