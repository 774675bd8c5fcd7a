"""Output `Sheet`s into a workbook open in Excel (xlwings), the way the sync's file
writer lays them out: the same values, number formats (`sheet_xml.value_format`), column
widths (`sheet_xml.column_widths`), header names, frozen rows and charts (anchor and size
of `chart_xml`). Kept to few COM calls: one `Range.value` per block of cells.

Only the xlwings object model is used here; tests drive it through a recording fake.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from cobranza.layout.sheets import BarChart, Cell, Sheet, Table
from sync.xlsx.sheet_xml import column_names, column_widths, is_missing, ref, value_format
from sync.xlsx.style_xml import _BUILTIN_FORMATS

if TYPE_CHECKING:
    import xlwings as xw

_BUILTIN_CODES = {0: "General", 3: "#,##0", 4: "#,##0.00"}  # ids style_xml uses
# Format -> NumberFormat code (Excel's English syntax, whatever the user's locale)
NUMBER_FORMATS = {f: c if isinstance(c, str) else _BUILTIN_CODES[c]
                  for f, c in _BUILTIN_FORMATS.items()}
XL_CELL_TYPE_VISIBLE = 12
XL_LEGEND_BOTTOM = -4107


@contextmanager
def quiet(app: xw.App) -> Iterator[None]:
    """Manual calculation, no screen updating and no events while writing (each write
    would recalculate every UDF); the user's previous settings come back, also on error."""
    before = app.calculation, app.screen_updating, app.enable_events
    app.calculation, app.screen_updating, app.enable_events = "manual", False, False
    try:
        yield
    finally:
        app.calculation, app.screen_updating, app.enable_events = before


def cell_value(value: Any, text_format: bool = False) -> Any:
    """What to assign to `Range.value` so Excel stores `value` as it is.

    Excel parses a string put into a cell not formatted as text ("@") as if typed:
    "00123" becomes 123, "22/10/2026" a date, "=x" a formula. A leading apostrophe makes
    it text (the apostrophe is not part of the value); a "@" cell takes it verbatim.
    """
    if isinstance(value, str):
        return str(value) if text_format else "'" + str(value)
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, Decimal) and value.is_finite():
        return float(value)
    if isinstance(value, date) or not is_missing(value):
        return value
    return None


def write_sheet(sht: xw.Sheet, sheet: Sheet, app_api: Any) -> None:
    """Replace the sheet's content with `sheet` (values, formats, widths, panes, charts)."""
    for lo in list(sht.tables):
        lo.api.Unlist()
    for chart in list(sht.charts):
        chart.delete()
    sht.clear()  # contents and formats: the old number formats must not linger
    for top, left, grid in _cell_blocks(sheet):
        sht.range(top, left).value = grid
    for t in sheet.tables:
        _write_table(sht, t)
    _apply_formats(sht, sheet)
    for col, width in sorted(column_widths(sheet).items()):
        sht.range(1, col).column_width = width
    _freeze(sht, sheet.freeze_row, app_api)
    tables = {t.name: t for t in sheet.tables}
    for chart in sheet.charts:
        _add_chart(sht, chart, tables[chart.table])


_MAX_GAP = 100  # blank rows a block of free cells may span rather than be split


def _cell_blocks(sheet: Sheet) -> list[tuple[int, int, list[list[Any]]]]:
    """Free cells as rectangles (top, left, rows): one for the cells of a sheet (titles,
    section labels between small tables, whose areas are written afterwards), split only
    where more than `_MAX_GAP` rows lie between two of them (a long table)."""
    cells = sorted((c for c in sheet.cells if not is_missing(c.value)), key=lambda c: c.row)
    groups: list[list[Cell]] = []
    for c in cells:
        if groups and c.row - groups[-1][-1].row <= _MAX_GAP:
            groups[-1].append(c)
        else:
            groups.append([c])
    blocks = []
    for group in groups:
        top, left = group[0].row, min(c.col for c in group)
        width = max(c.col for c in group) - left + 1
        grid: list[list[Any]] = [[None] * width for _ in range(group[-1].row - top + 1)]
        for c in group:
            grid[c.row - top][c.col - left] = cell_value(c.value)
        blocks.append((top, left, grid))
    return blocks


def _write_table(sht: xw.Sheet, t: Table) -> None:
    """Header and body in one assignment, then the ListObject over them."""
    grid = [[cell_value(name) for name in column_names(t)]]
    grid += [[cell_value(v) for v in row] for row in t.rows]
    sht.range(t.row, t.col).value = grid
    end = sht.range(t.row + max(len(t.rows), 1), t.col + len(t.columns) - 1)
    sht.tables.add(source=sht.range(sht.range(t.row, t.col), end), name=t.name)


def _apply_formats(sht: xw.Sheet, sheet: Sheet) -> None:
    """The sync's format per cell (`value_format`), one assignment per run of equal
    formats down a column; General (text, plain numbers) is what a cleared cell has."""
    for c in sheet.cells:
        code = NUMBER_FORMATS[value_format(c.value, c.format)]
        if not is_missing(c.value) and code != "General":
            sht.range(c.row, c.col).number_format = code
    for t in sheet.tables:
        for i, name in enumerate(t.columns):
            fmt = t.formats.get(name, "text")
            codes = [None if is_missing(row[i]) else NUMBER_FORMATS[value_format(row[i], fmt)]
                     for row in t.rows]
            for first, last, code in _runs(codes):
                if code not in (None, "General"):
                    col, top = t.col + i, t.row + 1
                    sht.range((top + first, col), (top + last, col)).number_format = code


def _runs(codes: list[str | None]) -> Iterator[tuple[int, int, str | None]]:
    """(first, last, code) of each run of equal non-blank codes; blanks join any run."""
    start, current = 0, None
    for i, code in enumerate(codes):
        if code is not None and current is not None and code != current:
            yield start, i - 1, current
            start = i
        current = code if code is not None else current
    if codes:
        yield start, len(codes) - 1, current


def _freeze(sht: xw.Sheet, freeze_row: int, app_api: Any) -> None:
    """Rows above `freeze_row` stay visible, as the sync's pane; none when <= 1. Panes
    belong to the window, so the sheet is activated (the caller restores the active one)."""
    sht.activate()
    window = app_api.ActiveWindow
    window.FreezePanes = False
    if freeze_row > 1:
        window.SplitColumn = 0
        window.SplitRow = freeze_row - 1
        window.FreezePanes = True


def _add_chart(sht: xw.Sheet, chart: BarChart, table: Table) -> None:
    """A clustered column chart over the table's cells, where the sync anchors it, one
    series per column with its header as name (a reference, never text as a formula)."""
    row, col = chart.anchor
    area = sht.range((row, col), (row + chart.size[0] - 1, col + chart.size[1] - 1))
    obj = sht.charts.add(area.left, area.top, area.width, area.height)
    obj.chart_type = "column_clustered"
    xl_chart = obj.api[1]
    last = table.row + max(len(table.rows), 1)
    cat_col = table.col + table.columns.index(chart.category)
    categories = sht.range((table.row + 1, cat_col), (last, cat_col))
    for column in chart.series:
        c = table.col + table.columns.index(column)
        series = xl_chart.SeriesCollection().NewSeries()
        series.Name = "=" + _address(sht.name, table.row, c)
        series.Values = sht.range((table.row + 1, c), (last, c)).api
        series.XValues = categories.api
    xl_chart.HasTitle = True
    xl_chart.ChartTitle.Text = chart.title
    xl_chart.HasLegend = len(chart.series) > 1  # as the sync: one series, the title names it
    if len(chart.series) > 1:
        xl_chart.Legend.Position = XL_LEGEND_BOTTOM


def _address(sheet: str, row: int, col: int) -> str:
    """='Sheet'!$C$10, as the sync's chart references its header cells."""
    return "'" + sheet.replace("'", "''") + "'!" + ref(row, col, True)


def visible_rows(selection_api: Any) -> list[int]:
    """Row numbers of the selection's cells a filter leaves visible.

    `SpecialCells(xlCellTypeVisible)` of a single cell would answer for the whole used
    range, so one cell is checked by its row's Hidden flag; with no visible cell at all
    Excel raises, which means no rows.
    """
    if selection_api.CountLarge == 1:
        return [] if selection_api.EntireRow.Hidden else [selection_api.Row]
    try:
        visible = selection_api.SpecialCells(XL_CELL_TYPE_VISIBLE)
    except Exception:  # COM error "no cells were found"
        return []
    return sorted({r for area in visible.Areas
                   for r in range(area.Row, area.Row + area.Rows.Count)})
