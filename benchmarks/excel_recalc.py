"""What one Excel recalculation costs in Python, read from a workbook's XML.

    python -m benchmarks.excel_recalc [N ...]      (default: 2000 100000)

For each N it builds (or takes from the cache) the benchmark workbook of N invoices and
prints: the cells that call a Python UDF (every call is one trip VBA -> Python), whether
the workbook forces a full recalculation on load, whether the named cell `FechaCorte`
exists, and the seconds the UDF core of the one CALCULO_FACTURAS call takes for the
whole Facturas table (the Python side of one recalculation, the Book already read).
"""

from __future__ import annotations

import re
import sys
import time
import zipfile
from pathlib import Path

from addin import udfs
from addin.template import layout

_UDF_CALL = re.compile(r"\b(?:" + "|".join(sorted(udfs.CORES)) + r")\(")
_CELL_FORMULA = re.compile(r"<c [^>]*>\s*<f[^>]*>([^<]*)</f>")


def udf_cells(path: Path) -> int:
    """How many cells of the workbook have a formula that calls one of our UDFs."""
    with zipfile.ZipFile(path) as zf:
        sheets = [n for n in zf.namelist() if n.startswith("xl/worksheets/sheet")]
        return sum(
            1 for name in sheets
            for formula in _CELL_FORMULA.findall(zf.read(name).decode("utf-8"))
            if _UDF_CALL.search(formula)
        )


def _workbook_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read("xl/workbook.xml").decode("utf-8")


def full_calc_on_load(path: Path) -> bool:
    """True when workbook.xml's calcPr forces a full recalculation when Excel opens it."""
    calc = re.search(r"<calcPr\b[^>]*>", _workbook_xml(path))
    return bool(calc) and re.search(r'fullCalcOnLoad="(1|true)"', calc.group(0)) is not None


def cutoff_name(path: Path) -> str | None:
    """What the defined name FechaCorte refers to, or None."""
    found = re.search(f'<definedName name="{layout.CUTOFF_NAME}"[^>]*>([^<]*)</definedName>',
                      _workbook_xml(path))
    return found.group(1) if found else None


def core_seconds(path: Path) -> tuple[int, float]:
    """(invoices, seconds) of CALCULO_FACTURAS' core over the whole Facturas table."""
    from benchmarks.generate import AS_OF
    from sync.xlsx.reader import read_book, read_raw

    book = read_book(path)
    facturas = read_raw(path)["Facturas"]
    column = lambda name: [[v] for v in facturas[name].tolist()]  # noqa: E731
    values = (column("Factura"), column("Vencimiento"))
    udfs.clear_cache()
    start = time.perf_counter()
    out = udfs.CORES["CALCULO_FACTURAS"](values, book, AS_OF, sent=frozenset())
    return len(out), time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    from benchmarks.generate import cached_workbook

    sizes = [int(a) for a in (sys.argv[1:] if argv is None else argv)] or [2000, 100_000]
    for n in sizes:
        path = cached_workbook(n)
        rows, seconds = core_seconds(path)
        print(f"{n:>7} facturas: {udf_cells(path)} celdas con UDF, "
              f"fullCalcOnLoad={full_calc_on_load(path)}, FechaCorte={cutoff_name(path)}, "
              f"núcleo de CALCULO_FACTURAS {seconds:.2f} s ({rows} filas)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
