"""The agency hand-off file: `Sheet` values (`cobranza.layout.handoff`) as a new .xlsx.

In memory, no disk nor clock. Cells go through the statement's `SheetWriter` (one way
to write a standalone .xlsx): text from the data always as a string (never a formula),
dates as dates, amounts as numbers with their row's currency decimals (its `Moneda`
column). Each `Table` becomes an Excel table with a filter.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import pandas as pd
import xlsxwriter

from cobranza.layout.sheets import Format, Sheet, Table
from sync.xlsx.statement_file import SheetWriter, unlink

_CELL_STYLES = {"title": "title", "label": "bold"}


def sheets_xlsx(sheets: list[Sheet]) -> bytes:
    """A workbook with one worksheet per `Sheet`, in order."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    for sheet in sheets:
        _write_sheet(SheetWriter(wb, sheet.name), sheet)
    wb.close()
    unlink(wb)
    return buffer.getvalue()


def _write_sheet(out: SheetWriter, sheet: Sheet) -> None:
    out.fmt["datetime"] = out.wb.add_format({"num_format": "dd/mm/yyyy hh:mm"})
    out.ws.set_column(0, 0, 20)
    for cell in sheet.cells:
        out.row = cell.row - 1
        _write(out, cell.col - 1, cell.value, cell.format, "", _CELL_STYLES.get(cell.style))
    for table in sheet.tables:
        _write_table(out, table)
    if sheet.freeze_row:
        out.ws.freeze_panes(sheet.freeze_row - 1, 0)
    out.ws.set_landscape()
    out.ws.fit_to_pages(1, 0)  # printed one page wide


def _write_table(out: SheetWriter, table: Table) -> None:
    first_col = table.col - 1
    currency_at = table.columns.index("Moneda") if "Moneda" in table.columns else None
    for out.row, values in enumerate(table.rows, start=table.row):
        currency = str(values[currency_at] or "") if currency_at is not None else ""
        for i, (column, value) in enumerate(zip(table.columns, values, strict=True)):
            _write(out, first_col + i, value, table.formats.get(column, "text"), currency)
    last_row = table.row - 1 + max(len(table.rows), 1)
    out.ws.add_table(table.row - 1, first_col, last_row, first_col + len(table.columns) - 1,
                     {"name": table.name, "style": "Table Style Light 9",
                      "columns": [{"header": c, "header_format": out.fmt["head"]}
                                  for c in table.columns]})
    for i, column in enumerate(table.columns):
        out.ws.set_column(first_col + i, first_col + i, table.widths.get(column, 12))


def _write(out: SheetWriter, col: int, value: Any, fmt: Format, currency: str,
           style: str | None = None) -> None:
    """One value by its column format; a text value is a string whatever the format."""
    if value is None or value == "":
        return
    if isinstance(value, str):
        out.text(col, value, style)
    elif fmt == "money":
        out.major(col, value, currency)
    elif isinstance(value, datetime) or fmt == "datetime":
        out.ws.write_datetime(out.row, col, pd.Timestamp(value).to_pydatetime(),
                              out.fmt["datetime"])
    elif isinstance(value, date):
        out.day(col, value)
    else:
        out.ws.write_number(out.row, col, value, out.fmt[style] if style else None)

