"""A customer email lists at most 50 invoices, then "y N facturas más: vea el estado de
cuenta adjunto" and attaches the statement, which lists them all (issue 13)."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

from book_factory import make_book
from pypdf import PdfReader

from cobranza.notices.messages import Line, Outgoing, Part, notice_key, with_parts
from cobranza.rendering.render import render_message, render_outgoing
from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows

AT = "2026-12-15T10:00"  # Tuesday: VENCIDA_1 of invoices due on the 14th, no statement day
MORE = "y 3 facturas más: vea el estado de cuenta adjunto."


def invoices(customer: str, n: int) -> list[dict]:
    return [{"Factura": f"{customer}-{i:03d}", "Cliente": customer,
             "Emisión": datetime(2026, 11, 14), "Vencimiento": datetime(2026, 12, 14),
             "Moneda": "MXN", "Importe": 1000 + i} for i in range(1, n + 1)]


def test_53_invoices_list_50_and_attach_the_statement_with_all(tmp_path: Path) -> None:
    """GRANDE owes 53 invoices due yesterday: its VENCIDA_1 email lists the first 50,
    says 3 more, and carries the statement (PDF and .xlsx) listing all 53; Envíos and the
    ledger count all 53 as told. JUSTO owes exactly 50: all listed, nothing attached."""
    book = create_workbook(tmp_path / "cobranza.xlsm", as_of=date(2026, 12, 15))
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": f"pagos@{c.lower()}.mx",
                      "Avisos automáticos": "Sí", "Zona horaria": "America/Mexico_City"}
                     for c in ("GRANDE", "JUSTO")],
        "Facturas": invoices("GRANDE", 53) + invoices("JUSTO", 50)})
    with SmtpTestServer() as server:
        sync(book, AT, server)
        emails = {str(m.message["To"]): m for m in server.received()}
    big = emails["pagos@grande.mx"]
    assert str(big.message["X-Cobranza-Avisos"]) == "VENCIDA_1"
    listed = [ln for ln in big.body().splitlines() if ln.startswith("- Factura ")]
    assert [ln.split()[2].rstrip(",") for ln in listed] == [f"GRANDE-{i:03d}"
                                                            for i in range(1, 51)]
    body = big.body().splitlines()
    assert body[body.index(listed[-1]) + 1] == MORE
    assert "GRANDE-051" not in big.body()
    html = big.message.get_body(preferencelist=("html",)).get_content()
    cells = [c.split("</td>")[0] for c in html.split("<td ")[1:]]
    cells = [c.split(">", 1)[1] for c in cells]
    assert [c for c in cells if c.startswith("GRANDE-")] == [f"GRANDE-{i:03d}"
                                                             for i in range(1, 51)]
    assert MORE in cells and f"${sum(1000 + i for i in range(1, 54)):,}.00 MXN" in cells
    attached = {a.get_filename(): a for a in big.message.iter_attachments()}
    assert {n: a.get_content_type() for n, a in attached.items()} == {
        "estado-de-cuenta-GRANDE-2026-12.pdf": "application/pdf",
        "estado-de-cuenta-GRANDE-2026-12.xlsx":
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    pdf = attached["estado-de-cuenta-GRANDE-2026-12.pdf"].get_content()
    text = [ln.split() for p in PdfReader(io.BytesIO(pdf)).pages
            for ln in p.extract_text().splitlines()]
    rows = [r for r in text if r and r[0].startswith("GRANDE-")]
    assert [(r[0], r[4], r[5]) for r in rows] == [
        (f"GRANDE-{i:03d}", f"${1000 + i:,}.00", "MXN") for i in range(1, 54)]
    total = sum(1000 + i for i in range(1, 54))
    assert ["Total", "MXN", f"${total:,}.00", "MXN", "MXN"] in text
    sent = {r[4]: r for r in table(book, "Envíos", "Fecha") if r[2] == "VENCIDA_1"}
    assert sent["pagos@grande.mx"][5] == ", ".join(f"GRANDE-{i:03d}" for i in range(1, 54))

    fifty = emails["pagos@justo.mx"]
    assert len([ln for ln in fifty.body().splitlines() if ln.startswith("- Factura ")]) == 50
    assert "facturas más" not in fifty.body() and list(fifty.message.iter_attachments()) == []


# ------------------------------------------------------------------ where the sentence goes

LINES = tuple(Line(f"F-{i:02d}", "C1", date(2026, 12, 14), 1, 100_00, "MXN")
              for i in range(1, 54))


def message(body: str) -> Outgoing:
    keys = tuple(notice_key("C1", ln.invoice, "VENCIDA_1") for ln in LINES)
    item = Outgoing(kind="aviso", code="VENCIDA_1", recipient="C1", to=("c1@x.mx",), cc=(),
                    template="VENCIDA_1", lines=LINES, keys=keys)
    return with_parts(item, (Part("VENCIDA_1", "VENCIDA_1", LINES, keys),))


def rendered(body: str, frames: tuple[str, str] | None = None) -> str:
    templates = [("VENCIDA_1", "Aviso", body, True)]
    if frames:
        templates += [("ENCABEZADO", "", frames[0], True), ("PIE", "", frames[1], True)]
    book = make_book(customers=[{"customer": "C1", "name": "Uno", "emails": "c1@x.mx"}],
                     templates=templates)
    result = render_message(message(body), book, date(2026, 12, 15))
    assert result.rendered.error == ""
    return result.rendered.body


LIST = "Vencidas:\n{% for f in facturas -%}\n- {{ f.factura }}\n{% endfor %}\nGracias.\n"


def test_the_sentence_follows_the_last_invoice_listed_and_totals_count_them_all() -> None:
    body = rendered(LIST + "{% for t in totales %}Total: {{ t.saldo }}{% endfor %}")
    assert body == ("Vencidas:\n" + "".join(f"- F-{i:02d}\n" for i in range(1, 51)) + MORE
                    + "\n\nGracias.\nTotal: $5,300.00 MXN")


def test_the_sentence_ends_the_first_list_when_a_second_one_repeats_invoices() -> None:
    """Like NUEVA's list of early-payment discounts after the list of invoices."""
    second = "{% for f in facturas %}- {{ f.factura }} con descuento\n{% endfor %}"
    body = rendered(LIST + second).splitlines()
    assert body[body.index("- F-50") + 1] == MORE
    assert body[-1] == "- F-50 con descuento" and body.count(MORE) == 1


def test_a_template_that_places_facturas_mas_itself_gets_no_second_sentence() -> None:
    own = ("{% for f in facturas %}{{ f.factura }} {% endfor %}"
           "{% if facturas_mas %}(+{{ facturas_mas }} en el adjunto){% endif %}")
    assert rendered(own).endswith("F-50 (+3 en el adjunto)")


def test_a_template_that_lists_no_invoices_gets_no_sentence() -> None:
    assert rendered("Tiene facturas vencidas.") == "Tiene facturas vencidas."


def test_the_sentence_ends_a_list_that_names_no_invoice_number() -> None:
    """A list that prints only amounts: the sentence closes the text."""
    assert rendered("{% for f in facturas %}{{ f.saldo }}\n{% endfor %}").endswith(
        "$100.00 MXN\n\nY 3 facturas más: vea el estado de cuenta adjunto.\n")


def test_encabezado_and_pie_see_at_most_50_invoices_too() -> None:
    body = rendered("Aviso.", ("Hola{% for f in facturas %} {{ f.factura }}{% endfor %}",
                               "Adiós ({{ facturas|length }} + {{ facturas_mas }})"))
    assert body.splitlines() == [
        "Hola " + " ".join(f"F-{i:02d}" for i in range(1, 51)), MORE, "", "Aviso.", "",
        "Adiós (50 + 3)"]


def test_internal_digests_list_every_invoice() -> None:
    item = Outgoing(kind="resumen", code="RESUMEN_ACCIONES", recipient="t@x.mx",
                    to=("t@x.mx",), cc=(), template="RESUMEN_ACCIONES", lines=LINES, keys=())
    book = make_book(templates=[("RESUMEN_ACCIONES", "s", LIST, True)])
    body = render_outgoing(item, book, date(2026, 12, 15)).body
    assert body.count("- F-") == 53 and "más" not in body
