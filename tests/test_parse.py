"""Cell parsers: exact results on literal cells, and properties over wild input."""

from __future__ import annotations

from datetime import date, datetime, time

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from cobranza.book.parse import (
    blank_mask,
    cell_text,
    parse_amounts,
    parse_bools,
    parse_choice,
    parse_dates,
    parse_ints,
    to_text,
)


def cells(*values: object) -> pd.Series:
    return pd.Series(list(values), dtype=object)


def stamps(*texts: str | None) -> list:
    return [pd.NaT if t is None else pd.Timestamp(t) for t in texts]


def test_dates_every_accepted_form() -> None:
    values, bad = parse_dates(cells(
        date(2026, 3, 1), datetime(2026, 3, 1, 17, 45), pd.Timestamp("2026-03-01 08:00"),
        46082, 46082.75, "01/03/2026", "1/3/2026", "01-03-2026", " 2026-03-01 ",
        "2026-03-01 10:30", "2026-03-01T10:30:15",
    ))
    assert values.tolist() == stamps(*["2026-03-01"] * 11)
    assert values.dtype == "datetime64[ns]"
    assert not bad.any()


def test_dates_bad_and_blank() -> None:
    values, bad = parse_dates(cells(
        "31/02/2026", "03/31/2026", "1/3/26", "ayer", "01/03/0026", 20260301, True,
        time(9, 0), None, np.nan, "", "   ",
    ))
    assert values.isna().all()
    assert bad.tolist() == [True] * 8 + [False] * 4


def test_amounts_with_point_separator() -> None:
    values, bad = parse_amounts(cells(
        12.5, 7, "1,234.56", "$ 1,234.56", " $1234 ", "1234.5", "-5", -3.0, "1.234,56", "mil",
        "1,5", None, "", True,
    ))
    assert values.tolist()[:8] == [12.5, 7.0, 1234.56, 1234.56, 1234.0, 1234.5, -5.0, -3.0]
    assert values[8:].isna().tolist() == [True] * 6
    assert bad.tolist() == [False] * 6 + [True] * 5 + [False, False, True]


def test_amounts_above_the_maximum_are_bad_but_keep_their_value() -> None:
    values, bad = parse_amounts(cells(1e15, 1e15 + 1, "2000000000000000", 1.8e306))
    assert values.tolist() == [1e15, 1e15 + 1, 2e15, 1.8e306]
    assert bad.tolist() == [False, True, True, True]


def test_amounts_with_comma_separator() -> None:
    values, bad = parse_amounts(cells("1.234,56", "$1234,5", "1,5", "1,234.56", 3.25), ",")
    assert values.tolist()[:3] == [1234.56, 1234.5, 1.5]
    assert np.isnan(values[3]) and values[4] == 3.25
    assert bad.tolist() == [False, False, False, True, False]


def test_ints_choices_bools_and_text() -> None:
    assert parse_ints(cells("-5", "+3", 2.0, " 15 ", 2.5, "x", None))[0].tolist()[:4] == [
        -5.0, 3.0, 2.0, 15.0,
    ]
    assert parse_ints(cells("-5", 2.5, "x", None))[1].tolist() == [False, True, True, False]
    choice, bad = parse_choice(cells("DISPUTA ", "pago informádo", "otro", ""),
                               {"disputa": "Disputa", "pago informado": "Pago informado"})
    assert choice.tolist() == ["Disputa", "Pago informado", "", ""]
    assert bad.tolist() == [False, False, True, False]
    flags, bad = parse_bools(cells("Sí", "no", "", None, "quizá"), True)
    assert flags.tolist() == [True, False, True, True, False]
    assert bad.tolist() == [False, False, False, False, True]
    text = to_text(cells(" F-1 ", 1003.0, 2.5, date(2026, 1, 2), None, np.nan, True))
    assert text.tolist() == ["F-1", "1003", "2.5", "02/01/2026", "", "", "VERDADERO"]
    assert blank_mask(cells("", " ", None, np.nan, 0, "x")).tolist() == [True] * 4 + [False] * 2
    assert cell_text(datetime(2026, 1, 2, 9, 30)) == "02/01/2026 09:30"


dates = st.dates(min_value=date(1900, 3, 1), max_value=date(2199, 12, 31))
FORMS = {
    "dd/mm/aaaa": lambda d: f"{d.day:02d}/{d.month:02d}/{d.year}",
    "d/m/aaaa": lambda d: f"{d.day}/{d.month}/{d.year}",
    "dd-mm-aaaa": lambda d: f"{d.day:02d}-{d.month:02d}-{d.year}",
    "iso": lambda d: d.isoformat(),
    "iso with time": lambda d: f"{d.isoformat()} 23:59",
    "serial": lambda d: (d - date(1899, 12, 30)).days,
    "serial with time": lambda d: (d - date(1899, 12, 30)).days + 0.99,
}


@settings(max_examples=60)
@given(st.lists(st.tuples(dates, st.sampled_from(sorted(FORMS))), min_size=1, max_size=30))
def test_any_valid_date_round_trips(days: list[tuple[date, str]]) -> None:
    values, bad = parse_dates(cells(*(FORMS[form](day) for day, form in days)))
    assert not bad.any()
    assert values.tolist() == [pd.Timestamp(day) for day, _ in days]


wild = st.one_of(
    st.text(max_size=20), st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20), st.booleans(), st.none(),
    st.dates(), st.datetimes(), st.times(),
)


@settings(max_examples=60)
@given(st.lists(wild, max_size=30), st.sampled_from([".", ","]))
def test_parsers_never_raise(values: list, separator: str) -> None:
    column = cells(*values)
    for parsed, bad in (parse_dates(column), parse_amounts(column, separator), parse_ints(column),
                        parse_bools(column, True), parse_choice(column, {"si": "Sí"})):
        assert len(parsed) == len(bad) == len(values)
    assert len(to_text(column)) == len(values)


def test_precomputed_categories_give_the_same_result_and_the_blanks() -> None:
    from cobranza.book.parse import BLANK, categories

    raw = cells(date(2026, 1, 2), "03/01/2026", " ", None, 46000.0, True, "2026-01-04 10:30")
    cats = categories(raw)
    assert (cats == BLANK).tolist() == [False, False, True, True, False, False, False]
    values, bad = parse_dates(raw, cats)
    expected = parse_dates(raw)
    pd.testing.assert_series_equal(values, expected[0])
    assert values.tolist()[:2] == stamps("2026-01-02", "2026-01-03")
    assert values.iloc[6] == pd.Timestamp("2026-01-04")  # the time is dropped
    assert bad.tolist() == [False, False, False, False, False, True, False]
    amounts = cells(12.5, "1,000.25", "", "-3", "x")
    got, bad = parse_amounts(amounts, ".", categories(amounts))
    assert got.iloc[:2].tolist() == [12.5, 1000.25] and got.iloc[3] == -3.0
    assert bad.tolist() == [False, False, False, True, True]


def test_to_text_fast_path_and_mixed_columns() -> None:
    class Code(str):
        pass

    assert to_text(cells(" a ", Code(" b"), "c")).tolist() == ["a", "b", "c"]
    assert to_text(cells(" a ", 12.0, None, date(2026, 1, 2))).tolist() == [
        "a", "12", "", "02/01/2026"]
    assert str(to_text(cells("x")).dtype) == "str"
