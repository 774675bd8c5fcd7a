"""A customer's statement of account (estado de cuenta) as .xlsx bytes.

Used as the ESTADO_MENSUAL attachment and by the ribbon's "Estado de cuenta" button.
Built in memory with xlsxwriter: no disk, no clock (the cut-off date is an argument).
Text from the data is written with `write_string`, never as a formula.
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

HEADERS = ("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda", "Saldo")
HEADER_ROW = 5  # 0-based row of the column headers (Excel row 6)


def _date(value: object) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def statement_lines(invoices: pd.DataFrame, customer: str) -> tuple[Line, ...]:
    """Open invoices (balance > 0) of `customer` from `compute_invoices`, by due date."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return ()
    rows = invoices[(invoices["customer"] == customer) & (invoices["balance"] > 0)]
    return tuple(_lines(rows.sort_values(["due", "invoice"], kind="stable")))


def all_statement_lines(invoices: pd.DataFrame) -> dict[str, tuple[Line, ...]]:
    """`statement_lines` of every customer in one pass: a monthly run has thousands of
    statements, and filtering the invoices once per customer grows with both."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return {}
    rows = invoices[invoices["balance"] > 0].sort_values(["customer", "due", "invoice"],
                                                         kind="stable")
    out: dict[str, list[Line]] = {}
    for line in _lines(rows):
        out.setdefault(line.customer, []).append(line)
    return {customer: tuple(lines) for customer, lines in out.items()}


def _lines(rows: pd.DataFrame) -> list[Line]:
    return [  # records, not itertuples: that makes a namedtuple class (a cycle) per call
        Line(
            invoice=str(r["invoice"]),
            customer=str(r["customer"]),
            due=_date(r["due"]),
            days_overdue=int(r["days_overdue"]),
            balance=int(r["balance"]),
            currency=str(r["currency"]),
            issued=_date(r.get("issued")),
            status=str(r.get("status", "")),
        )
        for r in rows.to_dict("records")
    ]


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


def _write_totals(ws, wb, fmt: dict, row: int, lines: Sequence[Line]) -> None:
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, 0) + line.balance
    for currency, minor in sums.items():
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
