"""Template variables of issue 13 (company, payment, discount, subject invoices), kept in
step with what users read (Plantillas note, README), and the Reply-To address rule."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from book_factory import make_book

from addin.template.layout import TEMPLATE_VARIABLES_NOTE
from cobranza.book.config import Config
from cobranza.notices.messages import Line, Outgoing, Part, notice_key
from cobranza.plural import enumeration, named
from cobranza.rendering import render
from cobranza.rendering.render import (
    VARIABLES,
    InvoiceView,
    render_message,
    template_context,
    with_reference,
)
from sync.mail.transport import reply_address

README = Path(__file__).resolve().parents[1] / "README.md"
AS_OF = date(2026, 12, 10)
CONFIG = Config(legal_name="Mi Empresa, S.A. de C.V.", tax_id="MEM150312KT4",
                payment_reference="REF-{{ cliente.codigo }}-{{ facturas|length }}",
                payment_link="https://pagos.mx/?c={cliente}&f={factura}&i={importe}",
                early_discount=Decimal("2.5"), early_days=10)


@pytest.mark.parametrize(("items", "text"), [
    ([], "0 facturas"), (["F-1"], "factura F-1"), (["F-1", "F-2"], "facturas F-1 y F-2"),
    (["F-1", "F-2", "F-3"], "facturas F-1, F-2 y F-3"),
    (["F-1", "F-2", "F-3", "F-4"], "4 facturas")])
def test_subject_names_up_to_three_invoices(items, text):
    assert named(items, "factura") == text


def test_enumeration():
    assert [enumeration(x) for x in ([], ["a"], ["a", "b"], ["a", "b", "c"])] == [
        "", "a", "a y b", "a, b y c"]


def line(invoice: str, balance: int, issued: date | None, currency: str = "MXN") -> Line:
    return Line(invoice, "C1", date(2027, 1, 9), -30, balance, currency, issued=issued)


LINES = (line("F-1", 100025, date(2026, 12, 1)), line("F-2", 5000, date(2026, 11, 29)),
         line("F-3", 7, None, "CLP"))


def notice(lines: tuple[Line, ...] = LINES) -> Outgoing:
    keys = tuple(notice_key("C1", ln.invoice, "NUEVA") for ln in lines)
    return Outgoing(kind="aviso", code="NUEVA", recipient="C1", to=("c1@x.mx",), cc=(),
                    template="NUEVA", lines=lines, keys=keys,
                    parts=(Part("NUEVA", "NUEVA", lines, keys),))


def test_customer_email_context_is_exactly_the_documented_variables():
    context = with_reference(template_context(notice(), CONFIG, "Ferretería", AS_OF,
                                              render.CollectorView("Ana", "", "")), CONFIG)
    assert set(context) == set(VARIABLES)
    assert context["facturas_asunto"] == "facturas F-1, F-2 y F-3"
    assert context["referencia_pago"] == "REF-C1-3"
    assert context["descuento_pronto_pago"] == "2.5%"
    assert context["enlace_pago"] == "https://pagos.mx/?c=C1&f=F-1%2CF-2%2CF-3&i="
    assert context["facturas"][0] == InvoiceView(
        "F-1", "C1", "01/12/2026", "09/01/2027", -30, "$1,000.25 MXN", "MXN", "", "", "",
        enlace_pago="https://pagos.mx/?c=C1&f=F-1&i=1000.25",
        pronto_pago="$975.24 MXN", fecha_pronto_pago="11/12/2026")  # 97524.375 centavos
    assert context["facturas"][1].pronto_pago == ""  # its window closed on 09/12
    assert context["facturas"][2].fecha_pronto_pago == ""  # no Emisión, no window


def test_digests_get_no_payment_link_reference_or_discount_per_invoice():
    digest = Outgoing(kind="resumen", code="RESUMEN_ACCIONES", recipient="t@x.mx",
                      to=("t@x.mx",), cc=(), template="RESUMEN_ACCIONES", lines=LINES,
                      keys=("k",))
    context = template_context(digest, CONFIG, "", AS_OF)
    assert set(VARIABLES) - set(context) == {"cobrador", "enlace_pago", "referencia_pago"}
    assert {(v.enlace_pago, v.pronto_pago) for v in context["facturas"]} == {("", "")}


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z_]+(?:\.[a-z_]+)?", text))


def test_every_variable_is_in_the_plantillas_note_the_readme_and_the_docstring():
    fields = [f"f.{name}" for name in InvoiceView.__dataclass_fields__ if name != "cliente"]
    readme = README.read_text(encoding="utf-8").split("### Variables de las plantillas")[1]
    readme = readme.split("###")[0]
    for text in (TEMPLATE_VARIABLES_NOTE, readme):
        assert set(VARIABLES) - {"cliente", "cobrador"} <= _words(text)
        assert {f"cliente.{x}" for x in ("codigo", "nombre")} <= _words(text)
        assert {f"cobrador.{x}" for x in ("nombre", "email", "telefono")} <= _words(text)
        assert set(fields) <= _words(text)
    assert set(VARIABLES) <= set(re.findall(r"``([a-z_]+)``", render.__doc__))


def test_combined_email_subject_names_the_most_severe_notices_invoices():
    from addin.build_template import load_templates

    old = line("F-9", 100000, date(2026, 9, 1))
    book = make_book(customers=[("C1", "Ferretería", "")],
                     templates=[t[:3] + (True,) for t in load_templates()], config=CONFIG)
    parts = (Part("MORA_45", "MORA_45", (old,), ("k1",)),
             Part("NUEVA", "NUEVA", LINES[:2], ("k2", "k3")))
    email = Outgoing(kind="aviso", code="MORA_45", recipient="C1", to=("c1@x.mx",), cc=(),
                     template="MORA_45", lines=(old, *LINES[:2]), keys=("k1", "k2", "k3"),
                     parts=parts)
    result = render_message(email, book, AS_OF)
    assert result.rendered.subject == "Aviso formal de adeudo vencido: factura F-9"
    # the PIE sees every invoice of the email: its link pays all three
    assert "\nPague en línea: https://pagos.mx/?c=C1&f=F-9%2CF-1%2CF-2&i=2050.25\n" in (
        result.rendered.body)


@pytest.mark.parametrize(("cell", "header"), [
    ("ana.lopez@miempresa.mx", "ana.lopez@miempresa.mx"),
    ("  Ana@MiEmpresa.mx ", "Ana@miempresa.mx"),
    ("cobranza@compañía.mx", "cobranza@xn--compaa-7va5a.mx"),  # IDNA, as From/To travel
    ("josé@miempresa.mx", ""),  # would need SMTPUTF8: no Reply-To rather than a held email
    ("Ana <ana@miempresa.mx>", ""), ("ana@miempresa.mx\r\nBcc: x@evil.mx", ""),
    ("ana@miempresa.mx, b@x.mx", ""), ("", ""),
])
def test_reply_to_is_one_valid_bare_address_or_nothing(cell, header):
    assert reply_address(cell) == header
