"""A small run of the benchmark (N = 2 000) keeps it working. No timing assertions."""

from __future__ import annotations

import importlib.util
import zipfile
from pathlib import Path

import openpyxl
import pytest

from addin import build_template
from benchmarks import generate, run, scaling
from sync.xlsx.reader import read_raw

N = 2000


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


@pytest.fixture(scope="module")
def book(cache: Path) -> Path:
    return generate.cached_workbook(N, directory=cache)


def test_generated_sizes_and_every_resultado(book: Path) -> None:
    raw = read_raw(book)
    assert len(raw["Facturas"]) == N
    assert len(raw["Clientes"]) == N // 20
    assert len(raw["Pagos"]) == N // 2
    assert len(raw["Gestiones"]) == N // 10
    results = set(raw["Gestiones"]["Resultado"])
    assert {"Promesa de pago", "Disputa", "Asignar a tercero", "Castigo",
            "Pago recibido", "Disputa resuelta"} <= results


def test_fast_writer_equals_the_template_builder(book: Path, tmp_path: Path) -> None:
    """The streamed sheets read back exactly as the template builder would write them."""
    tables = {**generate.make_rows(N), build_template.CUTOFF_KEY: generate.AS_OF}
    slow = build_template.build(tmp_path / "slow.xlsm", tables)
    generate.give_id(slow, N)
    fast, ref = read_raw(book), read_raw(slow)
    assert fast.keys() == ref.keys()
    for sheet in fast:
        assert fast[sheet].equals(ref[sheet]), sheet


def test_runner_end_to_end_keeps_vba_ribbon_and_other_parts(
    cache: Path, book: Path, tmp_path: Path, capsys
) -> None:
    assert run.main(["--sizes", str(N), "--repeat", "1", "--udf-n", str(N),
                     "--cache", str(cache), "--json", str(tmp_path / "r.json")]) == 0
    out = capsys.readouterr().out
    assert "| N | file MB | floor s | sync s |" in out
    assert "| 2 000 |" in out and "| DIAS_VENCIDOS |" in out
    assert "Preservation problems" not in out

    synced, problems = run.check_synced_copy(book, tmp_path)
    assert problems == []
    with zipfile.ZipFile(synced) as z:
        names = set(z.namelist())
    assert {"xl/vbaProject.bin", build_template.UI_PART} <= names
    wb = openpyxl.load_workbook(synced, keep_vba=True)
    assert wb.vba_archive is not None
    assert {"Facturas", "Alertas", "Tablero", "Envíos", "Errores"} <= set(wb.sheetnames)
    assert wb["Facturas"].max_row == N + 1


def test_scaling_prints_every_primitive_with_its_ratio(cache: Path, book: Path, capsys) -> None:
    scaling.main(["--small", str(N), "--large", str(2 * N), "--repeat", "1",
                  "--cache", str(cache)])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in lines[2:] if line.startswith("|")}
    assert set(rows) == {"floor: pandas calamine, input sheets", "floor, cyclic GC off",
                         "calamine: parse Facturas XML", "calamine: Facturas cells to Python",
                         "calamine: cells to Python, cyclic GC off",
                         "pandas.factorize of N invoice ids", "numpy argsort of N invoice ids"}
    for line in rows.values():
        small, large, ratio = (float(x) for x in line.strip("| ").split(" | ")[1:])
        assert ratio > 0
        if small >= 0.01:  # printed seconds are rounded to 1 ms
            assert ratio == pytest.approx(large / small, abs=0.0006 * (1 + ratio) / small)
    assert lines[-1] == "(linear = 2.00)"


def test_project_compiled_before_timing_as_pip_install_does() -> None:
    """The timed children import the checkout's modules: their bytecode is there and
    current even where Python does not write it (PYTHONDONTWRITEBYTECODE=1)."""
    source = Path(run.__file__).resolve().parent.parent / "sync" / "cycle.py"
    cached = Path(importlib.util.cache_from_source(str(source)))
    cached.unlink(missing_ok=True)
    run.compile_project()
    header = cached.read_bytes()[:16]
    assert int.from_bytes(header[8:12], "little") == int(source.stat().st_mtime)
    assert int.from_bytes(header[12:16], "little") == source.stat().st_size
