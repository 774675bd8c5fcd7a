"""One Excel recalculation costs a constant number of Python calls (read from the XML).

The count of UDF-calling cells must not grow with the invoices: the template, `init`,
`init --demo` and a 20 000-invoice benchmark workbook all hold the same one call
(`benchmarks/excel_recalc.py` prints it for 100 000). No UDF is volatile, no file forces
a full recalculation on load, and the cut-off date is the named cell FechaCorte.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl
import pytest

from addin.build_template import DEFAULT_OUT
from benchmarks.excel_recalc import cutoff_name, full_calc_on_load, udf_cells
from benchmarks.generate import build_workbook
from sync.workbook.init import create_workbook

VBA = Path(__file__).resolve().parents[1] / "addin" / "vba"
AS_OF = date(2026, 11, 25)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("recalc")
    return {
        "template": DEFAULT_OUT,
        "init": create_workbook(tmp / "vacio.xlsm"),
        "demo": create_workbook(tmp / "demo.xlsm", demo=True, as_of=AS_OF),
        "bench": build_workbook(20_000, tmp / "bench.xlsm", as_of=AS_OF),
    }


def test_udf_calls_do_not_grow_with_the_invoices(files):
    counts = {name: udf_cells(path) for name, path in files.items()}
    assert counts == {"template": 1, "init": 1, "demo": 1, "bench": 1}


def test_no_file_forces_a_full_recalculation_on_load(files):
    assert {name: full_calc_on_load(path) for name, path in files.items()} == dict.fromkeys(
        files, False)


def test_fechacorte_is_the_named_cutoff_cell_on_configuracion(files):
    assert {name: cutoff_name(path) for name, path in files.items()} == dict.fromkeys(
        files, "'Configuración'!$R$2")
    demo = openpyxl.load_workbook(files["demo"], read_only=True)
    ws = demo["Configuración"]
    assert ws["R1"].value == "Fecha de corte"
    assert ws["R2"].value.date() == AS_OF  # the demo's date; the add-in sets today on open
    template = openpyxl.load_workbook(files["template"], read_only=True)
    assert template["Configuración"]["R2"].value is None  # blank = today, in the UDF


def test_no_udf_is_volatile_and_the_workbook_open_sets_fechacorte_to_today():
    wrappers = (VBA / "Funciones.bas").read_text(encoding="utf-8")
    assert "Application.Volatile" not in wrappers
    source = (Path(__file__).resolve().parents[1] / "addin" / "udfs.py").read_text("utf-8")
    assert "volatile=True" not in source and source.count("volatile=False") == 7
    inicio = (VBA / "Inicio.bas").read_text(encoding="utf-8")
    assert 'ThisWorkbook.Names("FechaCorte").RefersToRange.Value = Date' in inicio
    assert "Sub Auto_Open()" in inicio
