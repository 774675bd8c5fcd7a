"""Acciones and the digests' dates, as a user meets them (issue 12).

A real workbook (`cobranza init` + rows typed under the tables), one real `cobranza sync`
against a real aiosmtpd server, then the digests' bodies and the Alertas sheet read back:

* the Responsable de acciones' digest lists every open invoice past Días acción that is
  not disputed, reported paid, promised, with a third party or written off: a broken
  promise does not hide it;
* every customer told about a suspension has those invoices in that digest, and both
  texts state the suspension in the same words;
* every date a digest prints is there (no "vencida el  (61 días)").
"""

from __future__ import annotations

import re
import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from sync.workbook.init import create_workbook
from tests.cli import sync
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import append_rows, save_atomically

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
AT = "2026-12-01T10:00"  # Tuesday, a business day in MX; the daily digests are due
OWNER = "tesoreria@miempresa.com"  # the template's Responsable de acciones
DUE_61 = datetime(2026, 10, 1)  # 61 days overdue on 01/12/2026: past Días acción (60)
# The suspension, in the words both the customer's notice and the digest use.
SUSPENDED = "quedan suspendidos hasta que la cuenta se regularice"
CONSEQUENCE = "diez días hábiles"


def customer(code: str) -> dict[str, object]:
    return {"Cliente": code, "Nombre": f"Cliente {code}", "Email": f"{code.lower()}@cliente.mx",
            "Cobrador": "Ana"}


def invoice(number: str, code: str, due: datetime = DUE_61) -> dict[str, object]:
    return {"Factura": number, "Cliente": code, "Emisión": datetime(2026, 9, 1),
            "Vencimiento": due, "Moneda": "MXN", "Importe": 1000.0}


def gestion(code: str, number: str, result: str, promise: datetime | None = None,
            area: str = "") -> dict[str, object]:
    return {"Fecha": datetime(2026, 11, 10), "Cobrador": "Ana", "Cliente": code,
            "Factura": number, "Resultado": result, "Fecha compromiso": promise, "Área": area}


def make_workbook(folder: Path) -> Path:
    """Each customer has one invoice 61 days overdue in a different state; C1 also has one
    at 59 days and one paid."""
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [customer(c) for c in ("C1", "C2", "C3", "C4", "C5", "C6", "C7")],
        "Facturas": [
            invoice("F-SUSPENSION", "C1"), invoice("F-59", "C1", datetime(2026, 10, 3)),
            invoice("F-PAGADA", "C1"), invoice("F-ROTA", "C2"), invoice("F-PROMESA", "C3"),
            invoice("F-DISPUTA", "C4"), invoice("F-INFORMADO", "C5"),
            invoice("F-TERCERO", "C6"), invoice("F-CASTIGO", "C7"),
        ],
        "Pagos": [{"Fecha": datetime(2026, 11, 5), "Cliente": "C1", "Factura": "F-PAGADA",
                   "Importe": 1000.0}],
        "Gestiones": [
            gestion("C2", "F-ROTA", "Promesa de pago", datetime(2026, 11, 20)),
            gestion("C3", "F-PROMESA", "Promesa de pago", datetime(2026, 12, 5)),
            gestion("C4", "F-DISPUTA", "Disputa", area="Ventas"),
            gestion("C5", "F-INFORMADO", "Pago informado"),
            gestion("C6", "F-TERCERO", "Asignar a tercero"),
            gestion("C7", "F-CASTIGO", "Castigo"),
        ],
    })
    wb = openpyxl.load_workbook(book, keep_vba=True)  # tblCobradores: D1:E2, one blank row
    wb["Configuración"]["D2"], wb["Configuración"]["E2"] = "Ana", "ana@miempresa.com"
    save_atomically(wb, book)
    return book


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> tuple[Path, list[Received]]:
    book = make_workbook(tmp_path_factory.mktemp("acciones"))
    with SmtpTestServer() as server:
        sync(book, AT, server)
        return book, server.received()


def to(messages: list[Received], address: str) -> list[Received]:
    return [m for m in messages if address in m.rcpt_tos]


def invoice_lines(message: Received) -> list[str]:
    return [line for line in message.body().splitlines() if line.startswith("- Factura ")]


def suspension_stage(messages: list[Received], days: int = 60) -> set[str]:
    """The invoices customer emails list as `days` or more overdue (SUSPENSION_60's stage,
    whether its body goes alone or with other notices of the day)."""
    found = (re.match(r"- Factura (\S+), vencida el \S+ \((\d+) días\)", line)
             for m in messages for line in invoice_lines(m))
    return {f[1] for f in found if f and int(f[2]) >= days}


def test_the_actions_digest_lists_broken_promises_past_dias_accion_with_their_dates(synced):
    _, messages = synced
    (digest,) = to(messages, OWNER)
    assert invoice_lines(digest) == [
        "- Factura F-SUSPENSION (C1), vencida el 01/10/2026 (61 días): $1,000.00 MXN",
        "- Factura F-ROTA (C2), vencida el 01/10/2026 (61 días): $1,000.00 MXN; promesa de "
        "pago del 20/11/2026 incumplida",
    ]


def test_the_collectors_digest_prints_the_promise_date(synced):
    _, messages = synced
    (digest,) = [m for m in to(messages, "ana@miempresa.com")
                 if m.subject.startswith("Resumen diario de cobranza")]
    assert invoice_lines(digest) == [
        "- Factura F-ROTA (C2): $1,000.00 MXN, fecha de pago acordada: 20/11/2026"]


def test_every_suspension_notice_is_in_the_actions_digest_in_the_same_words(synced):
    _, messages = synced
    (digest,) = to(messages, OWNER)
    notified = [m for m in messages if SUSPENDED in m.body() and OWNER not in m.rcpt_tos]
    assert sorted(m.rcpt_tos for m in notified) == [("c1@cliente.mx",), ("c2@cliente.mx",)]
    listed = {line.split()[2] for line in invoice_lines(digest)}
    assert suspension_stage(notified) == {"F-SUSPENSION", "F-ROTA"} <= listed
    for text in (SUSPENDED, CONSEQUENCE, "despacho externo de cobranza"):
        assert text in digest.body() and all(text in m.body() for m in notified)


def test_the_alertas_sheet_has_the_same_action_rows(synced):
    book, _ = synced
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        "Alertas").to_python()
    start = next(i for i, r in enumerate(rows) if r[:2] == ["Tipo", "Cliente"])
    actions = [(r[4], r[8]) for r in rows[start + 1:] if r[0] == "Acción"]
    assert actions == [
        ("F-SUSPENSION", "Vencida hace 61 días: línea de crédito y servicio suspendidos hasta "
                         "que la cuenta se regularice."),
        ("F-ROTA", "Vencida hace 61 días; promesa de pago del 20/11/2026 incumplida: línea de "
                   "crédito y servicio suspendidos hasta que la cuenta se regularice."),
    ]
