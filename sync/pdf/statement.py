"""A customer's statement of account (estado de cuenta) as a PDF, in memory.

The content is the domain's `Statement` (`cobranza.notices.statement`), the same one the
.xlsx is laid out from; this module only draws it with fpdf2: A4 portrait, the company
in the header, a summary (total due and aging per currency), the payment details, the
open invoices and the payments received, each table with its header row repeated on
every page, amounts right-aligned, "Página 1 de 2" at the foot. No disk, no clock.
Tables are drawn cell by cell, one line per row (a value too wide for its column is
printed smaller): five times faster than fpdf2's wrapping tables for a 2 000-invoice
statement.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos

from cobranza.book.money import format_amount
from cobranza.book.records import BUCKETS
from cobranza.notices.statement import Statement
from sync.memory import gc_paused
from sync.pdf.fonts import Fonts, choose_fonts

# fontTools logs every step of subsetting a font at INFO (~80 lines per statement): not
# for the service's log nor the command line's stderr.
logging.getLogger("fontTools").setLevel(logging.WARNING)

FONT_SIZE = 8.5
MIN_SIZE = 6.0  # a value too wide for its cell is printed smaller, down to this size
ROW = 5.0  # mm per table row
HEAD_FILL = (221, 235, 247)  # the .xlsx header colour
GREY = (90, 90, 90)


@dataclass(frozen=True)
class Column:
    title: str
    width: float  # mm
    align: str = "L"  # L, C or R (amounts)


INVOICE_COLUMNS = (
    Column("Factura", 30), Column("Emisión", 20), Column("Vencimiento", 24),
    Column("Días vencidos", 26, "R"), Column("Saldo", 36, "R"), Column("Moneda", 16, "C"),
    Column("Estatus", 34),
)
PAYMENT_COLUMNS = (
    Column("Fecha", 22), Column("Factura", 30), Column("Importe", 36, "R"),
    Column("Moneda", 16, "C"), Column("Referencia", 82),
)


def dmy(day: date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else ""


class _Document(FPDF):
    """A4 portrait with a running head (after the first page) and "Página N de M"."""

    def __init__(self, statement: Statement, fonts: Fonts) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.statement, self.typeface = statement, fonts
        fonts.install(self)
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(True, margin=16)
        self.set_title(f"Estado de cuenta {statement.customer}")
        self.set_creator("Cobranza XL")
        # Dated by its cut-off, not the clock: the same statement gives the same bytes.
        self.set_creation_date(datetime.combine(statement.as_of, time(), tzinfo=UTC))

    def use_font(self, size: float = FONT_SIZE, bold: bool = False) -> None:
        self.set_font(self.typeface.family, "B" if bold else "", size)

    def put(self, width: float, value: str, align: str = "L", border: str | int = 0,
            fill: bool = False, height: float = ROW) -> None:
        """One cell on the current line (width 0: up to the right margin). Text too wide
        for it is printed smaller (an amount or an invoice number is never cut), down to
        MIN_SIZE; only beyond that is it cut with "…"."""
        shown = self.typeface.printable(value)
        width = width or self.w - self.r_margin - self.get_x()
        room, size = width - 2 * self.c_margin, self.font_size_pt
        while self.get_string_width(shown) > room and self.font_size_pt > MIN_SIZE:
            self.set_font_size(self.font_size_pt - 0.5)
        if self.get_string_width(shown) > room:
            while shown and self.get_string_width(shown + "…") > room:
                shown = shown[:-1]
            shown += "…"
        self.cell(width, height, shown, border=border, align=align, fill=fill)
        self.set_font_size(size)

    def header(self) -> None:
        if self.page_no() == 1:
            return
        s = self.statement
        self.use_font(7.5)
        self.set_text_color(*GREY)
        self.put(0, f"Estado de cuenta · {s.customer} {s.name} · corte al {dmy(s.as_of)}")
        self.set_text_color(0)
        self.ln(ROW + 2)

    def footer(self) -> None:
        self.set_y(-12)
        self.use_font(7.5)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"Página {self.page_no()} de {{nb}}", align="C")
        self.set_text_color(0)


def statement_pdf(statement: Statement, fonts: Fonts | None = None) -> bytes:
    """The statement as PDF bytes (`fonts`: by default the computer's, `choose_fonts`).

    fontTools keeps each document's fonts (parsed, then subset) in reference cycles:
    ~3.7 MB per statement that only the cyclic collector frees, and the sync pauses it
    while sending (`sync.memory`). So the document is drawn with the collector paused
    (nothing of it grows old) and the youngest generation is collected right after: all
    of this document, and only what was allocated since the last collection."""
    with gc_paused():
        data = _draw(statement, fonts or choose_fonts())
        gc.collect(0)
    return data


def _draw(statement: Statement, fonts: Fonts) -> bytes:
    pdf = _Document(statement, fonts)
    pdf.add_page()
    _letterhead(pdf, statement)
    _summary(pdf, statement)
    _paying(pdf, statement)
    _invoices(pdf, statement)
    _payments(pdf, statement)
    return bytes(pdf.output())


def _letterhead(pdf: _Document, s: Statement) -> None:
    """Company on the left, the document and the customer on the right."""
    top, half = pdf.get_y(), pdf.epw / 2
    company = dict(s.company)
    pdf.use_font(13, bold=True)
    pdf.put(half, company.get("Empresa", ""), height=7)
    pdf.ln(7)
    pdf.use_font()
    for label, value in s.company:
        if label != "Empresa":  # the name and address as they are, the rest labelled
            text = value if label in ("Razón social", "Domicilio") else f"{label}: {value}"
            pdf.multi_cell(half, 4.5, pdf.typeface.printable(text), align="L",
                           new_x="LMARGIN", new_y="NEXT")
    left_end = pdf.get_y()
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.use_font(13, bold=True)
    pdf.put(half, "Estado de cuenta", align="R", height=7)
    pdf.set_xy(pdf.l_margin + half, top + 7)
    pdf.use_font()
    for text in (f"Cliente: {s.customer}", s.name, f"Fecha de corte: {dmy(s.as_of)}"):
        if text:
            pdf.put(half, text, align="R", height=4.5)
            pdf.set_xy(pdf.l_margin + half, pdf.get_y() + 4.5)
    pdf.set_xy(pdf.l_margin, max(left_end, pdf.get_y()) + 3)
    pdf.set_draw_color(160)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.l_margin + pdf.epw, pdf.get_y())
    pdf.ln(3)


def _title(pdf: _Document, text: str) -> None:
    if pdf.will_page_break(4 * ROW):
        pdf.add_page()
    pdf.ln(2)
    pdf.use_font(10.5, bold=True)
    pdf.put(0, text, height=7)
    pdf.ln(7)
    pdf.use_font()


def _summary(pdf: _Document, s: Statement) -> None:
    """Total due per currency, then the aging table: one row per Tramo, one column per
    currency."""
    _title(pdf, "Resumen")
    if not s.aging:
        pdf.put(0, "No tiene saldo pendiente.")
        pdf.ln(ROW)
        return
    pdf.use_font(bold=True)
    for item in s.aging:
        pdf.put(60, f"Total a pagar en {item.currency}:")
        pdf.put(40, format_amount(item.total, item.currency), align="R")
        pdf.ln(ROW)
    pdf.ln(2)
    pdf.use_font()
    columns = (Column("Antigüedad de saldos", 50),
               *(Column(a.currency, 40, "R") for a in s.aging))
    rows = [(bucket, *(format_amount(dict(a.buckets)[bucket], a.currency) for a in s.aging))
            for bucket in BUCKETS]
    _table(pdf, columns, rows)
    pdf.use_font(bold=True)
    _row(pdf, columns, ("Total", *(format_amount(a.total, a.currency) for a in s.aging)),
         border="T")
    pdf.use_font()


def _paying(pdf: _Document, s: Statement) -> None:
    if not s.paying:
        return
    _title(pdf, "Datos para el pago")
    for label, value in s.paying:
        pdf.use_font(bold=True)
        pdf.put(38, f"{label}:")
        pdf.use_font()
        if label == "Enlace de pago":  # a long link wraps (no spaces: at any character)
            pdf.set_text_color(0, 70, 160)
            pdf.multi_cell(pdf.epw - 38, ROW, pdf.typeface.printable(value), link=value,
                           wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(0)
        else:
            pdf.put(pdf.epw - 38, value)
            pdf.ln(ROW)


def _invoices(pdf: _Document, s: Statement) -> None:
    _title(pdf, f"Facturas pendientes ({len(s.lines)})")
    if not s.lines:
        pdf.put(0, "No tiene facturas pendientes.")
        pdf.ln(ROW)
        return
    rows = [(ln.invoice, dmy(ln.issued), dmy(ln.due), str(ln.days_overdue),
             format_amount(ln.balance, ln.currency), ln.currency, ln.status) for ln in s.lines]
    _table(pdf, INVOICE_COLUMNS, rows)
    pdf.use_font(bold=True)
    for i, (currency, minor) in enumerate(s.totals.items()):
        _row(pdf, INVOICE_COLUMNS, (f"Total {currency}", "", "", "",
                                   format_amount(minor, currency), currency, ""),
             border=0 if i else "T")
    pdf.use_font()


def _payments(pdf: _Document, s: Statement) -> None:
    _title(pdf, f"Pagos recibidos del {dmy(s.since)} al {dmy(s.as_of)}")
    if not s.payments:
        pdf.put(0, "No se recibieron pagos en este periodo.")
        pdf.ln(ROW)
        return
    rows = [(dmy(p.day), p.invoice, format_amount(p.amount, p.currency), p.currency,
             p.reference) for p in s.payments]
    _table(pdf, PAYMENT_COLUMNS, rows)


def _table(pdf: _Document, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    """Header row, then the rows; the header is drawn again at the top of each new page."""
    _heading(pdf, columns)
    for values in rows:
        if pdf.will_page_break(ROW):
            pdf.add_page()
            _heading(pdf, columns)
        _row(pdf, columns, values)


def _heading(pdf: _Document, columns: Sequence[Column]) -> None:
    pdf.use_font(bold=True)
    pdf.set_fill_color(*HEAD_FILL)
    _row(pdf, columns, [c.title for c in columns], border="B", fill=True)
    pdf.use_font()


def _row(pdf: _Document, columns: Sequence[Column], values: Sequence[str],
         border: str | int = 0, fill: bool = False) -> None:
    for column, value in zip(columns, values, strict=True):
        pdf.put(column.width, value, column.align, border=border, fill=fill)
    pdf.ln(ROW)
