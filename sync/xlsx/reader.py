"""Read the workbook's input sheets with python-calamine and validate them into a Book.

python-calamine hands back one Python object per cell, the fastest direct path measured
(PERF_NOTES.md); everything after that is whole-column pandas in `cobranza.book.validate`.
Only the input sheets are parsed. calamine releases the GIL while it parses a sheet's
XML, so a worker thread with its own handle on the file parses the largest sheets while
this thread parses the others and validates each as soon as it has it
(`sync.xlsx.prefetch`): on two cores most of the parsing comes free.
A sheet calamine fails on (one absurd date serial can crash its native code) is read
once more by `sync.xlsx.reread`, so one cell never costs the whole workbook.
`read_book` turns into Python objects only the cells of the columns the sync reads
(`sync.xlsx.prefetch.sheet_cells`); the others come back blank.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from itertools import chain, repeat
from operator import ne
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine

from cobranza.book.records import Book
from cobranza.book.text import match_names
from cobranza.book.validate import CONFIG_SHEET, SHEETS, Validation, structure_problems
from sync.errors import NEVER_SWALLOWED, WorkbookBusy, WorkbookError
from sync.memory import gc_paused
from sync.xlsx import prefetch
from sync.xlsx.calamine_open import open_workbook

try:  # pandas' C helper (private): 3x faster than the list-of-lists path
    from pandas._libs.lib import to_object_array as _object_grid
except ImportError:  # pragma: no cover - a pandas that moved it: same result, slower
    def _object_grid(rows: list[list], width: int) -> np.ndarray:
        grid = np.empty((len(rows), width), dtype=object)
        grid[:] = rows
        return grid

log = logging.getLogger("cobranza")

_TEMPLATE_HINT = "Agréguela o use la plantilla (cobranza init)."
_BIG_SHEET = prefetch.BIG_SHEET  # parsed first by the worker, validated last


def read_book(path: Path, meanwhile: Callable[[Validation], None] | None = None) -> Book:
    """Read and validate the workbook at `path`.

    Raises WorkbookError when the run cannot happen at all and WorkbookBusy when the file
    is being written (retry on the next cycle). Bad cells are `Book.errors`. Each sheet
    is validated as soon as it is parsed, while the worker thread parses the next.
    `meanwhile` is called once every other sheet is validated, before Facturas: on a big
    book the worker thread is still parsing it then, and this thread has time for work
    that needs only Configuración and the small sheets.
    """
    name = Path(path).name
    # GC paused: a million new cells, no cycles
    with gc_paused(), _reading(path, only_read=True) as sheets:
        raw = {CONFIG_SHEET: sheets.frame(CONFIG_SHEET)} if CONFIG_SHEET in sheets.found else {}
        validation = Validation(raw.get(CONFIG_SHEET))
        for sheet in sheets.found:
            if sheet not in (CONFIG_SHEET, _BIG_SHEET):
                raw[sheet] = sheets.frame(sheet)
                validation.add(sheet, raw[sheet])
        if meanwhile is not None:
            meanwhile(validation)
        if _BIG_SHEET in sheets.found:
            raw[_BIG_SHEET] = sheets.frame(_BIG_SHEET)
        problems = structure_problems(raw)
        if problems:
            raise WorkbookError(_structure_message(name, *problems[0]))
        validation.add(_BIG_SHEET, raw[_BIG_SHEET])  # present: checked just above
        return validation.book()


def read_raw(path: Path) -> dict[str, pd.DataFrame]:
    """Input sheets present in the workbook -> frames of raw cell objects.

    Keys are the canonical sheet names (`cobranza.book.validate.SHEETS`), matched ignoring
    case, accents and spaces. Columns are the row-1 headers as written ("" for a blank
    header; duplicates kept) plus a last column `row`, the Excel row number. Fully empty
    rows are skipped.
    """
    with _reading(path, only_read=False) as sheets:
        return {s: sheets.frame(s) for s in SHEETS if s in sheets.found}


class _Sheets:
    """The input sheets of one open workbook, parsed by this thread and a worker."""

    def __init__(self, path: Path, book: python_calamine.CalamineWorkbook,
                 parsing: prefetch.Parsing) -> None:
        self.path, self.book, self.parsing = path, book, parsing
        # canonical input sheet -> the workbook's sheet of that name
        self.found = input_sheets(book.sheet_names)

    def frame(self, sheet: str) -> pd.DataFrame:
        """The raw frame of the canonical input `sheet` (one of `found`)."""
        return frame_from_cells(self.parsing.cells(self.found[sheet], self._parse))

    def _parse(self, sheet: str) -> prefetch.Cells:
        return _cells(self.book, sheet, self.path, self.parsing.only_read)


@contextmanager
def _reading(path: Path, only_read: bool) -> Iterator[_Sheets]:
    """The workbook's input sheets, parsed as asked for: a worker thread with its own
    handle on the file parses the largest ones meanwhile (the one `sync.launch` started
    on this very file before the imports, if any, for `read_book`). `only_read`: only
    the cells of the columns the sync reads (`prefetch.sheet_cells`)."""
    path = Path(path)
    book = _open(path)
    # taken after opening: the worker's file is then the one this handle reads
    started = prefetch.take(path) if only_read else None
    parsing = started or prefetch.Parsing.start(path, only_read)
    try:
        yield _Sheets(path, book, parsing)
    finally:
        parsing.stop()  # its own handle closed before the file may be replaced
        book.close()


def input_sheets(sheet_names: list[str]) -> dict[str, str]:
    """Canonical input sheet -> the workbook's sheet of that name (matched ignoring case,
    accents and spaces; the first match wins): the sheets a sync reads."""
    return match_names(sheet_names, SHEETS)


def _open(path: Path) -> python_calamine.CalamineWorkbook:
    name = path.name
    if not path.is_file():
        raise WorkbookError(f'No se encuentra el libro "{path}"; revise la ruta del archivo.')
    try:
        with path.open("rb") as fh:
            head = fh.read(4)
    except PermissionError:
        raise WorkbookBusy(
            f'El libro "{name}" está bloqueado por otro programa; '
            "se reintentará en el próximo ciclo."
        ) from None
    if not head.startswith(b"PK"):
        raise WorkbookError(_not_a_workbook(name))
    if not zipfile.is_zipfile(path):
        raise _busy(name)
    try:
        return open_workbook(path, SHEETS)
    except python_calamine.ZipError:
        raise _busy(name) from None
    except NEVER_SWALLOWED:
        raise
    except BaseException:  # noqa: BLE001 - calamine's errors (a panic too): not usable
        raise WorkbookError(_not_a_workbook(name)) from None


def _cells(book: python_calamine.CalamineWorkbook, sheet: str, path: Path,
           only_read: bool) -> prefetch.Cells:
    try:
        return prefetch.sheet_cells(book.get_sheet_by_name(sheet), sheet, only_read)
    except python_calamine.ZipError:
        raise _busy(path.name) from None
    except NEVER_SWALLOWED:
        raise
    except BaseException:  # noqa: BLE001 - even a panic in calamine's native code
        return prefetch.grid_cells(_reread(path, sheet), sheet, only_read)


def _reread(path: Path, sheet: str) -> list[list]:
    """The slower second reading of a sheet calamine failed on (`sync.xlsx.reread`)."""
    from sync.xlsx.reread import reread_sheet  # a damaged sheet only: rare

    try:
        rows = reread_sheet(path, sheet)
    except (python_calamine.ZipError, zipfile.BadZipFile, OSError):  # saved meanwhile
        raise _busy(path.name) from None
    except NEVER_SWALLOWED:
        raise
    except BaseException:  # noqa: BLE001 - still unreadable: damaged
        rows = None
    if rows is None:
        raise WorkbookError(
            f'La hoja "{sheet}" del libro "{path.name}" está dañada y no se puede leer; '
            "ábrala en Excel y guárdela de nuevo."
        ) from None
    # Names the cause of the library's own (English) panic note printed just before.
    log.warning('La hoja "%s" del libro "%s" tiene una celda con formato de fecha u hora '
                "y un número que no es una fecha; se leyó sin ese formato (vea la hoja "
                "Errores).", sheet, path.name)
    return rows


def frame_from_rows(rows: list[list], sheet: str = "", only_read: bool = False
                    ) -> pd.DataFrame:
    """A sheet's cell grid (row 1 = headers, "" for empty cells) as a raw frame: data rows
    keep their Excel row number in a last column `row`; empty rows are dropped. With
    `only_read`, the cells of the columns the sync does not read of the input `sheet` are
    "" (as `read_book` reads). Also used for the grid of a workbook open in Excel
    (`addin.book.ExcelBook`)."""
    return frame_from_cells(prefetch.grid_cells(rows, sheet, only_read))


def frame_from_cells(cells: prefetch.Cells) -> pd.DataFrame:
    """`frame_from_rows` of a parsed sheet; the cells of columns not `cells.read` are ""
    (the frame keeps every column: a row with input only there is not a record)."""
    if not cells.headers:
        return pd.DataFrame({"row": pd.Series([], dtype="int64")})
    width = len(cells.headers)
    headers = [_header(h) for h in cells.headers]
    data, read = cells.rows, cells.read
    # calamine gives "" for empty cells: an empty row equals this (a list, or a tuple of
    # the read cells), compared in C.
    empty = [""] * width if read is None else ("",) * len(read)
    keep = np.fromiter(map(ne, data, repeat(empty)), bool, len(data))
    if read is None:
        grid = _object_grid(data, width) if data else np.empty((0, width), dtype=object)
        frame = pd.DataFrame(grid if keep.all() else grid[keep], columns=range(width),
                             dtype=object, copy=False)
    else:
        frame = _read_frame(data, keep, width, read)
    frame.columns = headers
    rownums = np.flatnonzero(keep).astype("int64") + 2
    frame.insert(width, "row", rownums, allow_duplicates=True)  # a user "row" header stays
    return frame


def _read_frame(data: list[tuple], keep: np.ndarray, width: int, read: list[int]
                ) -> pd.DataFrame:
    """The rows `keep` of the tuples of read cells, a column each at its position `read`;
    the other columns all hold the one object "". The cells go into one block straight
    from the tuples, in C (pandas' to_object_array copies each row to a list first: 2.5x
    slower), and every column is a view of it: no full-width grid is filled and copied
    (0.3 s at 1 000 000 invoices)."""
    block = np.fromiter(chain.from_iterable(data), object, len(data) * len(read))
    block = block.reshape(len(data), len(read))
    if not keep.all():
        block = block[keep]
    unread = np.full(len(block), "", dtype=object)
    columns = dict.fromkeys(range(width), unread)
    columns.update((pos, block[:, i]) for i, pos in enumerate(read))
    # copy=False keeps the columns as they are; dtype=object: no text inferred
    return pd.DataFrame(columns, dtype=object, copy=False)


def _header(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _busy(name: str) -> WorkbookBusy:
    return WorkbookBusy(
        f'El libro "{name}" está incompleto (probablemente se está guardando); '
        "se reintentará en el próximo ciclo."
    )


def _not_a_workbook(name: str) -> str:
    return f'El archivo "{name}" no es un libro de Excel (.xlsx o .xlsm); revise la ruta.'


def _structure_message(name: str, sheet: str, header: str | None) -> str:
    if header is None:
        return f'El libro "{name}" no tiene la hoja "{sheet}". {_TEMPLATE_HINT}'
    return f'La hoja "{sheet}" del libro "{name}" no tiene la columna "{header}". {_TEMPLATE_HINT}'
