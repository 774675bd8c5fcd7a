"""`cobranza sync BOOK` starts parsing the input sheets while the program imports, and the
reader's thread joins in (issue 18): each sheet parsed once, by one of the two threads; the
reader takes a started parsing only for the very file it reads, unchanged since."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cobranza.book.validate import SHEETS
from sync.launch import sync_book
from sync.workbook.init import create_workbook
from sync.xlsx import prefetch, reader
from sync.xlsx.reader import read_book
from tests.workbook_edit import append_rows


def _book(path: Path, invoices: list[str]) -> Path:
    create_workbook(path)
    append_rows(path, {
        "Clientes": [{"Cliente": "C1", "Nombre": "Ferretería López", "Email": "a@b.mx"}],
        "Facturas": [{"Factura": f, "Cliente": "C1", "Emisión": "2026-11-01",
                      "Vencimiento": "2026-11-30", "Importe": 100.0} for f in invoices],
        "Pagos": [{"Fecha": "2026-11-20", "Factura": invoices[0], "Importe": 40.0}],
    })
    return path


@pytest.fixture
def parses(monkeypatch) -> list[tuple[str, str]]:
    """(thread, sheet) of every parse, by the worker and by the reader's thread."""
    seen: list[tuple[str, str]] = []
    worker, here = prefetch._parsed, reader._cells

    def in_worker(book, sheet, only_read):
        seen.append(("worker", sheet))
        return worker(book, sheet, only_read)

    def in_reader(book, sheet, path, only_read):
        seen.append(("reader", sheet))
        return here(book, sheet, path, only_read)

    monkeypatch.setattr(prefetch, "_parsed", in_worker)
    monkeypatch.setattr(reader, "_cells", in_reader)
    return seen


@pytest.fixture(autouse=True)
def _nothing_pending():
    yield
    prefetch.take("/")  # a test that did not read leaves nothing for the next


def test_the_prefetched_rows_are_the_facturas_the_reader_reads(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1", "F-2"])
    prefetch.start(book)
    taken = read_book(book)
    assert list(taken.invoices["invoice"]) == ["F-1", "F-2"]
    assert prefetch.take(book) is None  # taken once
    again = read_book(book)  # no prefetch: read as always
    assert taken.invoices.equals(again.invoices)


def test_every_input_sheet_is_parsed_once_by_one_of_the_two_threads(tmp_path, parses) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1", "F-2"])
    prefetch.start(book)
    prefetch._pending._worker.join()  # the head start parsed everything: the reader takes it
    read = read_book(book)
    assert sorted(sheet for _, sheet in parses) == sorted(SHEETS)
    assert {thread for thread, _ in parses} == {"worker"}
    assert list(read.payments["amount"]) == [4000]  # centavos
    parses.clear()
    again = read_book(book)  # no head start: the reader's own worker and its thread share
    assert sorted(sheet for _, sheet in parses) == sorted(SHEETS)
    assert again.invoices.equals(read.invoices) and again.payments.equals(read.payments)


def test_a_sheet_the_worker_failed_on_is_parsed_again_by_the_reader(tmp_path, parses,
                                                                  monkeypatch) -> None:
    """The worker's failure is only a lost head start: the reader parses the sheet with
    its own error handling (`reader._cells`: a damaged sheet, a busy file)."""
    book = _book(tmp_path / "libro.xlsm", ["F-1"])
    worker = prefetch._parsed
    monkeypatch.setattr(prefetch, "_parsed",
                        lambda b, sheet, only: None if sheet == "Pagos" else worker(b, sheet, only))
    prefetch.start(book)
    prefetch._pending._worker.join()
    assert list(read_book(book).payments["amount"]) == [4000]  # centavos
    assert ("reader", "Pagos") in parses


def test_the_worker_queue_names_every_input_sheet() -> None:
    assert sorted(prefetch.PARSE_ORDER) == sorted(SHEETS)
    assert prefetch.PARSE_ORDER[0] == prefetch.BIG_SHEET


def test_a_workbook_saved_again_meanwhile_is_read_again(tmp_path) -> None:
    book = _book(tmp_path / "libro.xlsm", ["F-1", "F-2"])
    newer = _book(tmp_path / "nuevo.xlsm", ["F-9"])
    prefetch.start(book)
    prefetch._pending._worker.join()  # parsed before the user saves
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
