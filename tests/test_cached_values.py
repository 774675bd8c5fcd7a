"""Files the product writes show the Facturas formula columns without Python.

`init --demo` stores, as the cached result of each formula cell (and of the one spill
on `_calc`), the value the UDF gives as of the demo's date: the sync's own numbers. A
reader without Python (openpyxl, LibreOffice) shows them, not 0.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from cobranza.book.money import to_major
from cobranza.rules.invoices import compute_invoices
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.lo import convert_to_csv

AS_OF = date(2026, 11, 25)
N = 300


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    return create_workbook(tmp_path_factory.mktemp("cached") / "demo.xlsm", demo=True,
                           as_of=AS_OF, invoices=N)


@pytest.fixture(scope="module")
def expected(demo):
    inv = compute_invoices(read_book(demo), AS_OF)
    inv["saldo"] = to_major(inv["balance"], inv["currency"])
    return {row.invoice: (row.saldo, row.days_overdue, row.status, row.bucket)
            for row in inv.itertuples()}


def _cached_rows(path: Path) -> dict[str, tuple]:
    ws = openpyxl.load_workbook(path, data_only=True, read_only=True)["Facturas"]
    cached: dict[str, tuple] = {}
    for r in ws.iter_rows(min_row=2, values_only=True):
        if r[0] is not None:  # a repeated Factura: the first row is the one the sync keeps
            cached.setdefault(r[0], tuple(r[7:12]))
    return cached


def test_cached_values_are_the_syncs_numbers(demo, expected):
    cached = _cached_rows(demo)
    valid = {f: v for f, v in cached.items() if f in expected}
    assert len(valid) == len(expected)
    mismatched = {f: (v[:4], expected[f]) for f, v in valid.items()
                  if (float(v[0]), int(v[1]), v[2], v[3]) != expected[f]}
    assert mismatched == {}
    assert any(v[0] > 0 for v in valid.values())  # a portfolio, not zeros
    assert {v[4] for v in valid.values()} >= {"NUEVA 25/11/2026", "PREVIO 25/11/2026"}


def test_rows_the_sync_rejects_show_the_udfs_error_text(demo, expected):
    cached = _cached_rows(demo)
    rejected = {f: v for f, v in cached.items() if f not in expected}
    assert rejected  # the demo carries bad rows on purpose
    assert all(any(isinstance(x, str) and x.startswith("#¡") for x in v)
               for v in rejected.values()), rejected


def test_empty_template_row_shows_blanks_not_zeros(tmp_path):
    empty = create_workbook(tmp_path / "vacio.xlsm")
    ws = openpyxl.load_workbook(empty, data_only=True, read_only=True)["Facturas"]
    assert [c.value for c in next(ws.iter_rows(min_row=2, max_row=2))][7:12] in (
        [None] * 5, [""] * 5)


def test_libreoffice_shows_the_numbers(demo, expected, tmp_path):
    """What a LibreOffice user sees on opening the demo: the sync's numbers."""
    sheets = convert_to_csv(demo, tmp_path)
    with sheets["Facturas"].open(encoding="utf-8") as fh:
        rows: dict[str, list[str]] = {}
        for r in list(csv.reader(fh))[1:]:
            if r and r[0]:
                rows.setdefault(r[0], r[7:11])
    shown = {f: (float(v[0]), int(v[1]), v[2], v[3]) for f, v in rows.items() if f in expected}
    assert shown == expected


def test_libreoffice_recalculating_shows_no_error_outside_the_python_call(demo, tmp_path):
    """LibreOffice recalculating every formula on load (no Python there): only the one
    CALCULO_FACTURAS cell on the hidden _calc sheet fails; the Facturas columns that read
    it by position are blank, never #VALUE!/#NAME? in every row."""
    sheets = convert_to_csv(demo, tmp_path, recalc=True)
    with sheets["Facturas"].open(encoding="utf-8") as fh:
        rows = list(csv.reader(fh))[1:]
    assert len(rows) >= N
    errors = [(i, v) for i, r in enumerate(rows, start=2) for v in r
              if v.startswith(("#", "Err:")) and not v.startswith("#¡")]
    assert errors == []
    assert {tuple(r[7:12]) for r in rows} == {("",) * 5}  # recalculated without Python
