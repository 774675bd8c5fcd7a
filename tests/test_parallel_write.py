"""On big writes the largest output sheet is rendered by a forked child (issue 18): the
file is the very one a write in one process gives, and a child that fails, or a system
without fork, costs only time."""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest

from cobranza.layout.sheets import Cell, Sheet, Table
from sync import forked
from sync.xlsx import writer
from sync.xlsx.writer import write_outputs
from tests import rich_book

NOW = datetime(2026, 11, 25, 9, 30, 0)
ONE_PROCESS = 10**12  # PARALLEL_CELLS no write reaches


def cartera(rows: int = 400) -> Sheet:
    """A big table with every kind of cell: accented text, money, dates, blanks."""
    data = [(f"F-{i:05d}", f"Ferretería Núñez {i % 7}", 1250.5 + i, date(2026, 1 + i % 12, 1),
             None if i % 5 else "Disputa", i % 90) for i in range(rows)]
    table = Table("tblCartera", ("Factura", "Cliente", "Saldo", "Vencimiento", "Estado", "Días"),
                  data, row=4, formats={"Saldo": "money", "Días": "int",
                                        "Vencimiento": "date"})
    return Sheet("Cartera", cells=[Cell(1, 1, "Cartera al corte", "title"),
                                   Cell(2, 1, 0.42, "value", "percent")],
                 tables=[table], freeze_row=5)


def sheets() -> list[Sheet]:
    return [rich_book.alertas(4), rich_book.tablero(), cartera(),
            Sheet("Errores", cells=[Cell(1, 1, "Errores", "title")])]


def written(path: Path, monkeypatch, cells: int, outputs: list[Sheet] | None = None
            ) -> dict[str, bytes]:
    """Every member of the workbook after writing `outputs` with PARALLEL_CELLS=`cells`."""
    monkeypatch.setattr(writer, "PARALLEL_CELLS", cells)
    write_outputs(path, outputs or sheets(), now=NOW)
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.fixture
def books(tmp_path) -> tuple[Path, Path]:
    """Two copies of one rich workbook (its own timestamps alike)."""
    one = rich_book.build(tmp_path / "uno.xlsm")
    return one, Path(shutil.copyfile(one, tmp_path / "dos.xlsm"))


@pytest.fixture
def spied(monkeypatch) -> list[set[str]]:
    """The sheets each forked child handed back rendered."""
    seen: list[set[str]] = []
    result = forked.Forked.result

    def spy(self):
        done = result(self)
        seen.append(set(done or {}))
        return done

    monkeypatch.setattr(forked.Forked, "result", spy)
    return seen


def test_a_write_in_two_processes_gives_the_very_file_of_one(books, monkeypatch, spied):
    one = written(books[0], monkeypatch, ONE_PROCESS)
    assert spied == []
    book = books[1]
    two = written(book, monkeypatch, 0)
    assert spied == [{"Cartera"}]  # the largest sheet, rendered by the child
    assert two == one  # every member, styles and the sheet the old Alertas part held
    again = written(book, monkeypatch, 0)  # the same outputs: nothing rewritten
    assert again == two
    assert write_outputs(book, sheets(), now=NOW).changed == ()


def test_a_child_that_fails_leaves_its_sheet_to_the_parent(books, monkeypatch, spied):
    one = written(books[0], monkeypatch, ONE_PROCESS)
    start = forked.start
    monkeypatch.setattr(forked, "start", lambda work: start(lambda: os._exit(3)))
    two = written(books[1], monkeypatch, 0)
    assert spied == [set()]
    assert two == one


def test_without_fork_the_write_runs_in_one_process(books, monkeypatch, spied):
    one = written(books[0], monkeypatch, ONE_PROCESS)
    monkeypatch.delattr(os, "fork")  # Windows
    two = written(books[1], monkeypatch, 0)
    assert spied == []
    assert two == one


def test_a_forked_child_hands_back_its_result() -> None:
    child = forked.start(lambda: {"Cartera": [b"<row/>" * 100_000]})
    assert child is not None
    assert child.result() == {"Cartera": [b"<row/>" * 100_000]}  # more than a pipe holds
    child.close()


def test_a_child_that_raises_gives_no_result() -> None:
    child = forked.start(lambda: 1 / 0)
    assert child is not None and child.result() is None
    child.close()


def test_closing_stops_a_running_child_and_reaps_it() -> None:
    child = forked.start(lambda: time.sleep(60))
    assert child is not None and not child.done()
    child.close()
    assert child.done()
    with pytest.raises(ChildProcessError):  # no zombie left behind
        os.waitpid(child.pid, 0)
