"""A recording fake of the part of xlwings' object model `addin.book.ExcelBook` uses:
desktop Excel, the one thing the tests may fake.

Every assignment is appended to `FakeApp.log` in order, as a tuple: ("app", attr, value),
("value", sheet, address, n_rows, n_cols), ("number_format", sheet, address, code),
("column_width", sheet, column, width), ("window", attr, value, active sheet),
("table", sheet, address, name), ("chart", sheet, attr, value), ("clear", sheet).

Cells keep what Excel would store: a string put into a cell not formatted as text is
parsed as if typed (digits become a number, dd/mm/yyyy a date, "=..." a formula) unless
it starts with an apostrophe; a "@" cell keeps the string verbatim.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import python_calamine
from openpyxl.utils.cell import coordinate_to_tuple

from addin import udfs
from sync.xlsx.sheet_xml import ref

_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
ROW_HEIGHT, COLUMN_WIDTH = 15.0, 48.0  # points


@dataclass(frozen=True)
class Formula:
    """What a cell holds when a string became a formula."""

    text: str


def typed(text: str, number_format: str) -> Any:
    """What Excel stores for a string put into a cell (a thin model of its parsing)."""
    if number_format == "@":
        return text
    if text.startswith("'"):
        return text[1:]
    if text[:1] in ("=", "+", "-", "@") and len(text) > 1 and not _NUMBER.match(text):
        return Formula(text)
    if _NUMBER.match(text):
        return float(text)
    if m := _DATE.match(text):
        try:
            return datetime(int(m[3]), int(m[2]), int(m[1]))
        except ValueError:  # 31/02/2026 is no date: Excel keeps the text
            return text
    return text


class ExcelFailure(Exception):
    """What a COM call that fails raises (pywintypes.com_error on Windows)."""


_UDF_CALL = re.compile(r"\b(" + "|".join(sorted(udfs.CORES)) + r")\(")


class FakeApp:
    def __init__(self) -> None:
        self.log: list[tuple] = []
        self.calculation = "automatic"
        self.screen_updating = True
        self.enable_events = True
        self.selection: FakeRange | None = None
        self.api = _AppApi(self)
        self.alerts: list[str] = []
        self.opened: list[str] = []
        self.books = _Books(self)
        self.fail_on: tuple[str, str] | None = None  # (kind, sheet): that entry raises

    def __setattr__(self, name: str, value: Any) -> None:
        if name in ("calculation", "screen_updating", "enable_events") and hasattr(self, "log"):
            self.log.append(("app", name, value))
        object.__setattr__(self, name, value)

    def calculate(self) -> None:
        """A full recalculation: Excel evaluates each formula cell once, and each cell that
        calls one of our UDFs is one call into Python (logged as ("python", UDF))."""
        for sht in self.book.sheets:
            for formula in sht.formulas.values():
                self.log.extend(("python", name) for name in _UDF_CALL.findall(str(formula)))

    def alert(self, text: str, **kwargs: Any) -> str:
        self.alerts.append(text)
        return "yes"

    def record(self, *entry: Any) -> None:
        self.log.append(entry)
        if entry[:2] == self.fail_on:
            raise ExcelFailure(f"fallo simulado en {entry}")


class _Books:
    def __init__(self, app: FakeApp) -> None:
        self.app = app

    def open(self, path: str) -> None:
        self.app.opened.append(path)


class _AppApi:
    def __init__(self, app: FakeApp) -> None:
        self.ActiveWindow = _Window(app)


class _Window:
    def __init__(self, app: FakeApp) -> None:
        object.__setattr__(self, "app", app)

    def __setattr__(self, name: str, value: Any) -> None:
        active = self.app.book.sheets.active.name
        self.app.record("window", name, value, active)


class FakeBook:
    def __init__(self, fullname: Path, app: FakeApp | None = None) -> None:
        self.fullname = str(fullname)
        self.app = app or FakeApp()
        self.app.book = self
        self.sheets = _Sheets(self)
        self.names: list[FakeName] = []

    @classmethod
    def from_file(cls, path: Path) -> FakeBook:
        """The workbook's sheets as Excel would show them (values only), and its names of
        single cells."""
        book = cls(path)
        source = python_calamine.CalamineWorkbook.from_path(str(path))
        for name in source.sheet_names:
            sht = book.sheets.add(name)
            for r, row in enumerate(source.get_sheet_by_name(name).to_python(), start=1):
                for c, value in enumerate(row, start=1):
                    if value != "":
                        sht.cells[(r, c)] = _as_excel(value)
        stored = openpyxl.load_workbook(path, read_only=True, keep_vba=True)
        for sht in book.sheets:
            for row in stored[sht.name].iter_rows():
                sht.formulas |= {(c.row, c.column): getattr(c.value, "text", c.value)
                                 for c in row if getattr(c, "data_type", "") == "f"}
        defined = stored.defined_names
        for name, item in defined.items():
            for sheet, cell in item.destinations:
                row, col = coordinate_to_tuple(cell.replace("$", ""))
                sht = next(s for s in book.sheets if s.name == sheet)
                book.names.append(FakeName(name, FakeRange(sht, row, col, row, col)))
        book.app.log.clear()
        return book


class FakeName:
    """A workbook name (xlwings `Name`): the range it refers to."""

    def __init__(self, name: str, refers_to_range: FakeRange) -> None:
        self.name, self.refers_to_range = name, refers_to_range


def _as_excel(value: Any) -> Any:
    """xlwings reads numbers as float and dates as datetime."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


class _Sheets(list):
    def __init__(self, book: FakeBook) -> None:
        super().__init__()
        self.book = book
        self.active: FakeSheet | None = None

    def add(self, name: str, after: FakeSheet | None = None) -> FakeSheet:
        sht = FakeSheet(self.book, name)
        self.insert(self.index(after) + 1 if after is not None else len(self), sht)
        self.active = self.active or sht
        return sht


class FakeSheet:
    def __init__(self, book: FakeBook, name: str) -> None:
        self.book, self.name = book, name
        self.cells: dict[tuple[int, int], Any] = {}
        self.formats: dict[tuple[int, int], str] = {}
        self.formulas: dict[tuple[int, int], str] = {}  # as the file stores them
        self.widths: dict[int, float] = {}
        self.hidden_rows: set[int] = set()
        self.tables = _Tables(self)
        self.charts = _Charts(self)

    def __repr__(self) -> str:
        return f"<Sheet {self.name}>"

    def range(self, first: Any, second: Any = None) -> FakeRange:
        """range(row, col), range((r1, c1), (r2, c2)) or range(Range, Range)."""
        if isinstance(first, int):
            return FakeRange(self, first, second, first, second)
        a = first if isinstance(first, FakeRange) else FakeRange(self, *first, *first)
        b = a if second is None else (
            second if isinstance(second, FakeRange) else FakeRange(self, *second, *second))
        return FakeRange(self, a.row, a.column, b.last_row, b.last_column)

    @property
    def used_range(self) -> FakeRange:
        if not self.cells:
            return FakeRange(self, 1, 1, 1, 1)
        return FakeRange(self, 1, 1, max(r for r, _ in self.cells),
                         max(c for _, c in self.cells))

    def clear(self) -> None:
        self.book.app.record("clear", self.name)
        self.cells.clear()
        self.formats.clear()

    def clear_contents(self) -> None:  # values only: number formats stay
        self.book.app.record("clear_contents", self.name)
        self.cells.clear()

    def activate(self) -> None:
        self.book.sheets.active = self

    @property
    def api(self) -> FakeSheet:
        return self

    def ListObjects(self, index: int) -> _ListObject:  # noqa: N802 - COM name
        """The input table: header in row 1 from column A, as the template's."""
        assert index == 1
        return _ListObject(self)

    def value(self, row: int, col: int) -> Any:
        return self.cells.get((row, col))


class _Tables(list):
    def __init__(self, sheet: FakeSheet) -> None:
        super().__init__()
        self.sheet = sheet

    def add(self, source: FakeRange, name: str) -> _Table:
        self.sheet.book.app.record("table", self.sheet.name, source.address, name)
        table = _Table(self, source, name)
        self.append(table)
        return table


class _Table:
    def __init__(self, tables: _Tables, source: FakeRange, name: str) -> None:
        self.tables, self.source, self.name = tables, source, name
        self.api = self

    def Unlist(self) -> None:  # noqa: N802 - COM name
        self.tables.remove(self)


class _ListObject:
    """An input table (ListObject) with the members `ExcelBook.append_rows` uses."""

    def __init__(self, sheet: FakeSheet) -> None:
        self.sheet = sheet
        width = 0
        while sheet.cells.get((1, width + 1)) not in (None, ""):
            width += 1
        self.ListColumns = [_ListColumn(str(sheet.cells[(1, c)]), FakeRange(sheet, 1, c, 1, c))
                            for c in range(1, width + 1)]
        self.ListRows = self

    def Add(self) -> _ListRow:  # noqa: N802 - COM name
        width = len(self.ListColumns)
        last = max((r for r, c in self.sheet.cells if c <= width), default=1)
        self.sheet.book.app.record("list_row", self.sheet.name, last + 1)
        return _ListRow(FakeRange(self.sheet, last + 1, 1, last + 1, width))


@dataclass
class _ListColumn:
    Name: str  # noqa: N815 - COM name
    Range: FakeRange  # noqa: N815 - COM name


@dataclass
class _ListRow:
    Range: FakeRange  # noqa: N815 - COM name


class _Charts(list):
    def __init__(self, sheet: FakeSheet) -> None:
        super().__init__()
        self.sheet = sheet

    def add(self, left: float, top: float, width: float, height: float) -> FakeChart:
        self.sheet.book.app.record("chart", self.sheet.name, "add", (left, top, width, height))
        chart = FakeChart(self)
        self.append(chart)
        return chart


class FakeChart:
    """An xlwings Chart; `api[1]` is the COM Chart, recording what is set on it."""

    def __init__(self, charts: _Charts) -> None:
        self.charts = charts
        self.series: list[dict[str, Any]] = []
        self.props: dict[str, Any] = {}
        self.api = (self, _ComChart(self))

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "chart_type":
            self.charts.sheet.book.app.record("chart", self.charts.sheet.name, name, value)
            self.props[name] = value
        object.__setattr__(self, name, value)

    def delete(self) -> None:
        self.charts.remove(self)


class _Props:
    """A COM object whose property assignments go into `target` under `prefix`."""

    def __init__(self, chart: FakeChart, target: dict[str, Any], prefix: str = "") -> None:
        object.__setattr__(self, "_chart", chart)
        object.__setattr__(self, "_target", target)
        object.__setattr__(self, "_prefix", prefix)

    def __setattr__(self, name: str, value: Any) -> None:
        key = self._prefix + name
        self._target[key] = value.address if isinstance(value, FakeRange) else value
        self._chart.charts.sheet.book.app.record("chart", self._chart.charts.sheet.name, key,
                                                 self._target[key])


class _ComChart(_Props):
    def __init__(self, chart: FakeChart) -> None:
        super().__init__(chart, chart.props)
        object.__setattr__(self, "ChartTitle", _Props(chart, chart.props, "ChartTitle."))
        object.__setattr__(self, "Legend", _Props(chart, chart.props, "Legend."))

    def SeriesCollection(self) -> _ComChart:  # noqa: N802 - COM name
        return self

    def NewSeries(self) -> _Props:  # noqa: N802 - COM name
        self._chart.series.append({})
        return _Props(self._chart, self._chart.series[-1], "Series.")


class FakeRange:
    def __init__(self, sheet: FakeSheet, row: int, column: int, last_row: int,
                 last_column: int) -> None:
        self.sheet, self.row, self.column = sheet, row, column
        self.last_row, self.last_column = last_row, last_column

    @property
    def app(self) -> FakeApp:
        return self.sheet.book.app

    @property
    def api(self) -> FakeRange:  # the COM Range: the members used are on this class
        return self

    @property
    def address(self) -> str:
        first = ref(self.row, self.column, True)
        last = ref(self.last_row, self.last_column, True)
        return first if first == last else f"{first}:{last}"

    @property
    def shape(self) -> tuple[int, int]:
        return self.last_row - self.row + 1, self.last_column - self.column + 1

    @property
    def last_cell(self) -> FakeRange:
        return FakeRange(self.sheet, self.last_row, self.last_column, self.last_row,
                         self.last_column)

    def options(self, **kwargs: Any) -> FakeRange:
        return self

    @property
    def value(self) -> list[list[Any]]:
        return [[self.sheet.cells.get((r, c)) for c in range(self.column, self.last_column + 1)]
                for r in range(self.row, self.last_row + 1)]

    @value.setter
    def value(self, value: Any) -> None:
        grid = value if isinstance(value, list) else [[value]]
        grid = [row if isinstance(row, list) else [row] for row in grid]
        self.app.record("value", self.sheet.name, FakeRange(
            self.sheet, self.row, self.column, self.row + len(grid) - 1,
            self.column + max(map(len, grid)) - 1).address, len(grid), max(map(len, grid)))
        for i, row in enumerate(grid):
            for j, v in enumerate(row):
                key = (self.row + i, self.column + j)
                if isinstance(v, str):
                    v = typed(v, self.sheet.formats.get(key, "General"))
                if v is None:
                    self.sheet.cells.pop(key, None)
                else:
                    self.sheet.cells[key] = v

    @property
    def number_format(self) -> str:
        return self.sheet.formats.get((self.row, self.column), "General")

    @number_format.setter
    def number_format(self, code: str) -> None:
        self.app.record("number_format", self.sheet.name, self.address, code)
        for r in range(self.row, self.last_row + 1):
            for c in range(self.column, self.last_column + 1):
                self.sheet.formats[(r, c)] = code

    @property
    def column_width(self) -> float:
        return self.sheet.widths.get(self.column, 8.43)

    @column_width.setter
    def column_width(self, width: float) -> None:
        self.app.record("column_width", self.sheet.name, self.column, width)
        for c in range(self.column, self.last_column + 1):
            self.sheet.widths[c] = width

    left = property(lambda self: (self.column - 1) * COLUMN_WIDTH)
    top = property(lambda self: (self.row - 1) * ROW_HEIGHT)
    width = property(lambda self: self.shape[1] * COLUMN_WIDTH)
    height = property(lambda self: self.shape[0] * ROW_HEIGHT)

    def select(self) -> None:
        self.app.selection = self

    def Cells(self, row: int, col: int) -> _ComCell:  # noqa: N802 - COM name
        return _ComCell(FakeRange(self.sheet, self.row + row - 1, self.column + col - 1,
                                  self.row + row - 1, self.column + col - 1))

    # --- COM members (Range.api) used for the selection -----------------------------

    @property
    def CountLarge(self) -> int:  # noqa: N802 - COM name
        return self.shape[0] * self.shape[1]

    @property
    def EntireRow(self) -> _EntireRow:  # noqa: N802 - COM name
        return _EntireRow(self.row in self.sheet.hidden_rows)

    @property
    def Row(self) -> int:  # noqa: N802 - COM name
        return self.row

    @property
    def Column(self) -> int:  # noqa: N802 - COM name
        return self.column

    @property
    def Rows(self) -> _Count:  # noqa: N802 - COM name
        return _Count(self.shape[0])

    @property
    def Areas(self) -> list[FakeRange]:  # noqa: N802 - COM name
        return [self]

    def SpecialCells(self, kind: int) -> _Union:  # noqa: N802 - COM name
        """xlCellTypeVisible (12): the visible rows as areas; none raises, as in Excel."""
        assert kind == 12
        return _visible(_visible_areas(self))


def _visible_areas(area: FakeRange) -> list[FakeRange]:
    """The area cut into its runs of rows a filter leaves visible."""
    rows = [r for r in range(area.row, area.last_row + 1) if r not in area.sheet.hidden_rows]
    runs, start = [], rows[0] if rows else 0
    for prev, r in zip(rows, [*rows[1:], None], strict=True):
        if r != prev + 1:
            runs.append(FakeRange(area.sheet, start, area.column, prev, area.last_column))
            start = r
    return runs


def _visible(areas: list[FakeRange]) -> _Union:
    if not areas:  # as Excel: SpecialCells raises when nothing is found
        raise ExcelFailure("No se encontraron celdas.")
    return _Union(areas)


class _ComCell:
    """A COM cell: `.Value` is stored as Excel would, `.NumberFormat` read."""

    def __init__(self, cell: FakeRange) -> None:
        object.__setattr__(self, "cell", cell)

    @property
    def NumberFormat(self) -> str:  # noqa: N802 - COM name
        return self.cell.number_format

    def __setattr__(self, name: str, value: Any) -> None:
        assert name == "Value"
        self.cell.value = value


@dataclass
class _EntireRow:
    Hidden: bool  # noqa: N815 - COM name


@dataclass
class _Count:
    Count: int  # noqa: N815 - COM name


@dataclass
class _Union:
    Areas: list[FakeRange]  # noqa: N815 - COM name


class FakeSelection:
    """`app.selection` over several areas (Ctrl+click), e.g. rows 3-5 and 9."""

    def __init__(self, *areas: FakeRange) -> None:
        self.sheet = areas[0].sheet
        self.api = self
        self.areas = areas

    @property
    def CountLarge(self) -> int:  # noqa: N802 - COM name
        return sum(a.CountLarge for a in self.areas)

    @property
    def Areas(self) -> tuple[FakeRange, ...]:  # noqa: N802 - COM name
        return self.areas

    def SpecialCells(self, kind: int) -> _Union:  # noqa: N802 - COM name
        assert kind == 12
        return _visible([a for area in self.areas for a in _visible_areas(area)])
