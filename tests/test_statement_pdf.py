"""The statement of account as PDF and .xlsx (issue 13), through the real `cobranza sync`,
a real SMTP server and the ribbon: the PDF's text (read back with pypdf) must say what
the workbook says: each open invoice and its balance (the disputed one marked), the
payments of the last 30 days and not an older one nor another customer's, the aging and
the total due per currency, the company's identification and the CLABE."""

from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from pypdf import PdfReader

from addin import ribbon
from addin.book import FileBook
from cobranza.book.money import format_amount
from cobranza.notices.messages import Line
from cobranza.notices.statement import Statement, aging
from sync.pdf.fonts import Fonts, choose_fonts
from sync.pdf.statement import statement_pdf
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.cli import cobranza
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, save_atomically

AS_OF = date(2026, 12, 1)  # Tuesday: the first business day of December (ESTADO_MENSUAL)
AT = "2026-12-01T10:00"
NAME = "Distribuidora Ñandú, Álvarez & Müller Łódź"  # ñ á ü, and Ł ź outside Latin-1
CLABE = "012180001234567897"
PARAMETERS = {
    "Empresa": "Aceros del Bajío",
    "Razón social": "Aceros del Bajío, S.A. de C.V.",
    "RFC": "ABA010203XY4",
    "Domicilio": "Blvd. Adolfo López Mateos 1502, León, Gto.",
    "Teléfono de cobranza": "477 123 4567",
    "Horario de atención": "lunes a viernes de 9:00 a 18:00",
    "Banco": "BBVA México",
    "Cuenta": CLABE,
    "Beneficiario": "Aceros del Bajío, S.A. de C.V.",
    "Enlace de pago": "https://pagos.acerosbajio.mx/pagar?cliente={cliente}",
}
CUSTOMERS = [
    {"Cliente": "NANDU01", "Nombre": NAME, "Email": "pagos@nandu.mx"},
    {"Cliente": "OTRO01", "Nombre": "Otro Cliente", "Email": "pagos@otro.mx"},
]
# (Factura, Cliente, Emisión, Vencimiento, Moneda, Importe)
INVOICES = [
    ("F-100", "NANDU01", date(2026, 10, 1), date(2026, 10, 31), "MXN", 1500),
    ("F-101", "NANDU01", date(2026, 11, 10), date(2026, 12, 10), "MXN", 2345.67),
    ("F-102", "NANDU01", date(2026, 10, 21), date(2026, 11, 20), "MXN", 800),
    ("F-103", "NANDU01", date(2026, 7, 16), date(2026, 8, 15), "USD", 1200.5),
    ("F-104", "NANDU01", date(2026, 8, 21), date(2026, 9, 20), "USD", 300),
    ("F-105", "NANDU01", date(2026, 10, 2), date(2026, 11, 1), "MXN", 400),
    ("F-200", "OTRO01", date(2026, 10, 2), date(2026, 11, 1), "MXN", 999),
]
# (Fecha, Factura, Importe, Referencia)
PAYMENTS = [
    (date(2026, 11, 20), "F-100", 500, "SPEI 88231"),
    (date(2026, 10, 31), "F-104", 100, "SPEI 70001"),  # 31 days before: not listed
    (date(2026, 11, 1), "F-105", 400, "SPEI 70002"),  # 30 days before: listed
    (date(2026, 11, 25), "F-200", 50, "SPEI 99999"),  # another customer's
]
# What the statement of NANDU01 on 1 December must say.
OPEN = [  # by due date: (Factura, Saldo, Moneda, Días vencidos, Estatus)
    ("F-103", 120050, "USD", 108, "En acción"),
    ("F-104", 20000, "USD", 72, "En acción"),
    ("F-100", 100000, "MXN", 31, "Vencida"),
    ("F-102", 80000, "MXN", 11, "Disputa"),
    ("F-101", 234567, "MXN", -9, "Por vencer"),
]
RECEIVED = [("01/11/2026", "F-105", 40000, "MXN", "SPEI 70002"),
            ("20/11/2026", "F-100", 50000, "MXN", "SPEI 88231")]
AGING = {  # Tramo -> (USD, MXN) in minor units
    "Por vencer": (0, 234567), "1-30": (0, 80000), "31-60": (0, 100000),
    "61-90": (20000, 0), "91+": (120050, 0),
}
TOTALS = {"USD": 140050, "MXN": 414567}


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def set_parameters(path: Path, values: dict[str, str]) -> None:
    """Type the Valor of each Configuración parameter, as a user does."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb["Configuración"]
    rows = {ws.cell(row=r, column=1).value: r for r in range(2, ws.max_row + 1)}
    for name, value in values.items():
        ws.cell(row=rows[name], column=2, value=value)
    save_atomically(wb, path)


@pytest.fixture
def workbook(tmp_path: Path) -> Path:
    path = create_workbook(tmp_path / "cobranza.xlsm", as_of=AS_OF)
    set_parameters(path, PARAMETERS)
    append_rows(path, {
        "Clientes": [{**c, "Avisos automáticos": "Sí", "Zona horaria": "America/Mexico_City"}
                     for c in CUSTOMERS],
        "Facturas": [{"Factura": f, "Cliente": c, "Emisión": midnight(i),
                      "Vencimiento": midnight(d), "Moneda": m, "Importe": a}
                     for f, c, i, d, m, a in INVOICES],
        "Pagos": [{"Fecha": midnight(d), "Factura": f, "Importe": a, "Referencia": r}
                  for d, f, a, r in PAYMENTS],
        "Gestiones": [{"Fecha": datetime(2026, 11, 25), "Cliente": "NANDU01", "Factura": "F-102",
                       "Resultado": "Disputa", "Comentario": "Material dañado"}],
    })
    return path


def pdf_lines(data: bytes) -> list[str]:
    """The PDF's text, one line per text line, spaces collapsed."""
    pages = PdfReader(io.BytesIO(data)).pages
    return [" ".join(ln.split()) for p in pages for ln in p.extract_text().splitlines()
            if ln.strip()]


def section(lines: list[str], start: str, end: str | None) -> list[str]:
    first = next(i for i, ln in enumerate(lines) if ln.startswith(start))
    last = next((i for i, ln in enumerate(lines) if end and ln.startswith(end)), len(lines))
    return lines[first + 1:last]


def money(minor: int, currency: str) -> str:
    return format_amount(minor, currency)


def assert_pdf_says_the_statement(data: bytes) -> None:
    lines = pdf_lines(data)
    # company, customer (its name exactly as written), cut-off
    for text in ("Aceros del Bajío", "Aceros del Bajío, S.A. de C.V.", "RFC: ABA010203XY4",
                 "Blvd. Adolfo López Mateos 1502, León, Gto.",
                 "Teléfono de cobranza: 477 123 4567",
                 "Horario de atención: lunes a viernes de 9:00 a 18:00",
                 "Cliente: NANDU01", NAME, "Fecha de corte: 01/12/2026"):
        assert text in lines, text
    # open invoices: each with its dates, days, balance, currency and Estatus
    due = {f: (i, d) for f, _, i, d, _, _ in INVOICES}
    rows = section(lines, "Factura Emisión Vencimiento", "Total USD")
    assert rows == [f"{f} {due[f][0]:%d/%m/%Y} {due[f][1]:%d/%m/%Y} {days} "
                    f"{money(minor, cur)} {cur} {status}" for f, minor, cur, days, status in OPEN]
    assert f"Total USD {money(TOTALS['USD'], 'USD')} USD" in lines
    assert f"Total MXN {money(TOTALS['MXN'], 'MXN')} MXN" in lines
    # total due and aging per currency
    for cur, minor in TOTALS.items():
        assert f"Total a pagar en {cur}: {money(minor, cur)}" in lines
    aging = section(lines, "Antigüedad de saldos USD MXN", "Datos para el pago")
    assert aging == [f"{tramo} {money(usd, 'USD')} {money(mxn, 'MXN')}"
                     for tramo, (usd, mxn) in AGING.items()] + [
        f"Total {money(TOTALS['USD'], 'USD')} {money(TOTALS['MXN'], 'MXN')}"]
    # payments of the last 30 days only, of this customer only
    paid = section(lines, "Pagos recibidos del 01/11/2026 al 01/12/2026", "Página")
    assert paid == ["Fecha Factura Importe Moneda Referencia"] + [
        f"{day} {f} {money(minor, cur)} {cur} {ref}" for day, f, minor, cur, ref in RECEIVED]
    # payment details
    for text in ("Banco: BBVA México", f"Cuenta: {CLABE}",
                 "Beneficiario: Aceros del Bajío, S.A. de C.V.", "Referencia de pago: NANDU01",
                 "Enlace de pago: https://pagos.acerosbajio.mx/pagar?cliente=NANDU01"):
        assert text in lines, text
    assert lines[-1] == "Página 1 de 1"


def xlsx_rows(data: bytes) -> list[tuple]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return [r for r in ws.iter_rows(values_only=True)]


def assert_xlsx_says_the_statement(data: bytes) -> None:
    """The .xlsx holds the same numbers (major units, as Excel shows them)."""
    rows = xlsx_rows(data)
    start = rows.index(("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda",
                        "Saldo", "Estatus"))
    listed = [(r[0], r[5], r[4], r[3], r[6]) for r in rows[start + 1:start + 1 + len(OPEN)]]
    assert listed == [(f, minor / 100, cur, days, status) for f, minor, cur, days, status in OPEN]
    aging = rows.index(("Tramo", "USD", "MXN", None, None, None, None))
    assert [r[:3] for r in rows[aging + 1:aging + 7]] == [
        (tramo, usd / 100, mxn / 100) for tramo, (usd, mxn) in AGING.items()] + [
        ("Total", TOTALS["USD"] / 100, TOTALS["MXN"] / 100)]
    paid = rows.index(("Fecha", "Factura", "Importe", "Moneda", "Referencia", None, None))
    assert [(f"{r[0]:%d/%m/%Y}", *r[1:5]) for r in rows[paid + 1:paid + 3]] == [
        (day, f, minor / 100, cur, ref) for day, f, minor, cur, ref in RECEIVED]
    assert rows[paid + 3][0] != "31/10/2026" and ("Cuenta:", CLABE) in [r[:2] for r in rows]


def test_the_monthly_email_attaches_the_statement_as_pdf_and_xlsx(workbook: Path) -> None:
    with SmtpTestServer() as server:
        done = cobranza("sync", workbook, "--as-of", AT, cwd=workbook.parent, server=server)
        received = server.received()
    assert "subset" not in done.stderr  # fontTools' INFO lines stay out of the log
    (email,) = [m for m in received if "pagos@nandu.mx" in str(m.message["To"])]
    assert "ESTADO_MENSUAL" in str(email.message["X-Cobranza-Avisos"])
    attached = list(email.message.iter_attachments())
    assert [(a.get_filename(), a.get_content_type()) for a in attached] == [
        ("estado-de-cuenta-NANDU01-2026-12.pdf", "application/pdf"),
        ("estado-de-cuenta-NANDU01-2026-12.xlsx",
         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")]
    pdf, xlsx = (a.get_content() for a in attached)
    assert_pdf_says_the_statement(pdf)
    assert_xlsx_says_the_statement(xlsx)


def test_the_ribbon_writes_the_same_statement_beside_the_workbook(workbook: Path) -> None:
    book = read_book(workbook)
    row = int(book.customers.set_index("customer").at["NANDU01", "row"])
    io_ = FileBook(workbook, selection={"Clientes": [row]})
    pdf, xlsx = ribbon.estado_de_cuenta(io_, datetime(2026, 12, 1, 10, 0))
    assert (pdf.name, xlsx.name) == ("estado-de-cuenta-NANDU01-2026-12.pdf",
                                     "estado-de-cuenta-NANDU01-2026-12.xlsx")
    assert pdf.parent == xlsx.parent == workbook.parent and io_.opened == [xlsx]
    assert_pdf_says_the_statement(pdf.read_bytes())
    assert_xlsx_says_the_statement(xlsx.read_bytes())


# ------------------------------------------------------------------ fonts and pages


def statement(n: int, name: str = NAME) -> Statement:
    lines = tuple(Line(f"F-{i:05d}", "C1", AS_OF - timedelta(days=i % 90), i % 90, 100_00 + i,
                       "MXN", issued=date(2026, 1, 2), status="Vencida") for i in range(n))
    return Statement(
        customer="C1", name=name, as_of=AS_OF, company=(("Empresa", "Aceros del Bajío"),),
        lines=lines, since=AS_OF - timedelta(days=30), payments=(), aging=aging(lines),
        paying=(("Cuenta", CLABE),))


def test_the_truetype_font_prints_any_name_and_the_fallback_replaces_what_it_lacks() -> None:
    """With DejaVu Sans (Debian's fonts-dejavu-core) the name prints as written; with the
    PDF's core Helvetica the Spanish letters stay and Ł (outside Windows-1252) becomes
    "?", ź loses its accent; a Chinese name in DejaVu Sans (no such glyphs) gets "?"."""
    fonts = choose_fonts()
    assert fonts.regular is not None and fonts.regular.name == "DejaVuSans.ttf"
    assert NAME in pdf_lines(statement_pdf(statement(3), fonts))
    core = pdf_lines(statement_pdf(statement(3), Fonts()))
    assert "Distribuidora Ñandú, Álvarez & Müller ?ódz" in core
    chinese = pdf_lines(statement_pdf(statement(3, "Ñandú 上海贸易"), fonts))
    assert "Ñandú ????" in chinese


def test_a_statement_of_2000_invoices_has_pages_and_a_header_row_on_each() -> None:
    lines = pdf_lines(statement_pdf(statement(2000)))
    pages = int(re.fullmatch(r"Página 1 de (\d+)", next(
        ln for ln in lines if ln.startswith("Página 1 de "))).group(1))
    assert pages > 30
    assert [ln for ln in lines if ln.startswith("Página ")] == [
        f"Página {i} de {pages}" for i in range(1, pages + 1)]
    heads = [ln for ln in lines if ln == "Factura Emisión Vencimiento Días vencidos Saldo "
             "Moneda Estatus"]
    assert len(heads) == pages  # the table runs over every page: its header on each
    invoices = [ln.split()[0] for ln in lines if ln.startswith("F-")]
    assert invoices == [f"F-{i:05d}" for i in range(2000)]
    assert f"Total MXN {money(sum(100_00 + i for i in range(2000)), 'MXN')} MXN" in lines


def test_a_long_payment_link_wraps_whole_within_the_page() -> None:
    """The link of a customer with many invoices is longer than the page is wide: it
    wraps (at any character: it has no spaces) instead of running off the page."""
    link = "https://pagos.miempresa.com/pagar?cliente=C1&factura=" + "%2C".join(
        f"F-{i:06d}" for i in range(20))
    data = statement_pdf(replace(statement(3), paying=(("Enlace de pago", link),)))
    lines = pdf_lines(data)
    start = next(i for i, ln in enumerate(lines) if "https://pagos" in ln)
    end = next(i for i, ln in enumerate(lines) if ln.startswith("Facturas pendientes"))
    shown = [ln.replace("Enlace de pago:", "").strip() for ln in lines[start:end]]
    assert len(shown) > 1 and "".join(shown) == link
