"""A customer's statement of account (estado de cuenta) as an .xlsx file, in memory.

The ESTADO_MENSUAL attachment and the ribbon's "Estado de cuenta" button. The content
(open invoices, totals per currency) is the domain's (`cobranza.notices.statement`);
this module only lays it out with xlsxwriter: no disk, no clock (the cut-off date is an
argument). Text from the data is written with `write_string`, never as a formula.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date

import pandas as pd
import xlsxwriter

from cobranza.book.money import decimals, to_decimal
from cobranza.notices.messages import Line
from cobranza.notices.statement import statement_totals

HEADERS = ("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda", "Saldo", "Estatus")
HEADER_ROW = 5  # 0-based row of the column headers (Excel row 6)


def statement_filename(customer: str, as_of: date) -> str:
    """estado-de-cuenta-<cliente>-<yyyy-mm>.xlsx, with the code made file-name safe."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", customer).strip("_") or "cliente"
    return f"estado-de-cuenta-{safe}-{as_of:%Y-%m}.xlsx"


def _money(wb, fmt: dict, currency: str, bold: bool = False):
    """The cached number format for amounts in `currency`."""
    key = ("money", currency, bold)
    if key not in fmt:
        d = decimals(currency)
        pattern = "#,##0" + ("." + "0" * d if d else "")
        fmt[key] = wb.add_format({"num_format": pattern, "bold": bold})
    return fmt[key]


def _write_header(ws, fmt: dict, company: str, customer: str, name: str, as_of: date) -> None:
    ws.write_string(0, 0, company, fmt["title"])
    ws.write_string(1, 0, "Estado de cuenta", fmt["bold"])
    ws.write_string(2, 0, f"Cliente: {customer}" + (f" - {name}" if name else ""))
    ws.write_string(3, 0, "Fecha de corte:")
    ws.write_datetime(3, 1, pd.Timestamp(as_of).to_pydatetime(), fmt["date"])
    for col, title in enumerate(HEADERS):
        ws.write_string(HEADER_ROW, col, title, fmt["head"])


def _write_line(ws, wb, fmt: dict, row: int, line: Line) -> None:
    ws.write_string(row, 0, line.invoice)
    for col, value in ((1, line.issued), (2, line.due)):
        if value is not None:
            ws.write_datetime(row, col, pd.Timestamp(value).to_pydatetime(), fmt["date"])
    ws.write_number(row, 3, line.days_overdue)
    ws.write_string(row, 4, line.currency)
    money = _money(wb, fmt, line.currency)
    ws.write_number(row, 5, float(to_decimal(line.balance, line.currency)), money)
    ws.write_string(row, 6, line.status)  # disputed or promised ones are listed too


def _write_totals(ws, wb, fmt: dict, row: int, lines: Sequence[Line]) -> None:
    for currency, minor in statement_totals(lines).items():
        money = _money(wb, fmt, currency, bold=True)
        ws.write_string(row, 0, "Total", fmt["bold"])
        ws.write_string(row, 4, currency, fmt["bold"])
        ws.write_number(row, 5, float(to_decimal(minor, currency)), money)
        row += 1


def statement_xlsx(
    customer: str, name: str, lines: Sequence[Line], company: str, as_of: date
) -> bytes:
    """The statement workbook: header, one row per open invoice, a Total per currency."""
    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    ws = wb.add_worksheet("Estado de cuenta")
    fmt = {
        "title": wb.add_format({"bold": True, "font_size": 14}),
        "bold": wb.add_format({"bold": True}),
        "head": wb.add_format({"bold": True, "bottom": 1, "bg_color": "#DDEBF7"}),
        "date": wb.add_format({"num_format": "dd/mm/yyyy"}),
    }
    _write_header(ws, fmt, company, customer, name, as_of)
    for i, line in enumerate(lines):
        _write_line(ws, wb, fmt, HEADER_ROW + 1 + i, line)
    _write_totals(ws, wb, fmt, HEADER_ROW + 2 + len(lines), lines)
    ws.set_column(0, 0, 18)
    ws.set_column(1, 2, 13)
    ws.set_column(3, 4, 12)
    ws.set_column(5, 5, 16)
    ws.set_column(6, 6, 20)
    ws.freeze_panes(HEADER_ROW + 1, 0)
    wb.close()
    _unlink(wb)
    return buffer.getvalue()


def _unlink(wb: xlsxwriter.Workbook) -> None:
    """Break xlsxwriter's workbook <-> worksheet cycle (each worksheet keeps the bound
    `workbook.add_format`), so a statement is freed as soon as it is built: the sync
    pauses the cyclic collector while it sends, and one statement per customer of ~40 KB
    each would otherwise pile up until the send ends."""
    for ws in wb.worksheets():
        ws.workbook_add_format = None
