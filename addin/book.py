"""The thin adapter between the ribbon handlers and a workbook: a file or a live Excel book.

`BookIO` is everything a handler needs from the workbook and the person at the screen.
`FileBook(path)` reads through `sync.xlsx.reader` and writes through `sync.xlsx.writer`, so every
handler runs in tests on a real file; `ExcelBook(xw_book)` does the same on a workbook
open in Excel through xlwings (output sheets laid out by `addin.live`). Excel cannot run
here: tests drive `ExcelBook` through a recording fake of xlwings (tests/excel_fake.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import pandas as pd
from lxml import etree

from addin import live
from addin.template.layout import CUTOFF_NAME
from cobranza.book.records import Book
from cobranza.book.text import normalize
from cobranza.book.validate import CONFIG_SHEET, SHEETS, structure_problems, validate
from cobranza.layout.sheets import Sheet
from sync.errors import WorkbookError
from sync.xlsx import fileops, reader, writer
from sync.xlsx.package import NS_MAIN, Package, Relationships, rels_path, resolve
from sync.xlsx.sent_reader import ENVIOS_SHEET, read_sent, sent_frame
from sync.xlsx.sheet_xml import cell_xml, column_letter, is_missing

if TYPE_CHECKING:
    import xlwings as xw

Row = dict[str, Any]  # header as in the sheet -> value


class BookIO(Protocol):
    """What a ribbon handler may do with the workbook and the user."""

    path: Path  # the workbook file: the ledger, outbox and statements live beside it

    def read(self) -> Book: ...

    def read_sent(self) -> pd.DataFrame:
        """The Envíos table's rows (`cobranza.notices.seeding.COLUMNS`): what the book
        says it sent."""
        ...

    def write(self, sheets: list[Sheet], now: datetime,
              parameters: Mapping[str, str] | None = None) -> None:
        """Write output sheets, and Configuración `parameters` the book lacks."""
        ...

    def selected_rows(self, sheet: str) -> list[int]:
        """Excel rows selected on `sheet` (data rows only; [] if it is not the selection)."""
        ...

    def append_rows(self, sheet: str, rows: Sequence[Row]) -> list[int]:
        """Add rows at the end of the sheet's table; returns their Excel row numbers."""
        ...

    def select_cell(self, sheet: str, row: int, header: str) -> None: ...

    def confirm(self, text: str) -> bool: ...

    def show(self, text: str) -> None: ...

    def open_file(self, path: Path) -> None: ...


# --- a file --------------------------------------------------------------------------


class FileBook:
    """A workbook file. The 'user' is scripted: a selection and a confirm answer."""

    def __init__(self, path: Path, *, selection: dict[str, list[int]] | None = None,
                 confirm: Callable[[str], bool] = lambda text: True) -> None:
        self.path = Path(path)
        self.selection = dict(selection or {})
        self._confirm = confirm
        self.messages: list[str] = []  # what show/confirm displayed, in order
        self.selected: tuple[str, int, str] | None = None
        self.opened: list[Path] = []

    def read(self) -> Book:
        return reader.read_book(self.path)

    def read_sent(self) -> pd.DataFrame:
        return read_sent(self.path)

    def write(self, sheets: list[Sheet], now: datetime,
              parameters: Mapping[str, str] | None = None) -> None:
        writer.write_outputs(self.path, sheets, now=now, parameters=parameters)

    def selected_rows(self, sheet: str) -> list[int]:
        return list(self.selection.get(sheet, []))

    def append_rows(self, sheet: str, rows: Sequence[Row]) -> list[int]:
        fileops.check_not_open(self.path)
        with Package(self.path) as package:
            added = _append_to_table(package, sheet, rows)
            temp = fileops.write_temp(self.path, package.write)
        fileops.commit(temp, self.path, backups=5, now=datetime.now())
        return added

    def select_cell(self, sheet: str, row: int, header: str) -> None:
        self.selected = (sheet, row, header)

    def confirm(self, text: str) -> bool:
        self.messages.append(text)
        return self._confirm(text)

    def show(self, text: str) -> None:
        self.messages.append(text)

    def open_file(self, path: Path) -> None:
        self.opened.append(Path(path))


def _q(tag: str) -> str:
    return f"{{{NS_MAIN}}}{tag}"


_REF = re.compile(r"^([A-Z]+)(\d+):([A-Z]+)(\d+)$")


def _col_number(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _append_to_table(package: Package, sheet: str, rows: Sequence[Row]) -> list[int]:
    """Write `rows` below the last used row of the sheet's first table and grow the table."""
    entry = next((s for s in package.sheet_entries() if normalize(s.name) == normalize(sheet)),
                 None)
    if entry is None:
        raise WorkbookError(f'El libro no tiene la hoja "{sheet}".')
    rels = Relationships(package.read(rels_path(entry.part)))
    table_part = resolve(entry.part, rels.of_type("table")[0].target)
    table = etree.fromstring(package.read(table_part))
    first_col, top, last_col, bottom = _REF.match(table.get("ref")).groups()
    c0, top = _col_number(first_col), int(top)
    headers = [normalize(c.get("name")) for c in table.iter(_q("tableColumn"))]
    ws = etree.fromstring(package.read(entry.part))
    data = ws.find(_q("sheetData"))
    styles = {int(c.get("min")): int(c.get("style", "0")) for c in ws.iter(_q("col"))}
    used = [int(r.get("r")) for r in data.iter(_q("row"))
            if int(r.get("r")) > top and any(len(c) for c in r.iter(_q("c")))]
    start = max(used, default=top) + 1
    added = []
    for offset, values in enumerate(rows):
        r = start + offset
        by_header = {normalize(k): v for k, v in values.items()}
        cells = "".join(
            cell_xml(f"{column_letter(c0 + i)}{r}", _cell(by_header[h]), styles.get(c0 + i, 0))
            for i, h in enumerate(headers) if h in by_header and not is_missing(by_header[h])
        )
        new = etree.fromstring(f'<row xmlns="{NS_MAIN}" r="{r}">{cells}</row>')
        old = next((x for x in data.iter(_q("row")) if int(x.get("r")) == r), None)
        if old is not None:
            data.replace(old, new)
        else:
            after = [x for x in data if int(x.get("r")) < r]
            data.insert(data.index(after[-1]) + 1 if after else 0, new)
        added.append(r)
    end = max(int(bottom), start + len(rows) - 1)
    table.set("ref", f"{first_col}{top}:{last_col}{end}")
    auto = table.find(_q("autoFilter"))
    if auto is not None:
        auto.set("ref", f"{first_col}{top}:{last_col}{end}")
    package.put(entry.part, etree.tostring(ws, xml_declaration=True, encoding="UTF-8",
                                           standalone=True))
    package.put(table_part, etree.tostring(table, xml_declaration=True, encoding="UTF-8",
                                           standalone=True))
    return added


def _cell(value: Any) -> Any:
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


# --- a live Excel workbook (xlwings) -------------------------------------------------


class ExcelBook:
    """A workbook open in Excel, through xlwings' object model (Windows COM members)."""

    def __init__(self, xw_book: xw.Book) -> None:
        self.book = xw_book
        self.path = Path(xw_book.fullname)

    def _sheet(self, name: str) -> xw.Sheet:
        for sht in self.book.sheets:
            if normalize(sht.name) == normalize(name):
                return sht
        raise WorkbookError(f'El libro no tiene la hoja "{name}".')

    def read_raw(self, only_read: bool = False) -> dict[str, pd.DataFrame]:
        """The same frames as `sync.xlsx.reader.read_raw`, from the sheets' used ranges;
        with `only_read`, as `read_book` reads them (see `reader.frame_from_rows`)."""
        out = {}
        names = {normalize(s.name): s for s in reversed(list(self.book.sheets))}
        for sheet in SHEETS:
            sht = names.get(normalize(sheet))
            if sht is None:
                continue
            last = sht.used_range.last_cell
            grid = sht.range((1, 1), (last.row, last.column)).options(ndim=2).value or []
            rows = [["" if v is None else v for v in row] for row in grid]
            out[sheet] = reader.frame_from_rows(rows, sheet, only_read)
        return out

    def read(self) -> Book:
        # as the sync reads: a table row holding only the add-in's formula results (the
        # template's Facturas row 2) is an empty row, not one the validation drops again
        raw = self.read_raw(only_read=True)
        problems = structure_problems(raw)
        if problems:
            sheet, header = problems[0]
            raise WorkbookError(f'Falta la hoja "{sheet}".' if header is None
                                else f'La hoja "{sheet}" no tiene la columna "{header}".')
        return validate(raw)

    def read_sent(self) -> pd.DataFrame:
        try:
            sht = self._sheet(ENVIOS_SHEET)
        except WorkbookError:
            return sent_frame([])
        last = sht.used_range.last_cell
        grid = sht.range((1, 1), (last.row, last.column)).options(ndim=2).value or []
        return sent_frame([["" if v is None else v for v in row] for row in grid])

    def write(self, sheets: list[Sheet], now: datetime,
              parameters: Mapping[str, str] | None = None) -> None:
        """Like the sync's writer, from the same `Sheet` data: values, formats, widths,
        frozen header and charts; calculation manual and screen updating off meanwhile.
        FechaCorte becomes `now`'s date: the ribbon's refresh is as of today."""
        active = self.book.sheets.active
        with live.quiet(self.book.app):
            try:
                self._set_cutoff(now.date())
                for label, value in (parameters or {}).items():
                    self._set_parameter(label, value)
                for sheet in sheets:
                    try:
                        sht = self._sheet(sheet.name)
                    except WorkbookError:
                        sht = self.book.sheets.add(sheet.name, after=self.book.sheets[-1])
                    live.write_sheet(sht, sheet, self.book.app.api)
            finally:
                active.activate()  # panes are set through the active window

    def _set_cutoff(self, day: date) -> None:
        """FechaCorte = `day`: the Facturas formula columns recalculate at it (one Python
        call, once calculation is back). A workbook without the name (an earlier release)
        is left as it is."""
        name = next((n for n in self.book.names if n.name == CUTOFF_NAME), None)
        if name is not None:
            name.refers_to_range.value = datetime(day.year, day.month, day.day)

    def _set_parameter(self, label: str, value: str) -> None:
        """Parámetro/Valor row in Configuración's parameters table (a new row at its end)."""
        sht = self._sheet(CONFIG_SHEET)
        for lo in sht.api.ListObjects:
            if normalize(lo.ListColumns(1).Name) == "parametro":
                row = lo.ListRows.Add().Range
                for i, text in enumerate((label, value), start=1):
                    _put(row.Cells(1, i), text)
                return

    def selected_rows(self, sheet: str) -> list[int]:
        sel = self.book.app.selection
        if sel is None or normalize(sel.sheet.name) != normalize(sheet):
            return []
        last = sel.sheet.used_range.last_cell.row  # a whole-column selection ends there
        return [r for r in live.visible_rows(sel.api) if 1 < r <= last]

    def append_rows(self, sheet: str, rows: Sequence[Row]) -> list[int]:
        sht = self._sheet(sheet)
        lo = sht.api.ListObjects(1)
        headers = [normalize(c.Name) for c in lo.ListColumns]
        added = []
        for values in rows:
            by_header = {normalize(k): v for k, v in values.items()}
            row = lo.ListRows.Add().Range
            for i, h in enumerate(headers, start=1):
                if h in by_header and not is_missing(by_header[h]):
                    _put(row.Cells(1, i), by_header[h])
            added.append(row.Row)
        return added

    def select_cell(self, sheet: str, row: int, header: str) -> None:
        sht = self._sheet(sheet)
        lo = sht.api.ListObjects(1)
        col = next(c.Range.Column for c in lo.ListColumns if normalize(c.Name) == normalize(header))
        sht.activate()
        sht.range(row, col).select()

    def confirm(self, text: str) -> bool:
        return self.book.app.alert(text, title="Cobranza", buttons="yes_no") == "yes"

    def show(self, text: str) -> None:
        self.book.app.alert(text, title="Cobranza")

    def open_file(self, path: Path) -> None:
        self.book.app.books.open(str(path))


def _put(cell: Any, value: Any) -> None:
    """One cell of an input table: text stays text whatever the column's format."""
    cell.Value = live.cell_value(value, text_format=cell.NumberFormat == "@")
