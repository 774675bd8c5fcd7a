"""Parse a workbook's input sheets in two threads, starting before the program imports.

`cobranza sync BOOK` spends ~0.5 s importing pandas, numpy and the project before it can
read anything; calamine parses a sheet's XML without holding the GIL, so a worker thread
starts on the largest sheets meanwhile (`start`, from `sync.launch`), and the reader's
own thread joins in once it gets there (`Parsing.rows`): each sheet is parsed once, by
whichever thread claims it first, largest first. The reader takes a started parsing
(`take`) only when it reads the very file it was started on, unchanged since (device,
inode, size and modification time); otherwise it starts its own. This module imports
nothing heavy.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from cobranza.book.text import match_names

BIG_SHEET = "Facturas"
# Largest first on a typical book (the input sheets of `cobranza.book.validate.SHEETS`):
# the worker thread starts on these while the reader still needs the small ones.
PARSE_ORDER = (BIG_SHEET, "Pagos", "Gestiones", "Clientes", "Convenios", "Plantillas",
               "Configuración")

Rows = list[list]


class Parsing:
    """The input sheets of one workbook file, each parsed once by whichever thread claims
    it first: a worker thread with its own calamine handle, and the reader."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.stamp = _stamp(path)
        self._changed = threading.Condition()
        self._todo: list[str] | None = None  # workbook sheet names, None until known
        self._claimed: set[str] = set()
        self._parsed: dict[str, Rows | None] = {}  # None: failed, the reader parses again
        self._stopped = False
        self._worker = threading.Thread(target=self._work, name="parsing", daemon=True)

    @classmethod
    def start(cls, path: Path) -> Parsing:
        parsing = cls(path)
        parsing._worker.start()
        return parsing

    def _plan(self, sheet_names: list[str]) -> None:
        """Queue the workbook's input sheets, largest first (the worker, once open)."""
        with self._changed:
            if self._todo is None:
                self._todo = list(match_names(sheet_names, PARSE_ORDER).values())
                self._changed.notify_all()

    def rows(self, sheet: str, parse: Callable[[str], Rows]) -> Rows:
        """`sheet`'s rows: the worker's, or parsed here with `parse`; while the worker is
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

    def _store(self, sheet: str, rows: Rows | None) -> None:
        with self._changed:
            self._parsed[sheet] = rows
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
            import python_calamine

            book = python_calamine.CalamineWorkbook.from_path(str(self.path))
        except BaseException:  # noqa: BLE001 - a head start only: the reader reads and reports
            self._plan([])
            return
        try:
            self._plan(book.sheet_names)
            while (sheet := self._claim_next()) is not None:
                self._store(sheet, _parsed(book, sheet))
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


def _parsed(book: object, sheet: str) -> Rows | None:
    try:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except BaseException:  # noqa: BLE001 - even a panic: the reader parses it again
        return None


_pending: Parsing | None = None
_lock = threading.Lock()


def start(path: str | os.PathLike) -> None:
    """Start parsing the input sheets of the workbook at `path` in a worker thread (a
    head start: nothing happens when it is not a readable file)."""
    global _pending
    target = Path(path).resolve()
    if not target.is_file():
        return
    with _lock:
        _pending = Parsing.start(target)


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
