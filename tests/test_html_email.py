"""Customer emails are multipart/alternative: the plain text, and an HTML part with the
invoices as a table, totals per currency and the payment link (issue 13).

Before: every email was text/plain only. A real workbook (`cobranza init` + typed rows,
hostile texts included), a real `cobranza sync`, a real SMTP server (or the outbox), and
the HTML part parsed by html.parser and rendered by LibreOffice.
"""

from __future__ import annotations

import email
import re
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest

from cobranza.notices.messages import Line
from cobranza.rendering.html import email_html, linked, pay_button
from cobranza.rendering.render import Rendered
from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.lo import HTML_IMPORT, convert_to_pdf
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, set_cells

HOSTILE = '<script>alert(1)</script> & "Cía" <img src=x onerror=y>'
COMPANY = 'Ferretería <López> & "Hijos"'
LINK = ("https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}"
        "&monto={importe}&m={moneda}")
HEADER = "Atención: {{ cliente.nombre }}\n\nEstimado cliente:\n"
FOOTER = ("Atentamente,\n\n{{ remitente }}\n{{ empresa }}\n"
          "Dudas: <cobranza@miempresa.com> o https://pagos.miempresa.com/ayuda?x=1&y=2.\n")
FOOTER_TEXT = ["Atentamente,", f"Cobranza\n{COMPANY}\nDudas: <cobranza@miempresa.com> o "
               "https://pagos.miempresa.com/ayuda?x=1&y=2."]


def make_workbook(folder: Path) -> Path:
    """On 25/11/2026, C1 (hostile name): two MXN and one USD invoice 15 days overdue
    (VENCIDA_15), one USD invoice due in 3 days (PREVIO); C2: one 61 days (SUSPENSION_60)."""
    book = create_workbook(folder / "cobranza.xlsm")
    sent = {"Emisión": datetime(2026, 10, 1), "Vencimiento": datetime(2026, 11, 10)}
    append_rows(book, {
        "Clientes": [{"Cliente": "C1", "Nombre": HOSTILE, "Email": "pagos@uno.mx"},
                     {"Cliente": "C2", "Nombre": "Dos", "Email": "pagos@dos.mx"}],
        "Facturas": [
            {**sent, "Factura": "F-<b>1</b>", "Cliente": "C1", "Moneda": "MXN", "Importe": 1500.10},
            {**sent, "Factura": "F-2", "Cliente": "C1", "Moneda": "MXN", "Importe": 2000.20},
            {**sent, "Factura": "F-3", "Cliente": "C1", "Moneda": "USD", "Importe": 10.01},
            {"Factura": "F-4", "Cliente": "C1", "Moneda": "USD", "Importe": 20.02,
             "Emisión": datetime(2026, 10, 20), "Vencimiento": datetime(2026, 11, 28)},
            {"Factura": "G-1", "Cliente": "C2", "Moneda": "MXN", "Importe": 100.0,
             "Emisión": datetime(2026, 8, 1), "Vencimiento": datetime(2026, 9, 25)},
        ],
    })
    for parameter, value in (("Enlace de pago", LINK), ("Empresa", COMPANY)):
        set_cells(book, "Configuración", ("Parámetro", parameter), {"Valor": value})
    for code, body in (("ENCABEZADO", HEADER), ("PIE", FOOTER)):
        set_cells(book, "Plantillas", ("Código", code), {"Cuerpo": body})
    return book


class Page(HTMLParser):
    """The HTML part as a reader sees it: its blocks in order (the company line, each
    paragraph's text with <br> as a line break, each table's rows of cell texts), every
    tag with its attributes, and every link."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, object]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.links: list[tuple[str | None, str]] = []
        self._text: list[str] | None = None
        self._divs = 0  # the company line is the div inside the page's div
        self._rows: list[list[str]] = []
        self._href: str | None = None
        self._link_text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._divs += tag == "div"
        if tag in ("p", "td", "th") or (tag == "div" and self._divs == 2):
            self._text = []
        elif tag == "br" and self._text is not None:
            self._text.append("\n")
        elif tag == "table":
            self._rows = []
        elif tag == "tr":
            self._rows.append([])
        elif tag == "a":
            self._href, self._link_text = dict(attrs).get("href"), []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._text is not None:
            self._rows[-1].append("".join(self._text))
            self._text = None
        elif tag in ("p", "div") and self._text is not None:
            # "<br>\n": the source's own line end after a <br> is not text
            self.blocks.append((tag, "".join(self._text).replace("\n\n", "\n")))
            self._text = None
        if tag == "div":
            self._divs -= 1
        elif tag == "table":
            self.blocks.append(("table", [tuple(r) for r in self._rows]))
        elif tag == "a":
            self.links.append((self._href, "".join(self._link_text)))
            self._href = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)
        if self._href is not None:
            self._link_text.append(data)


def html_part(message: EmailMessage) -> str:
    """The HTML part's text with wire CRLF line ends turned into "\n"."""
    return message.get_body(preferencelist=("html",)).get_content().replace("\r\n", "\n")


def paragraphs(text: str) -> list[str]:
    """The plain text's blocks between blank lines, as the HTML part shows them."""
    blocks = (block.strip("\n") for block in re.split(r"\n\s*\n", text))
    return ["\n".join(line.rstrip() for line in b.split("\n")) for b in blocks if b.strip()]


@pytest.fixture(scope="module")
def sent(tmp_path_factory) -> tuple[Path, dict[str, EmailMessage]]:
    book = make_workbook(tmp_path_factory.mktemp("html"))
    with SmtpTestServer() as server:
        sync(book, "2026-11-25T10:00", server)
        received = server.received()
    return book, {r.rcpt_tos[0]: r for r in received}


def test_a_customer_email_is_the_plain_text_and_an_html_part(sent):
    book, received = sent
    assert sorted(received) == ["pagos@dos.mx", "pagos@uno.mx", "tesoreria@miempresa.com"]
    message = received["pagos@uno.mx"].message
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    # the plain text is the one the team previews (the cell without the final line end)
    preview = {row[2]: row[6] for row in table(book, "Vista previa", "Código")}  # Para: Cuerpo
    assert received["pagos@uno.mx"].body() == preview["pagos@uno.mx"] + "\n"
    # the digest is internal mail: plain text only
    digest = received["tesoreria@miempresa.com"].message
    assert digest.get_content_type() == "text/plain"


def test_the_html_part_says_the_text_and_tables_the_invoices_before_the_pie(sent):
    _, received = sent
    page = Page(html_part(received["pagos@uno.mx"].message))
    text = paragraphs(received["pagos@uno.mx"].body())
    assert text[0] == f"Atención: {HOSTILE}" and text[-2:] == FOOTER_TEXT
    rows = [
        ("Factura", "Vencimiento", "Días vencidos", "Saldo", "Moneda"),
        ("F-2", "10/11/2026", "15", "$2,000.20 MXN", "MXN"),
        ("F-3", "10/11/2026", "15", "$10.01 USD", "USD"),
        ("F-<b>1</b>", "10/11/2026", "15", "$1,500.10 MXN", "MXN"),
        ("F-4", "28/11/2026", "-3", "$20.02 USD", "USD"),  # not yet due
        ("Total", "$3,500.30 MXN", "MXN"),
        ("Total", "$30.03 USD", "USD"),
    ]
    assert page.blocks == [
        ("div", COMPANY),
        *[("p", block) for block in text[:-2]],
        ("table", rows),
        ("p", "Pagar en línea"),
        *[("p", block) for block in text[-2:]],
    ]


def test_the_payment_link_is_the_url_encoded_link_of_the_email(sent):
    _, received = sent
    one, two = (Page(html_part(received[a].message)) for a in ("pagos@uno.mx", "pagos@dos.mx"))
    invoices = "F-2%2CF-3%2CF-%3Cb%3E1%3C%2Fb%3E%2CF-4"  # two currencies: no amount
    assert one.links == [
        (f"https://pagos.miempresa.com/pagar?cliente=C1&factura={invoices}&monto=&m=",
         "Pagar en línea"),
        ("https://pagos.miempresa.com/ayuda?x=1&y=2", "https://pagos.miempresa.com/ayuda?x=1&y=2"),
    ]
    assert one.links[0] != two.links[0] == (
        "https://pagos.miempresa.com/pagar?cliente=C2&factura=G-1&monto=100.00&m=MXN",
        "Pagar en línea")


def test_every_value_is_escaped_and_nothing_is_remote_or_active(sent):
    _, received = sent
    html = html_part(received["pagos@uno.mx"].message)
    page = Page(html)
    assert ("Atención: &lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Cía&quot; "
            "&lt;img src=x onerror=y&gt;</p>") in html
    assert ">F-&lt;b&gt;1&lt;/b&gt;</td>" in html
    assert ">Ferretería &lt;López&gt; &amp; &quot;Hijos&quot;</div>" in html
    assert {tag for tag, _ in page.tags} == {
        "html", "head", "meta", "title", "body", "div", "p", "br", "table", "tr", "th", "td",
        "a"}
    attributes = {name for _, attrs in page.tags for name in attrs}
    assert attributes == {"lang", "http-equiv", "content", "name", "style", "cellspacing",
                          "cellpadding", "colspan", "href"}
    assert all(href.startswith("https://") for href, _ in page.links)
    styles = " ".join(attrs.get("style") or "" for _, attrs in page.tags).lower()
    assert "url(" not in styles and "@import" not in styles and "expression" not in styles
    assert not re.search(r"<(script|style|img|link|form|iframe|object)\b", html, re.I)


def test_outbox_email_with_the_statement_is_mixed_alternative_plus_attachment(tmp_path):
    book = make_workbook(tmp_path)
    sync(book, "2026-12-01T10:00", None)  # first business day: ESTADO_MENSUAL, no SMTP
    files = {email.message_from_bytes(p.read_bytes(), policy=default_policy)["To"].addresses[0]
             .addr_spec: p for p in (tmp_path / "salida").glob("*.eml")}
    message = email.message_from_bytes(files["pagos@uno.mx"].read_bytes(),
                                       policy=default_policy)
    assert [(p.get_content_type(), p.get_filename()) for p in message.walk()] == [
        ("multipart/mixed", None), ("multipart/alternative", None), ("text/plain", None),
        ("text/html", None), ("application/pdf", "estado-de-cuenta-C1-2026-12.pdf"),
        ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "estado-de-cuenta-C1-2026-12.xlsx")]
    tables = [rows for kind, rows in Page(html_part(message)).blocks if kind == "table"]
    assert tables == [[
        ("Factura", "Vencimiento", "Días vencidos", "Saldo", "Moneda"),
        ("F-2", "10/11/2026", "21", "$2,000.20 MXN", "MXN"),
        ("F-3", "10/11/2026", "21", "$10.01 USD", "USD"),
        ("F-<b>1</b>", "10/11/2026", "21", "$1,500.10 MXN", "MXN"),
        ("F-4", "28/11/2026", "3", "$20.02 USD", "USD"),
        ("Total", "$3,500.30 MXN", "MXN"),
        ("Total", "$30.03 USD", "USD"),
    ]]


def test_libreoffice_renders_the_html_part_with_its_table(sent, tmp_path):
    """A real HTML engine reads the part: its PDF shows the table's cells and the hostile
    name as plain text."""
    _, received = sent
    page = tmp_path / "correo.html"
    page.write_text(html_part(received["pagos@uno.mx"].message), encoding="utf-8")
    pdf = convert_to_pdf(page, tmp_path, infilter=HTML_IMPORT)
    rendered = "".join(p.extract_text() for p in pypdf.PdfReader(pdf).pages)
    squeezed = "".join(rendered.split())  # cells wrap inside narrow columns
    for text in (HOSTILE, COMPANY, "Días vencidos", "F-<b>1</b>", "$1,500.10 MXN",
                 "$3,500.30 MXN", "$30.03 USD", "Pagar en línea", "Atentamente,"):
        assert "".join(text.split()) in squeezed, text


# The pure builder (cobranza.rendering.html), on the edges the workbook above does not reach.

def test_only_whole_http_addresses_become_links():
    assert linked('Vea javascript:alert(1) o https://x.mx/a?b=1&c="2". Gracias') == (
        'Vea javascript:alert(1) o <a href="https://x.mx/a?b=1&amp;c=" '
        'style="color:#0b5cad;word-break:break-all;">'
        'https://x.mx/a?b=1&amp;c=</a>&quot;2&quot;. Gracias')
    assert pay_button("javascript:alert(1)") == pay_button('https://x.mx/?a="b"') == ""
    assert pay_button("") == ""


def test_without_a_pie_the_table_follows_the_whole_text():
    line = Line("F-1", "C1", date(2026, 11, 10), -2, 150, "CLP")
    page = Page(email_html(Rendered("Aviso", "Hola:\n\nPague.\n"), [line], "", ""))
    assert page.blocks == [("p", "Hola:"), ("p", "Pague."), ("table", [
        ("Factura", "Vencimiento", "Días vencidos", "Saldo", "Moneda"),
        ("F-1", "10/11/2026", "-2", "$150 CLP", "CLP"),
        ("Total", "$150 CLP", "CLP"),
    ])]
    assert page.links == []
