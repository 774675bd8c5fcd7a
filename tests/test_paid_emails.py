"""Emails that get paid (issue 13, the texts): the collector signs and is the Reply-To, the
PIE carries the company's identification and payment details (a blank one leaves its line
out), subjects name up to three invoices, NUEVA and PREVIO state the early-payment
discount exactly. Real workbooks from the template builder, a real `cobranza sync --as-of`
subprocess and a real aiosmtpd server.

As of Thursday 10/12/2026, 10:00 (Mexico City), with Descuento pronto pago 2%, Días
pronto pago 10:

    customer  invoice     Emisión  Vencimiento  Importe          notice
    LOPEZ     F-001549    09/12    08/01/2027   1,000.25 MXN     NUEVA (discount to 19/12)
              F-CLP-7     10/12    09/01/2027   150,025 CLP      NUEVA (discount to 20/12)
              F-002       02/12    15/12        500.00 MXN       PREVIO (discount to 12/12)
              F-003       20/11    15/12        700.00 MXN       PREVIO (window over)
    UNA       F-UNA-1     08/12    07/01/2027   2,000.00 MXN     NUEVA (discount to 18/12)
    MUCHOS    F-M-1..4    10/12    09/01/2027   100.00 MXN each  NUEVA

LOPEZ's collector has name, email and phone; UNA's has no email; MUCHOS has none.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from addin import build_template
from addin.template import layout
from cobranza.book.config import DEFAULTS
from cobranza.rendering.render import VARIABLES
from tests.cli import sync, table
from tests.smtp_server import Received, SmtpTestServer

AS_OF = "2026-12-10T10:00"
LINK = ("https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}"
        "&importe={importe}&moneda={moneda}")
COMPANY = {
    "Razón social": "Mi Empresa, S.A. de C.V.",
    "RFC": "MEM150312KT4",
    "Domicilio": "Av. Insurgentes Sur 1602, Col. Crédito Constructor, 03940 Ciudad de México",
    "Teléfono de cobranza": "+52 55 5201 4400",
    "Horario de atención": "lunes a viernes de 9:00 a 18:00 h",
    "Banco": "BBVA México",
    "Cuenta": "012180001234567899",
    "Beneficiario": "Mi Empresa, S.A. de C.V.",
    "Referencia de pago": "CTE-{{ cliente.codigo }}",
    "Enlace de pago": LINK,
    "Aviso de privacidad": "https://www.miempresa.com/aviso-de-privacidad",
    "Descuento pronto pago": "2%",
    "Días pronto pago": "10",
}
COLLECTORS = [("Ana López", "ana.lopez@miempresa.mx", "+52 55 1111 2222"),
              ("Luis Pérez", "", "+52 55 3333 4444")]
CUSTOMERS = {"LOPEZ": ("Ferretería López", "Ana López"), "UNA": ("Abarrotes Una", "Luis Pérez"),
             "MUCHOS": ("Grupo Muchos", "")}
INVOICES = [  # Factura, Cliente, Emisión, Vencimiento, Moneda, Importe
    ("F-001549", "LOPEZ", "2026-12-09", "2027-01-08", "MXN", 1000.25),
    ("F-CLP-7", "LOPEZ", "2026-12-10", "2027-01-09", "CLP", 150025),
    ("F-002", "LOPEZ", "2026-12-02", "2026-12-15", "MXN", 500),
    ("F-003", "LOPEZ", "2026-11-20", "2026-12-15", "MXN", 700),
    ("F-UNA-1", "UNA", "2026-12-08", "2027-01-07", "MXN", 2000),
    *[(f"F-M-{i}", "MUCHOS", "2026-12-10", "2027-01-09", "MXN", 100) for i in range(1, 5)],
]
LABELS = ("Tel.", "Correo", "Banco", "Cuenta/CLABE", "Beneficiario", "Referencia de pago",
          "Pague en línea", "RFC", "Teléfono de cobranza", "Horario de atención",
          "Aviso de privacidad")


def row(spec: layout.TableSpec, values: dict[str, object]) -> tuple[object, ...]:
    return tuple(values.get(c.header) for c in spec.columns)


def build_book(folder: Path, parameters: dict[str, str], collectors: list[tuple[str, ...]],
               customers: dict[str, tuple[str, str]] = CUSTOMERS,
               invoices: list[tuple] = INVOICES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return build_template.build(folder / "libro.xlsm", {
        "tblClientes": [row(layout.CLIENTES, {
            "Cliente": code, "Nombre": name, "Email": f"pagos@{code.lower()}.mx",
            "Cobrador": collector or None}) for code, (name, collector) in customers.items()],
        "tblFacturas": [row(layout.FACTURAS, {
            "Factura": f, "Cliente": c, "Emisión": datetime.fromisoformat(e),
            "Vencimiento": datetime.fromisoformat(v), "Moneda": m, "Importe": a})
            for f, c, e, v, m, a in invoices],
        "tblParametros": list({**DEFAULTS, **parameters}.items()),
        "tblCobradores": collectors,
    })


def inbox(book: Path) -> dict[str, Received]:
    """`cobranza sync` at AS_OF; customer -> the one email it received."""
    with SmtpTestServer() as server:
        sync(book, AS_OF, server)
        received = server.received()
    out = {}
    for message in received:
        (to,) = message.rcpt_tos
        customer = to.removeprefix("pagos@").removesuffix(".mx").upper()
        assert customer not in out, f"two emails for {customer}"
        out[customer] = message
    return out


@pytest.fixture(scope="module")
def configured(tmp_path_factory) -> dict[str, Received]:
    return inbox(build_book(tmp_path_factory.mktemp("configurado"), COMPANY, COLLECTORS))


@pytest.fixture(scope="module")
def blank(tmp_path_factory) -> dict[str, Received]:
    nobody = {code: (name, "") for code, (name, _) in CUSTOMERS.items()}
    return inbox(build_book(tmp_path_factory.mktemp("vacio"), {}, [], nobody))


PAYMENT_AND_COMPANY = """
Datos para su pago:
Banco: BBVA México
Cuenta/CLABE: 012180001234567899
Beneficiario: Mi Empresa, S.A. de C.V.
Referencia de pago: CTE-{customer}
Pague en línea: {link}

Mi Empresa, S.A. de C.V.
RFC: MEM150312KT4
Av. Insurgentes Sur 1602, Col. Crédito Constructor, 03940 Ciudad de México
Teléfono de cobranza: +52 55 5201 4400
Horario de atención: lunes a viernes de 9:00 a 18:00 h
Aviso de privacidad: https://www.miempresa.com/aviso-de-privacidad
"""


def test_configured_email_signed_by_the_collector_with_payment_details_and_discount(
        configured):
    email = configured["LOPEZ"]
    assert email.subject == "Recordatorio de próximo vencimiento: facturas F-002 y F-003"
    assert email.message["Reply-To"] == "ana.lopez@miempresa.mx"
    assert email.message["X-Cobranza-Avisos"] == "PREVIO, NUEVA"
    link = ("https://pagos.miempresa.com/pagar?cliente=LOPEZ&factura=F-002%2CF-003%2CF-001549"
            "%2CF-CLP-7&importe=&moneda=")  # two currencies: the customer picks the amount
    assert email.body() == (
        "Atención: Ferretería López\n\n"
        "Estimado cliente:\n\n"
        "Le recordamos amablemente que las siguientes facturas vencen en los próximos días:\n\n"
        "- Factura F-002, vence el 15/12/2026: $500.00 MXN\n"
        "- Factura F-003, vence el 15/12/2026: $700.00 MXN\n\n"
        "Por pronto pago le ofrecemos un descuento del 2%: si paga a más tardar en la fecha "
        "indicada, el importe a pagar es:\n\n"
        "- Factura F-002: $490.00 MXN, a más tardar el 12/12/2026\n\n"
        "Si ya programó su pago, le agradecemos su puntualidad y le pedimos omitir este "
        "mensaje.\n\n"
        "Le informamos que Mi Empresa S.A. de C.V. ha emitido a su cargo las siguientes "
        "facturas:\n\n"
        "- Factura F-001549, emitida el 09/12/2026, vence el 08/01/2027: $1,000.25 MXN\n"
        "- Factura F-CLP-7, emitida el 10/12/2026, vence el 09/01/2027: $150,025 CLP\n\n"
        "Por pronto pago le ofrecemos un descuento del 2%: si paga a más tardar en la fecha "
        "indicada, el importe a pagar es:\n\n"
        "- Factura F-001549: $980.25 MXN, a más tardar el 19/12/2026\n"
        "- Factura F-CLP-7: $147,025 CLP, a más tardar el 20/12/2026\n\n"
        "Le agradecemos programar su pago a más tardar en la fecha de vencimiento. Si tiene "
        "alguna observación sobre estos documentos, con gusto la atenderemos respondiendo a "
        "este correo.\n\n"
        "Atentamente,\n\n"
        "Ana López\n"
        "Mi Empresa S.A. de C.V.\n"
        "Tel.: +52 55 1111 2222\n"
        "Correo: ana.lopez@miempresa.mx\n"
        + PAYMENT_AND_COMPANY.format(customer="LOPEZ", link=link)
    )


def test_one_invoice_is_named_and_has_its_own_link_and_amount(configured):
    email = configured["UNA"]
    assert email.subject == "Aviso de facturación de Mi Empresa S.A. de C.V.: factura F-UNA-1"
    assert "- Factura F-UNA-1: $1,960.00 MXN, a más tardar el 18/12/2026\n" in email.body()
    link = ("https://pagos.miempresa.com/pagar?cliente=UNA&factura=F-UNA-1&importe=2000.00"
            "&moneda=MXN")
    assert email.body().endswith(
        "Atentamente,\n\nLuis Pérez\nMi Empresa S.A. de C.V.\nTel.: +52 55 3333 4444\n"
        + PAYMENT_AND_COMPANY.format(customer="UNA", link=link))
    assert email.message["Reply-To"] is None  # the collector has no email: replies go to From


def test_more_than_three_invoices_are_counted(configured):
    email = configured["MUCHOS"]
    assert email.subject == "Aviso de facturación de Mi Empresa S.A. de C.V.: 4 facturas"
    assert email.message["Reply-To"] is None  # no collector
    assert "\n\nAtentamente,\n\nCobranza\nMi Empresa S.A. de C.V.\n\nDatos para su pago:\n" in (
        email.body())


def test_blank_configuration_leaves_no_label_and_no_blank_run(blank):
    assert set(blank) == {"LOPEZ", "UNA", "MUCHOS"}
    for customer, email in blank.items():
        body = email.body()
        assert body.endswith("\n\nAtentamente,\n\nCobranza\nMi Empresa S.A. de C.V.\n"), customer
        assert "\n\n\n" not in body and " \n" not in body, customer
        assert not [ln for ln in body.splitlines() if ln.split(":")[0] in LABELS], customer
        assert "descuento" not in body, customer
        assert email.message["Reply-To"] is None
    assert blank["LOPEZ"].subject == "Recordatorio de próximo vencimiento: facturas F-002 y F-003"


HOSTILE = "Ferretería\r\nBcc: robo@evil.mx {{ 7 * 7 }}"


def test_hostile_values_are_text_never_code_nor_headers(tmp_path):
    parameters = {**COMPANY, "Razón social": "Mi Empresa\r\nX-Evil: 1 {{ 7 * 7 }}",
                  "Beneficiario": "{% for x in range(3) %}x{% endfor %}",
                  "Referencia de pago": "{{ cliente.nombre }}"}
    collectors = [("Ana López", "ana@miempresa.mx\r\nBcc: robo@evil.mx", "55\r\nX-Evil: 2")]
    customers = {"LOPEZ": (HOSTILE, "Ana López")}
    invoices = [("F-{{ 7 * 7 }}", "LOPEZ", "2026-12-09", "2027-01-08", "MXN", 10)]
    book = build_book(tmp_path, parameters, collectors, customers, invoices)
    email = inbox(book)["LOPEZ"]
    headers = {name: str(value) for name, value in email.message.items()}
    assert email.rcpt_tos == ("pagos@lopez.mx",)
    assert "Reply-To" not in headers and "Bcc" not in headers and "X-Evil" not in headers
    assert not any("evil" in value.lower() for value in headers.values())
    assert headers["Subject"] == ("Aviso de facturación de Mi Empresa S.A. de C.V.: factura "
                                  "F-{{ 7 * 7 }}")
    body = email.body()
    assert "49" not in body and "xxx" not in body
    assert "Atención: Ferretería\nBcc: robo@evil.mx {{ 7 * 7 }}\n" in body
    assert "Beneficiario: {% for x in range(3) %}x{% endfor %}\n" in body
    # the reference is a template: it inserts the name as text, on one line
    assert "Referencia de pago: Ferretería Bcc: robo@evil.mx {{ 7 * 7 }}\n" in body
    assert "\nMi Empresa\nX-Evil: 1 {{ 7 * 7 }}\nRFC: MEM150312KT4\n" in body
    # the collector's address with a line break is no address: reported, never a header
    assert [(r[0], r[2]) for r in table(book, "Errores", "Hoja")] == [("Configuración", "Email")]


def test_broken_payment_reference_holds_the_email_and_names_the_parameter(tmp_path):
    book = build_book(tmp_path, {**COMPANY, "Referencia de pago": "{{ cliente.rfc }}"},
                      COLLECTORS)
    assert inbox(book) == {}
    why = (f'Configuración, Referencia de pago: el dato "rfc" no existe (use '
           f'{", ".join(VARIABLES)})')
    assert table(book, "Errores", "Hoja") == [["Configuración", "", "Valor", "{{ cliente.rfc }}",
                                               f"{why}. Los avisos a clientes quedan pendientes; "
                                               "se enviarán una vez corregida la Referencia de "
                                               "pago, mientras sigan vigentes."]]
    held = {r[3]: (r[7], r[8]) for r in table(book, "Envíos", "Fecha") if "NUEVA" in r[2]
            and r[7] != "omitido"}
    assert held == {c: ("pendiente", f"{why}.") for c in ("LOPEZ", "UNA", "MUCHOS")}
