"""`cobranza sync BOOK` parses Facturas while the program imports (issue 18): the reader
takes those rows only from the very file it reads, unchanged since."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sync.launch import sync_book
from sync.workbook.init import create_workbook
from sync.xlsx import prefetch
from sync.xlsx.reader import read_book
from tests.workbook_edit import append_rows


def _book(path: Path, invoices: list[str]) -> Path:
    create_workbook(path)
    append_rows(path, {
        "Clientes": [{"Cliente": "C1", "Nombre": "Ferretería López", "Email": "a@b.mx"}],
        "Facturas": [{"Factura": f, "Cliente": "C1", "Emisión": "2026-11-01",
                      "Vencimiento": "2026-11-30", "Importe": 100.0} for f in invoices],
    })
    return path


@pytest.fixture(autouse=True)
def _nothing_pending():
    yield
    prefetch.take("/", "")  # a test that did not read leaves nothing for the next


def test_the_prefetched_rows_are_the_facturas_the_reader_reads(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1", "F-2"])
    prefetch.start(book)
    taken = read_book(book)
    assert list(taken.invoices["invoice"]) == ["F-1", "F-2"]
    assert prefetch.take(book, "Facturas") is None  # taken once
    again = read_book(book)  # no prefetch: read as always
    assert taken.invoices.equals(again.invoices)


def test_a_workbook_saved_again_meanwhile_is_read_again(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1", "F-2"])
    newer = _book(tmp_path / "nuevo.xlsm", ["F-9"])
    prefetch.start(book)
    prefetch._pending.thread.join()  # parsed before the user saves
    shutil.copyfile(newer, tmp_path / "tmp.xlsm")
    os.replace(tmp_path / "tmp.xlsm", book)  # Excel saves through a new file
    assert list(read_book(book).invoices["invoice"]) == ["F-9"]


def test_another_workbook_is_not_given_the_prefetched_rows(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1"])
    other = _book(tmp_path / "otro.xlsm", ["F-7"])
    prefetch.start(book)
    assert list(read_book(other).invoices["invoice"]) == ["F-7"]


def test_only_a_sync_of_one_existing_workbook_is_prefetched(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1"])
    assert sync_book(["sync", str(book), "--dry-run", "--ledger", "l.sqlite"]) == book
    assert sync_book(["sync", "--as-of", "2026-12-01T10:00", str(book)]) == book
    assert sync_book(["run", str(book)]) is None
    assert sync_book(["sync", str(tmp_path / "no-existe.xlsm")]) is None
    assert sync_book(["sync", str(book), str(book)]) is None
    assert sync_book([]) is None


@pytest.mark.parametrize(("argv", "enabled"), [
    (["sync", "libro.xlsm", "--dry-run"], False), (["run", "libro.xlsm"], True),
    (["init", "--demo", "libro.xlsm"], True)])
def test_a_one_shot_sync_runs_without_the_cyclic_gc(argv, enabled) -> None:
    """Each phase pauses the GC; a `cobranza sync` process leaves it off between them."""
    code = f"import gc; from sync.launch import prepare; prepare({argv!r}); print(gc.isenabled())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=Path(__file__).resolve().parents[1])
    assert done.stdout.strip() == str(enabled)
