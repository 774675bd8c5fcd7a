"""Parse a workbook's input sheets in two threads, starting before the program imports.

`cobranza sync BOOK` spends ~0.5 s importing pandas, numpy and the project before it can
read anything; calamine parses a sheet's XML without holding the GIL, so a worker thread
starts on the largest sheets meanwhile (`start`, from `sync.launch`), and the reader's
own thread joins in once it gets there (`Parsing.rows`): each sheet is parsed once, by
whichever thread claims it first, largest first. The reader takes a started parsing
(`take`) only when it reads the very file it was started on, unchanged since (device,
inode, size and modification time); otherwise it starts its own. This module imports
nothing heavy.

Of the sheets a sync validates, only the cells of the columns it reads become Python
objects (`sheet_cells`): the Facturas formula columns alone (the add-in's balance, days
overdue, status...) are five million objects at 1 000 000 invoices that nobody reads.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path
from typing import Any

from cobranza.book.columns import READ_COLUMNS
from cobranza.book.text import header_positions, match_names, normalize

BIG_SHEET = "Facturas"
# Largest first on a typical book (the input sheets of `cobranza.book.validate.SHEETS`):
# the worker thread starts on these while the reader still needs the small ones.
PARSE_ORDER = (BIG_SHEET, "Pagos", "Gestiones", "Clientes", "Convenios", "Plantillas",
               "Configuración")


@dataclass(frozen=True)
class Cells:
    """One parsed sheet: its row 1 (the headers) whole, and of every later row the cells
    of the columns at positions `read` only, in that order (every cell when `read` is
    None). Empty rows stay, so a row's position still gives its Excel row number."""

    headers: list
    rows: list  # per row a list (every cell) or a tuple (the `read` cells)
    read: list[int] | None = None


def sheet_cells(sheet: Any, name: str, only_read: bool) -> Cells:
    """The cells of a parsed calamine `sheet` (the workbook's sheet `name`) as Python
    objects; with `only_read`, of the columns the sync reads only (`read_columns`)."""
    if only_read and sheet.start == (0, 0):  # iter_rows starts at the first used cell
        rows = sheet.iter_rows()  # one row's objects at a time: the others never pile up
        headers = next(rows, None)
        if headers is not None:
            return _cells(headers, rows, name)
    return grid_cells(sheet.to_python(skip_empty_area=False), name, only_read)


def grid_cells(grid: list[list], name: str, only_read: bool) -> Cells:
    """The same from a sheet's whole cell grid (A1 first)."""
    if not grid:
        return Cells([], [])
    if not only_read:
        return Cells(grid[0], grid[1:])
    return _cells(grid[0], iter(grid[1:]), name)


def _cells(headers: list, rows: Iterator[list], name: str) -> Cells:
    read = read_columns(name, headers)
    if read is None:
        return Cells(headers, list(rows))
    return Cells(headers, list(map(_picker(read), rows)), read)


def read_columns(sheet: str, headers: list) -> list[int] | None:
    """Positions of the columns the sync reads of the input `sheet` with these row-1
    `headers`: the first column of each header of `READ_COLUMNS`, matched as the
    validation matches them; None for a sheet read whole (Configuración)."""
    spec = _READ_BY_KEY.get(normalize(sheet))
    if spec is None:
        return None
    first = header_positions(headers)
    return sorted(first[key] for key in spec if key in first)


def _picker(read: list[int]) -> Callable[[list], tuple]:
    if len(read) > 1:
        return itemgetter(*read)  # in C; one column's itemgetter gives the cell, not a tuple
    return lambda row: tuple(row[i] for i in read)


_READ_BY_KEY = {normalize(sheet): [key.rstrip("*") for key in spec]
                for sheet, spec in READ_COLUMNS.items()}


class Parsing:
    """The input sheets of one workbook file, each parsed once by whichever thread claims
    it first: a worker thread with its own calamine handle, and the reader."""

    def __init__(self, path: Path, only_read: bool) -> None:
        self.path = path
        self.only_read = only_read  # see sheet_cells
        self.stamp = _stamp(path)
        self._changed = threading.Condition()
        self._todo: list[str] | None = None  # workbook sheet names, None until known
        self._claimed: set[str] = set()
        self._parsed: dict[str, Cells | None] = {}  # None: failed, the reader parses again
        self._stopped = False
        self._worker = threading.Thread(target=self._work, name="parsing", daemon=True)

    @classmethod
    def start(cls, path: Path, only_read: bool) -> Parsing:
        parsing = cls(path, only_read)
        parsing._worker.start()
        return parsing

    def _plan(self, sheet_names: list[str]) -> None:
        """Queue the workbook's input sheets, largest first (the worker, once open)."""
        with self._changed:
            if self._todo is None:
                self._todo = list(match_names(sheet_names, PARSE_ORDER).values())
                self._changed.notify_all()

    def cells(self, sheet: str, parse: Callable[[str], Cells]) -> Cells:
        """`sheet`'s cells: the worker's, or parsed here with `parse`; while the worker is
        on it, this thread parses the next sheet of the queue instead of waiting."""
        while True:
            with self._changed:
                if sheet in self._parsed:
                    done = self._parsed.pop(sheet)
                    if done is not None:
                        return done
                    here = sheet  # the worker failed: parse (and report) it here
                elif sheet not in self._claimed:
                    self._claimed.add(sheet)
                    here = sheet
                elif (here := self._next()) is None:
                    self._changed.wait()
                    continue
            if here == sheet:
                return parse(sheet)
            self._store(here, parse(here))  # the reader asks for it later

    def _store(self, sheet: str, cells: Cells | None) -> None:
        with self._changed:
            self._parsed[sheet] = cells
            self._changed.notify_all()

    def _next(self) -> str | None:
        """(Locked.) Claim the first sheet of the queue nobody has claimed."""
        for sheet in () if self._stopped else self._todo or ():
            if sheet not in self._claimed:
                self._claimed.add(sheet)
                return sheet
        return None

    def _work(self) -> None:
        try:
            from sync.xlsx.calamine_open import open_workbook

            book = open_workbook(self.path, PARSE_ORDER)
        except BaseException:  # noqa: BLE001 - a head start only: the reader reads and reports
            self._plan([])
            return
        try:
            self._plan(book.sheet_names)
            while (sheet := self._claim_next()) is not None:
                self._store(sheet, _parsed(book, sheet, self.only_read))
        finally:
            book.close()

    def _claim_next(self) -> str | None:
        with self._changed:
            return self._next()

    def stop(self) -> None:
        """Let the worker finish the sheet it is on, and no other (its file handle closed)."""
        with self._changed:
            self._stopped = True
        self._worker.join()


def _parsed(book: Any, sheet: str, only_read: bool) -> Cells | None:
    try:
        return sheet_cells(book.get_sheet_by_name(sheet), sheet, only_read)
    except BaseException:  # noqa: BLE001 - even a panic: the reader parses it again
        return None


_pending: Parsing | None = None
_lock = threading.Lock()


def start(path: str | os.PathLike) -> None:
    """Start parsing the input sheets of the workbook at `path` in a worker thread, for
    `sync.xlsx.reader.read_book` (a head start: nothing happens when it is not a readable
    file)."""
    global _pending
    target = Path(path).resolve()
    if not target.is_file():
        return
    with _lock:
        _pending = Parsing.start(target, only_read=True)


def take(path: str | os.PathLike) -> Parsing | None:
    """The parsing started on the workbook at `path`, once, when that file is still as it
    was then; else None (the reader starts its own)."""
    global _pending
    with _lock:
        found, _pending = _pending, None
    if found is None:
        return None
    if found.path != Path(path).resolve() or _stamp(found.path) != found.stamp:
        found.stop()
        return None
    return found


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
