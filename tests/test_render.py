"""Rendering Plantillas in the sandbox: variables, one-line subject, errors as reasons."""

from __future__ import annotations

from datetime import date

import jinja2
import pytest
from book_factory import make_book

from cobranza.notices.messages import Line, Outgoing, notice_key
from cobranza.rendering import render as rendering
from cobranza.rendering.render import render_outgoing, render_pair, template_context

AS_OF = date(2026, 11, 25)

LINES = (
    Line("F-100", "C1", date(2026, 11, 24), 1, 150050, "MXN", issued=date(2026, 10, 25)),
    Line("F-101", "C1", date(2026, 11, 20), 5, 99900, "MXN", promise_date=date(2026, 12, 1)),
    Line("F-102", "C1", date(2026, 11, 1), 24, 5000, "USD"),
)


def outgoing(template: str = "VENCIDA_1", **kw) -> Outgoing:
    base = dict(
        kind="aviso", code="VENCIDA_1", recipient="C1", to=("pagos@lopez.mx",), cc=(),
        template=template, lines=LINES,
        keys=tuple(notice_key("C1", ln.invoice, "VENCIDA_1") for ln in LINES),
    )
    return Outgoing(**{**base, **kw})


def book(subject: str, body: str, approved: bool = True, name: str = "Ferretería López"):
    return make_book(
        customers=[{"customer": "C1", "name": name, "emails": "pagos@lopez.mx"}],
        templates=[("VENCIDA_1", subject, body, approved)],
    )


def render(subject: str, body: str = "ok", **kw):
    return render_outgoing(outgoing(), book(subject, body, **kw), AS_OF)


def test_all_variables_render_as_documented() -> None:
    body = (
        "{{ empresa }} | {{ remitente }} | {{ cliente.codigo }} {{ cliente.nombre }} | "
        "{{ fecha_corte }} | {{ destinatario }}\n"
        "{% for f in facturas %}{{ f.factura }};{{ f.emision }};{{ f.vencimiento }};"
        "{{ f.dias_vencidos }};{{ f.saldo }};{{ f.moneda }};{{ f.fecha_compromiso }}\n"
        "{% endfor %}{% for t in totales %}{{ t.moneda }}={{ t.saldo }}\n{% endfor %}"
    )
    result = render("Aviso", body)
    assert result.error == ""
    assert result.body == (
        "Mi Empresa S.A. de C.V. | Cobranza | C1 Ferretería López | 25/11/2026 | "
        "Ferretería López\n"
        "F-100;25/10/2026;24/11/2026;1;$1,500.50 MXN;MXN;\n"
        "F-101;;20/11/2026;5;$999.00 MXN;MXN;01/12/2026\n"
        "F-102;;01/11/2026;24;$50.00 USD;USD;\n"
        "MXN=$2,499.50 MXN\n"
        "USD=$50.00 USD\n"
    )


def test_outgoing_context_adds_variables() -> None:
    item = outgoing(context={"asesor": "Ana Pérez"})
    context = template_context(item, book("s", "b").config, "Ferretería López", AS_OF)
    assert render_pair("{{ asesor }}", "x", context, "VENCIDA_1").subject == "Ana Pérez"


def test_subject_is_collapsed_to_one_line() -> None:
    result = render("  Factura\r\n{{ cliente.nombre }}\n\tvencida  ")
    assert result.subject == "Factura Ferretería López vencida"


def test_data_with_header_text_stays_on_one_line_and_is_not_evaluated() -> None:
    name = "Malo\r\nBcc: x@evil.com {{ 7 * 7 }}"
    result = render_outgoing(outgoing(), book("Aviso {{ cliente.nombre }}", "b", name=name), AS_OF)
    assert result.subject == "Aviso Malo Bcc: x@evil.com {{ 7 * 7 }}"


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ facturas[0].__class__.__init__.__globals__ }}",
        "{{ cliente.__dict__ }}",
    ],
)
def test_sandbox_escape_attempts_are_reasons_not_data(source: str) -> None:
    result = render(source)
    assert result.subject == "" and result.body == ""
    assert result.error.startswith('Plantilla "VENCIDA_1", Asunto: la plantilla intenta una '
                                   "operación no permitida (el acceso a \"__")
    assert "class '" not in result.error and "<" not in result.error


def test_templates_cannot_modify_data() -> None:
    result = render("{{ facturas.append(1) }}")
    assert "operación no permitida" in result.error


def test_huge_strings_are_refused() -> None:
    result = render("{{ 'x' * 10000000 }}")
    assert result.error == (
        'Plantilla "VENCIDA_1", Asunto: la plantilla excede el tamaño máximo de 1 MB por '
        "mensaje; revise los ciclos {% for %} y los textos que repite o amplía."
    )


def test_unknown_variable_names_it_and_the_valid_ones() -> None:
    result = render("Hola", "Hola {{ cliente_nombre }}")
    assert result.error == (
        'Plantilla "VENCIDA_1", Cuerpo: la variable "cliente_nombre" no existe (use empresa, '
        "remitente, cliente, facturas, facturas_mas, totales, fecha_corte, destinatario, "
        "fecha_gestion, cobrador, facturas_asunto, razon_social, rfc, domicilio, "
        "telefono_cobranza, horario_atencion, banco, cuenta, beneficiario, referencia_pago, "
        "enlace_pago, aviso_privacidad, descuento_pronto_pago, convenio, cuota, "
        "vencimiento_cuota, importe_cuota, saldo_cuota)."
    )


def test_unknown_attribute_is_named() -> None:
    result = render("{{ cliente.email }}")
    assert result.error.startswith('Plantilla "VENCIDA_1", Asunto: el dato "email" no existe')


def test_syntax_error_gives_line() -> None:
    result = render("ok", "línea 1\n{% for f in facturas %}{{ f.factura }")
    assert result.error.startswith('Plantilla "VENCIDA_1", Cuerpo, línea 2: error de sintaxis (')


def test_runtime_error_is_a_reason() -> None:
    result = render("{{ 1 // 0 }}")
    assert result.error.startswith('Plantilla "VENCIDA_1", Asunto: no se pudo generar el texto')


def test_missing_and_unapproved_templates() -> None:
    missing = render_outgoing(outgoing(template="OTRA"), book("s", "b"), AS_OF)
    assert missing.error == 'No existe la plantilla "OTRA" en Plantillas.'
    unapproved = render("s", "b", approved=False)
    assert unapproved.error == (
        'La plantilla "VENCIDA_1" no está aprobada (Aprobada debe ser Sí).'
    )


def test_digest_without_template_uses_builtin_text() -> None:
    digest = Outgoing(
        kind="resumen", code="RESUMEN_ACCIONES", recipient="tesoreria@miempresa.com",
        to=("tesoreria@miempresa.com",), cc=(), template="RESUMEN_ACCIONES",
        lines=LINES[:1], keys=("resumen|tesoreria@miempresa.com|RESUMEN_ACCIONES|2026-11-25",),
    )
    result = render_outgoing(digest, book("s", "b"), AS_OF)
    assert result.subject == "Mi Empresa S.A. de C.V.: Resumen de cobranza al 25/11/2026"
    assert "- C1 F-100: $1,500.50 MXN, 1 días vencidos\n" in result.body


def test_precompiled_texts_are_rendered_from_the_cache_and_a_bad_one_waits_for_its_render():
    good, bad = "Hola {{ nombre }} (precompilado)", "Hola {{ nombre "
    rendering._compiled.cache_clear()
    rendering.precompile([good, bad])
    assert rendering._compiled.cache_info().currsize == 1
    assert rendering.render_text(good, {"nombre": "Ana"}) == "Hola Ana (precompilado)"
    assert rendering._compiled.cache_info().hits == 1
    with pytest.raises(jinja2.TemplateSyntaxError):
        rendering.render_text(bad, {"nombre": "Ana"})
