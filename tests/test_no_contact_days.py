"""SIN_CONTACTO end to end (seed 003): a gestión "Sin contacto" brings the customer one
email saying we tried to reach them and how to reach their collector, once per gestión
date, meaningful for 3 days after it. Real workbook from `cobranza init`, real
`cobranza sync --as-of` runs on four days, a real SMTP server.

    customer   invoices (Vencimiento)             gestiones Sin contacto
    combina    F-COMB-1 (22/11), F-COMB-2 (28/11) 23/11, blank Factura
    repetida   F-REP (15/12)                      23/11 twice; 24/11 (typed on 24/11)
    disputa    F-DIS (01/11), in dispute          23/11
    tarde      F-TAR (15/12)                      19/11 (day 4 on 23/11)
    plantilla  F-PLA (15/12)                      24/11 (typed on 25/11)
    plantilla_tarde F-PLT (15/12)                 22/11 (typed on 25/11)

The SIN_CONTACTO template is not approved at the 25/11 sync and approved again before the
26/11 one. Before this notice existed the Avisos row was refused ("gestión" is not a
Referencia) and nobody was told anything.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from sync.ledger.store import ledger_path
from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import append_rows, save_atomically, set_cells

INVOICES = {  # invoice -> (customer, Vencimiento)
    "F-COMB-1": ("combina", "2026-11-22"), "F-COMB-2": ("combina", "2026-11-28"),
    "F-REP": ("repetida", "2026-12-15"), "F-DIS": ("disputa", "2026-11-01"),
    "F-TAR": ("tarde", "2026-12-15"), "F-PLA": ("plantilla", "2026-12-15"),
    "F-PLT": ("plantilla_tarde", "2026-12-15"),
}
CUSTOMERS = sorted({c for c, _ in INVOICES.values()})
ADDRESS = {f"pagos@{c.replace('_', '-')}.mx": c for c in CUSTOMERS}
COLLECTOR = ("Ana López", "ana.lopez@miempresa.mx", "+52 55 1111 2222")


def gestion(day: str, customer: str, invoice: str, result: str = "Sin contacto",
            **more: object) -> dict[str, object]:
    return {"Fecha": datetime.fromisoformat(day), "Cobrador": COLLECTOR[0],
            "Cliente": customer, "Factura": invoice, "Resultado": result, **more}


def make_workbook(folder: Path) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": e,
                      "Cobrador": COLLECTOR[0]} for e, c in ADDRESS.items()],
        "Facturas": [{"Factura": f, "Cliente": c, "Emisión": datetime(2026, 10, 1),
                      "Vencimiento": datetime.fromisoformat(due), "Importe": 1500.0}
                     for f, (c, due) in INVOICES.items()],
        "Gestiones": [
            gestion("2026-11-10", "disputa", "F-DIS", "Disputa", **{"Área": "Calidad"}),
            gestion("2026-11-19", "tarde", "F-TAR"),
            gestion("2026-11-23", "combina", ""),
            gestion("2026-11-23", "repetida", "F-REP"),
            gestion("2026-11-23", "repetida", "F-REP"),
            gestion("2026-11-23", "disputa", "F-DIS"),
        ],
    })
    wb = openpyxl.load_workbook(book, keep_vba=True)  # tblCobradores: D1:F2, one blank row
    for column, value in zip("DEF", COLLECTOR, strict=True):
        wb["Configuración"][f"{column}2"] = value
    save_atomically(wb, book)
    return book


def envios(book: Path) -> dict[str, list[tuple[str, str, str, str]]]:
    """customer -> (Código, Facturas, Estado, Motivo) of its Envíos rows with SIN_CONTACTO
    (the others: the old NUEVA and November's statement, "fuera de plazo")."""
    out: dict[str, list[tuple[str, str, str, str]]] = {}
    for r in table(book, "Envíos", "Fecha"):
        if r[1] == "Aviso" and r[3] in CUSTOMERS and "SIN_CONTACTO" in r[2]:
            out.setdefault(r[3], []).append((r[2], r[5], r[7], r[8]))
    return out


def by_customer(messages: list[Received]) -> dict[str, list[Received]]:
    out: dict[str, list[Received]] = {}
    for m in messages:
        for address in m.rcpt_tos:
            if address in ADDRESS:
                out.setdefault(ADDRESS[address], []).append(m)
    return out


def ledger_days(book: Path) -> list[tuple[str, str]]:
    """(customer, key) of the SIN_CONTACTO rows of the ledger, sorted."""
    with sqlite3.connect(ledger_path(book)) as db:
        return sorted(db.execute("SELECT recipient, key FROM sends WHERE code = 'SIN_CONTACTO' "
                                 "AND state = 'enviado'"))


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> dict:
    """Each day's sync: the messages it sent, Envíos and Errores after it."""
    book = make_workbook(tmp_path_factory.mktemp("sin_contacto"))
    out = {}
    with SmtpTestServer() as server:
        def run(day: str) -> None:
            before = len(server.received())
            sync(book, f"{day}T10:00", server)
            out[day] = {"sent": by_customer(server.received()[before:]), "envios": envios(book),
                        "errores": table(book, "Errores", "Hoja")}

        run("2026-11-23")
        append_rows(book, {"Gestiones": [gestion("2026-11-24", "repetida", "F-REP")]})
        run("2026-11-24")
        set_cells(book, "Plantillas", ("Código", "SIN_CONTACTO"), {"Aprobada": "No"})
        append_rows(book, {"Gestiones": [gestion("2026-11-24", "plantilla", "F-PLA"),
                                         gestion("2026-11-22", "plantilla_tarde", "F-PLT")]})
        run("2026-11-25")
        set_cells(book, "Plantillas", ("Código", "SIN_CONTACTO"), {"Aprobada": "Sí"})
        run("2026-11-26")
        out["total"] = Counter({c: len(m) for c, m in by_customer(server.received()).items()})
    out["ledger"] = ledger_days(book)
    return out


SIN_CONTACTO_ON_23 = (
    "El 23/11/2026 intentamos comunicarnos con usted, sin lograrlo, para dar seguimiento a "
    "la siguiente factura:\n\n"
    "- Factura F-COMB-1, vencida el 22/11/2026: $1,500.00 MXN\n\n"
    "Le agradeceremos comunicarse con Ana López, responsable de su cuenta, al teléfono "
    "+52 55 1111 2222 o al correo ana.lopez@miempresa.mx, o bien responder a este mensaje, "
    "para confirmar la fecha de pago o aclarar cualquier duda."
)


def test_the_day_of_the_gestion_one_email_with_sin_contacto_in_severity_order(days):
    monday = days["2026-11-23"]
    [email] = monday["sent"]["combina"]
    assert email.subject == "Recordatorio de pago vencido: factura F-COMB-1"  # VENCIDA_1
    body = email.body()
    reminder = body.index("Le escribimos para recordarle")  # VENCIDA_1 (F-COMB-1)
    tried = body.index(SIN_CONTACTO_ON_23)  # blank Factura: the invoice past due only
    previo = body.index("Le recordamos amablemente")  # PREVIO (F-COMB-2)
    assert reminder < tried < previo
    assert monday["envios"]["combina"] == [(
        "VENCIDA_1, SIN_CONTACTO, PREVIO",
        "VENCIDA_1: F-COMB-1; SIN_CONTACTO: F-COMB-1; PREVIO: F-COMB-2", "enviado", "")]


def test_once_per_gestion_date_never_again(days):
    monday, tuesday = days["2026-11-23"], days["2026-11-24"]
    [first] = monday["sent"]["repetida"]  # two rows dated 23/11: one notice
    assert first.subject == "Intentamos comunicarnos con usted: factura F-REP"
    assert first.body().count("Factura F-REP, vence el 15/12/2026") == 1
    assert "combina" not in tuesday["sent"]  # the next day: not again
    [second] = tuesday["sent"]["repetida"]  # a gestión on another date: a new notice
    assert "El 24/11/2026 intentamos comunicarnos con usted" in second.body()
    assert days["ledger"] == [
        ("combina", "aviso|combina|F-COMB-1|SIN_CONTACTO|2026-11-23"),
        ("plantilla", "aviso|plantilla|F-PLA|SIN_CONTACTO|2026-11-24"),
        ("repetida", "aviso|repetida|F-REP|SIN_CONTACTO|2026-11-23"),
        ("repetida", "aviso|repetida|F-REP|SIN_CONTACTO|2026-11-24"),
    ]


def test_disputed_invoices_and_late_gestiones_get_nothing(days):
    monday = days["2026-11-23"]
    assert "disputa" not in days["total"] and "disputa" not in monday["envios"]
    assert "tarde" not in days["total"]  # 19/11 is four days before the first sync
    assert monday["envios"]["tarde"] == [("SIN_CONTACTO", "F-TAR", "omitido", "fuera de plazo")]


def test_an_unapproved_template_waits_and_goes_once_fixed_within_three_days(days):
    wednesday, thursday = days["2026-11-25"], days["2026-11-26"]
    assert not wednesday["sent"]
    for customer, invoice in (("plantilla", "F-PLA"), ("plantilla_tarde", "F-PLT")):
        assert wednesday["envios"][customer] == [
            ("SIN_CONTACTO", invoice, "pendiente", "plantilla SIN_CONTACTO no aprobada")]
    assert [r[:5] for r in wednesday["errores"] if r[0] == "Plantillas"] == [[
        "Plantillas", 14.0, "Aprobada", "",
        "la plantilla SIN_CONTACTO no está aprobada y la usa el aviso SIN_CONTACTO "
        "(Configuración, tabla Avisos, fila 12): sus avisos quedan pendientes; revise el texto "
        "y escriba Sí en Aprobada: se enviarán una vez corregida, mientras sigan vigentes."]]
    [fixed] = thursday["sent"]["plantilla"]  # gestión 24/11: still meaningful on 26/11
    assert "El 24/11/2026 intentamos comunicarnos con usted" in fixed.body()
    assert "plantilla_tarde" not in days["total"]  # 22/11 + 3 days has passed
    assert thursday["envios"]["plantilla_tarde"] == [
        ("SIN_CONTACTO", "F-PLT", "omitido", "fuera de plazo")]
    assert days["total"] == Counter({"combina": 1, "repetida": 2, "plantilla": 1})
