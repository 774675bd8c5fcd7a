"""A customer's statement of account (estado de cuenta) as an .xlsx file, in memory.

Attached with its PDF (`sync.pdf.statement`) to the ESTADO_MENSUAL notice and to an email
listing more invoices than a body may; written by the ribbon's "Estado de cuenta"
button. The content is the domain's `Statement` (`cobranza.notices.statement`): company,
customer and cut-off, the open invoices and their total per currency, the aging per
currency, the payments received in the last 30 days and the payment details. This module
only lays it out with xlsxwriter: no disk, no clock. Text from the data is written with
`write_string`, never as a formula.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pandas as pd

from cobranza.book.money import decimals, to_decimal
from cobranza.book.records import BUCKETS
from cobranza.notices.messages import Line
from cobranza.notices.statement import Statement

if TYPE_CHECKING:
    import xlsxwriter

HEADERS = ("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda", "Saldo", "Estatus")
PAYMENT_HEADERS = ("Fecha", "Factura", "Importe", "Moneda", "Referencia")


def statement_filename(customer: str, as_of: date, suffix: str = ".xlsx") -> str:
    """estado-de-cuenta-<cliente>-<yyyy-mm><suffix>, with the code made file-name safe."""
    safe = re.sub(r"[^A-Za-z0-9_-]+", "_", customer).strip("_") or "cliente"
    return f"estado-de-cuenta-{safe}-{as_of:%Y-%m}{suffix}"


class SheetWriter:
    """One worksheet and its cached formats, written top to bottom: text always as a
    string, dates as dates, amounts as numbers with their currency's decimals. Also
    used by the agency hand-off file (`sync.xlsx.handoff_file`)."""

    def __init__(self, wb: xlsxwriter.Workbook, name: str = "Estado de cuenta") -> None:
        self.wb, self.ws, self.row = wb, wb.add_worksheet(name), 0
        self.fmt = {
            "title": wb.add_format({"bold": True, "font_size": 14}),
            "bold": wb.add_format({"bold": True}),
            "head": wb.add_format({"bold": True, "bottom": 1, "bg_color": "#DDEBF7"}),
            "date": wb.add_format({"num_format": "dd/mm/yyyy"}),
        }

    def money(self, currency: str, bold: bool = False):
        """The cached number format for amounts in `currency`."""
        key = f"money {currency} {bold}"
        if key not in self.fmt:
            d = decimals(currency)
            pattern = "#,##0" + ("." + "0" * d if d else "")
            self.fmt[key] = self.wb.add_format({"num_format": pattern, "bold": bold})
        return self.fmt[key]

    def text(self, col: int, value: str, style: str | None = None) -> None:
        self.ws.write_string(self.row, col, value, self.fmt[style] if style else None)

    def day(self, col: int, value: date | None) -> None:
        if value is not None:
            self.ws.write_datetime(self.row, col, pd.Timestamp(value).to_pydatetime(),
                                   self.fmt["date"])

    def amount(self, col: int, minor: int, currency: str, bold: bool = False) -> None:
        self.major(col, to_decimal(minor, currency), currency, bold)

    def major(self, col: int, value: Decimal | float, currency: str,
              bold: bool = False) -> None:
        """An amount already in major units (a `Sheet` "money" value)."""
        self.ws.write_number(self.row, col, float(value), self.money(currency, bold))

    def heading(self, titles: Sequence[str]) -> None:
        for col, title in enumerate(titles):
            self.text(col, title, "head")
        self.row += 1


def statement_xlsx(statement: Statement) -> bytes:
    """The statement workbook: header, open invoices with a Total per currency, aging,
    payments received and payment details."""
    import xlsxwriter  # here: ~40 ms to import, and most syncs attach no statement

    buffer = io.BytesIO()
    wb = xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False})
    sheet = SheetWriter(wb)
    _write_header(sheet, statement)
    header_row = sheet.row
    sheet.heading(HEADERS)
    for line in statement.lines:
        _write_line(sheet, line)
    sheet.row += 1
    _write_totals(sheet, statement)
    _write_aging(sheet, statement)
    _write_payments(sheet, statement)
    _write_paying(sheet, statement)
    ws = sheet.ws
    ws.set_column(0, 0, 22)
    ws.set_column(1, 2, 13)
    ws.set_column(3, 4, 12)
    ws.set_column(5, 5, 16)
    ws.set_column(6, 6, 20)
    ws.freeze_panes(header_row + 1, 0)
    wb.close()
    unlink(wb)
    return buffer.getvalue()


def _write_header(sheet: SheetWriter, s: Statement) -> None:
    """Company (its name, then each identification line), document, customer, cut-off."""
    for label, value in s.company:
        if label == "Empresa":
            sheet.text(0, value, "title")
        else:
            sheet.text(0, f"{label}:")
            sheet.text(1, value)
        sheet.row += 1
    sheet.text(0, "Estado de cuenta", "bold")
    sheet.row += 1
    sheet.text(0, f"Cliente: {s.customer}" + (f" - {s.name}" if s.name else ""))
    sheet.row += 1
    sheet.text(0, "Fecha de corte:")
    sheet.day(1, s.as_of)
    sheet.row += 2


def _write_line(sheet: SheetWriter, line: Line) -> None:
    sheet.text(0, line.invoice)
    sheet.day(1, line.issued)
    sheet.day(2, line.due)
    sheet.ws.write_number(sheet.row, 3, line.days_overdue)
    sheet.text(4, line.currency)
    sheet.amount(5, line.balance, line.currency)
    sheet.text(6, line.status)  # disputed or promised ones are listed too
    sheet.row += 1


def _write_totals(sheet: SheetWriter, s: Statement) -> None:
    for currency, minor in s.totals.items():
        sheet.text(0, "Total", "bold")
        sheet.text(4, currency, "bold")
        sheet.amount(5, minor, currency, bold=True)
        sheet.row += 1


def _write_aging(sheet: SheetWriter, s: Statement) -> None:
    """One row per Tramo, one column per currency, then the Total row."""
    if not s.aging:
        return
    sheet.row += 1
    sheet.text(0, "Antigüedad de saldos", "bold")
    sheet.row += 1
    sheet.heading(("Tramo", *(a.currency for a in s.aging)))
    for bucket in BUCKETS:
        sheet.text(0, bucket)
        for col, item in enumerate(s.aging, start=1):
            sheet.amount(col, dict(item.buckets)[bucket], item.currency)
        sheet.row += 1
    sheet.text(0, "Total", "bold")
    for col, item in enumerate(s.aging, start=1):
        sheet.amount(col, item.total, item.currency, bold=True)
    sheet.row += 1


def _write_payments(sheet: SheetWriter, s: Statement) -> None:
    sheet.row += 1
    sheet.text(0, f"Pagos recibidos del {s.since:%d/%m/%Y} al {s.as_of:%d/%m/%Y}", "bold")
    sheet.row += 1
    if not s.payments:
        sheet.text(0, "No se recibieron pagos en este periodo.")
        sheet.row += 1
        return
    sheet.heading(PAYMENT_HEADERS)
    for payment in s.payments:
        sheet.day(0, payment.day)
        sheet.text(1, payment.invoice)
        sheet.amount(2, payment.amount, payment.currency)
        sheet.text(3, payment.currency)
        sheet.text(4, payment.reference)
        sheet.row += 1


def _write_paying(sheet: SheetWriter, s: Statement) -> None:
    if not s.paying:
        return
    sheet.row += 1
    sheet.text(0, "Datos para el pago", "bold")
    sheet.row += 1
    for label, value in s.paying:
        sheet.text(0, f"{label}:")
        sheet.text(1, value)
        sheet.row += 1


def unlink(wb: xlsxwriter.Workbook) -> None:
    """Break xlsxwriter's workbook <-> worksheet cycle (each worksheet keeps the bound
    `workbook.add_format`), so a statement is freed as soon as it is built: the sync
    pauses the cyclic collector while it sends, and one statement per customer of ~40 KB
    each would otherwise pile up until the send ends."""
    for ws in wb.worksheets():
        ws.workbook_add_format = None
