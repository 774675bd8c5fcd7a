"""What the user can fix is never final (issue 12).

A notice held back by an unapproved template, a Cuerpo that does not render (a Jinja
syntax error) or a customer without a valid email waits `pendiente`, never recorded as
final, with an Errores row on every sync. Once the user fixes the data it goes on the
next sync, once, while it is still meaningful; fixed too late it is `omitido` "fuera de
plazo", never sent. Before, the template problems were final at once (`omitido`, `error`)
and nothing went after the fix. Ledger rows an earlier release made final for a template
are reopened. Real workbook, real `cobranza sync` runs on several days, a real SMTP server.

Timeline (Monday 23/11/2026 to Wednesday 25/11/2026; only NUEVA, PREVIO and VENCIDA_1
active, so VENCIDA_1 is meaningful for 8 days after Vencimiento):

    customer        notice     meaningful        problem
    nueva_pronto    NUEVA      20/11 - 27/11     NUEVA Cuerpo has a syntax error
    nueva_tarde     NUEVA      16/11 - 23/11     (same)
    previo_pronto   PREVIO     22/11 - 27/11     PREVIO not approved
    previo_tarde    PREVIO     19/11 - 24/11     (same); its VENCIDA_1 is due 25/11
    email_pronto    VENCIDA_1  21/11 - 28/11     no Email
    email_tarde     VENCIDA_1  16/11 - 23/11     no Email
    reabierto       VENCIDA_1  21/11 - 28/11     ledger: omitido, template not approved
    reabierto_tarde VENCIDA_1  11/11 - 18/11     ledger: first-release omitido row

The data is fixed after the Monday syncs; the Wednesday syncs send what is still meaningful.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date, datetime
from pathlib import Path

from cobranza.notices.customers import PROBLEM_NO_EMAIL
from cobranza.notices.messages import Line, Outgoing, notice_key
from cobranza.vocabulary import ReasonCode, SendState, reason
from sync.ledger.store import Ledger, ledger_path
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.cli import sync, table
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, set_cells

BROKEN = "Estimado {{ cliente.nombre }:\n\nLe enviamos su nueva factura."
FIXED = "Estimado {{ cliente.nombre }}:\n\nLe enviamos su nueva factura."
CASES = {  # customer -> (issued, due, Email)
    "nueva_pronto": ("2026-11-20", "2027-01-29", "pagos@nueva-pronto.mx"),
    "nueva_tarde": ("2026-11-16", "2027-01-29", "pagos@nueva-tarde.mx"),
    "previo_pronto": ("2026-10-01", "2026-11-27", "pagos@previo-pronto.mx"),
    "previo_tarde": ("2026-10-01", "2026-11-24", "pagos@previo-tarde.mx"),
    "email_pronto": ("2026-10-01", "2026-11-20", ""),
    "email_tarde": ("2026-10-01", "2026-11-15", ""),
    "reabierto": ("2026-10-01", "2026-11-20", "pagos@reabierto.mx"),
    "reabierto_tarde": ("2026-10-01", "2026-11-10", "pagos@reabierto-tarde.mx"),
}
ROW = {customer: i + 2 for i, customer in enumerate(CASES)}  # Clientes rows
SYNTAX = ('Plantilla "NUEVA", Cuerpo, línea 1: error de sintaxis (unexpected \'}\'); revise '
          "que cada {{ }} y {% %} esté bien cerrado.")
UNTIL_FIXED = "se enviarán una vez corregida, mientras sigan vigentes."
# Plantillas rows of the template: ENCABEZADO 2, PIE 3, NUEVA 4, PREVIO 5.
ERRORES_MONDAY = [
    ("Clientes", ROW["email_pronto"], "Email", "", PROBLEM_NO_EMAIL),
    ("Clientes", ROW["email_tarde"], "Email", "", PROBLEM_NO_EMAIL),
    ("Plantillas", 5, "Aprobada", "",
     "la plantilla PREVIO no está aprobada y la usa el aviso PREVIO (Configuración, tabla "
     "Avisos, fila 3): sus avisos quedan pendientes; revise el texto y escriba Sí en "
     f"Aprobada: {UNTIL_FIXED}"),
    ("Plantillas", 4, "Código", "NUEVA",
     f"{SYNTAX[:-1]}. Los mensajes que usan esta plantilla quedan pendientes; {UNTIL_FIXED}"),
]
NO_EMAIL = "el cliente no tiene un email válido en la hoja Clientes"
LATE = "fuera de plazo"


def make_workbook(folder: Path) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": email}
                     for c, (_, _, email) in CASES.items()],
        "Facturas": [{"Factura": f"F-{c}", "Cliente": c, "Emisión": _day(issued),
                      "Vencimiento": _day(due), "Importe": 1500.0}
                     for c, (issued, due, _) in CASES.items()],
    })
    for code in ("VENCIDA_15", "VENCIDA_30", "MORA_45", "SUSPENSION_60", "PROMESA_PREVIA",
                 "PROMESA_INCUMPLIDA", "ESTADO_MENSUAL"):
        set_cells(book, "Configuración", ("Código", code), {"Activo": "No"})
    set_cells(book, "Plantillas", ("Código", "NUEVA"), {"Cuerpo": BROKEN})
    set_cells(book, "Plantillas", ("Código", "PREVIO"), {"Aprobada": "No"})
    return book


def _day(text: str) -> datetime:
    return datetime.fromisoformat(text)


def seed_earlier_release(book: Path) -> None:
    """What an earlier release recorded final for the two `reabierto` customers."""
    now = datetime.fromisoformat("2026-11-20T10:00-06:00")
    book_id = read_book(book).config.workbook_id
    not_approved = reason(ReasonCode.TEMPLATE_NOT_APPROVED, template="VENCIDA_1")
    with Ledger.open(ledger_path(book), now, book_id) as ledger:
        line = Line("F-reabierto", "reabierto", date(2026, 11, 20), 1, 150000, "MXN")
        item = Outgoing(kind="aviso", code="VENCIDA_1", recipient="reabierto",
                        to=("pagos@reabierto.mx",), cc=(), template="VENCIDA_1", lines=(line,),
                        keys=(notice_key("reabierto", "F-reabierto", "VENCIDA_1"),))
        ledger.note(item, "vencida_1-reabierto", SendState.SKIPPED, not_approved, now)
    with sqlite3.connect(ledger_path(book)) as db:  # a first-release row: no reason code
        db.execute(
            'INSERT INTO sends (book, key, message_id, kind, code, recipient, "to", invoices, '
            "state, reason, created_at, updated_at) VALUES (?, ?, 'vencida_1-tarde', 'aviso', "
            "'VENCIDA_1', 'reabierto_tarde', 'pagos@reabierto-tarde.mx', 'F-reabierto_tarde', "
            "'omitido', 'plantilla VENCIDA_1 no aprobada', ?, ?)",
            (book_id, notice_key("reabierto_tarde", "F-reabierto_tarde", "VENCIDA_1"),
             "2026-11-12T16:00:00+00:00", "2026-11-12T16:00:00+00:00"))


def envios(book: Path) -> dict[tuple[str, str], tuple[str, str, object]]:
    """(customer, code) -> (Estado, Motivo, Fecha) of each customer notice in Envíos."""
    return {(r[3], r[2]): (r[7], r[8], r[0]) for r in table(book, "Envíos", "Fecha")
            if r[1] == "Aviso" and r[3] in CASES}


def errores(book: Path) -> list[tuple]:
    return [(r[0], int(r[1]) if r[1] != "" else None, r[2], r[3], r[4])
            for r in table(book, "Errores", "Hoja")]


def ledger_rows(book: Path) -> dict[tuple[str, str], tuple[str, str, str]]:
    """(customer, code) -> (state, reason, updated_at) of the ledger's notice rows."""
    with sqlite3.connect(ledger_path(book)) as db:
        return {(r[0], r[1]): (r[2], r[3], r[4]) for r in db.execute(
            "SELECT recipient, code, state, reason, updated_at FROM sends WHERE kind = 'aviso'")}


def received(server: SmtpTestServer) -> Counter:
    """Customer messages the server accepted, by customer."""
    by_address = {email: c for c, (_, _, email) in CASES.items() if email}
    by_address |= {"pagos@email-pronto.mx": "email_pronto", "pagos@email-tarde.mx": "email_tarde"}
    return Counter(by_address[a] for m in server.received() for a in m.rcpt_tos
                   if a in by_address)


def test_what_the_user_fixes_goes_once_while_still_meaningful(tmp_path: Path) -> None:
    book = make_workbook(tmp_path)
    seed_earlier_release(book)
    before = ledger_rows(book)
    with SmtpTestServer() as server:
        # Monday: the reopened notice still meaningful goes; the others wait, reported.
        sync(book, "2026-11-23T10:00", server)
        assert received(server) == Counter({"reabierto": 1})
        monday = date(2026, 11, 23)  # standing problems show the day, not the clock
        held = {
            ("nueva_pronto", "NUEVA"): ("pendiente", SYNTAX, monday),
            ("nueva_tarde", "NUEVA"): ("pendiente", SYNTAX, monday),
            ("previo_pronto", "PREVIO"): ("pendiente", "plantilla PREVIO no aprobada", monday),
            ("previo_tarde", "PREVIO"): ("pendiente", "plantilla PREVIO no aprobada", monday),
            ("email_pronto", "VENCIDA_1"): ("pendiente", NO_EMAIL, monday),
            ("email_tarde", "VENCIDA_1"): ("pendiente", NO_EMAIL, monday),
        }
        shown = envios(book)
        assert {k: shown[k] for k in held} == held
        assert shown[("reabierto", "VENCIDA_1")][:2] == ("enviado", "")
        assert errores(book) == ERRORES_MONDAY
        assert not set(held) & set(ledger_rows(book))  # nothing held is in the ledger
        # the late reopened row stays the record, untouched
        late_key = ("reabierto_tarde", "VENCIDA_1")
        assert ledger_rows(book)[late_key] == before[late_key]

        # Later the same day: still reported; a quiet cycle leaves the workbook alone.
        sync(book, "2026-11-23T11:00", server)
        assert errores(book) == ERRORES_MONDAY
        saved = book.read_bytes()
        quiet = sync(book, "2026-11-23T12:00", server)
        assert quiet.splitlines()[-1] == (
            "Hojas de salida sin cambios desde la última sincronización.")
        assert book.read_bytes() == saved
        assert received(server) == Counter({"reabierto": 1})

        # The user fixes the Cuerpo, approves PREVIO and types the emails.
        set_cells(book, "Plantillas", ("Código", "NUEVA"), {"Cuerpo": FIXED})
        set_cells(book, "Plantillas", ("Código", "PREVIO"), {"Aprobada": "Sí"})
        for customer in ("email_pronto", "email_tarde"):
            set_cells(book, "Clientes", ("Cliente", customer),
                      {"Email": f"pagos@{customer.replace('_', '-')}.mx"})

        # Wednesday: what is still meaningful goes, once; what is late never goes.
        sync(book, "2026-11-25T10:00", server)
        sync(book, "2026-11-25T11:00", server)
        assert received(server) == Counter({
            "reabierto": 1, "nueva_pronto": 1, "previo_pronto": 1, "email_pronto": 1,
            "previo_tarde": 1})  # its VENCIDA_1, due today: not the late PREVIO
    states = {k: v[0] for k, v in ledger_rows(book).items()}
    assert {k: states[k] for k in held} == {
        ("nueva_pronto", "NUEVA"): "enviado", ("nueva_tarde", "NUEVA"): "omitido",
        ("previo_pronto", "PREVIO"): "enviado", ("previo_tarde", "PREVIO"): "omitido",
        ("email_pronto", "VENCIDA_1"): "enviado", ("email_tarde", "VENCIDA_1"): "omitido",
    }
    assert states[("previo_tarde", "VENCIDA_1")] == "enviado"
    assert states[("reabierto", "VENCIDA_1")] == "enviado"
    shown = envios(book)
    for late in (("nueva_tarde", "NUEVA"), ("previo_tarde", "PREVIO"),
                 ("email_tarde", "VENCIDA_1")):
        assert shown[late][:2] == ("omitido", LATE)
    assert shown[late_key][:2] == ("omitido", "plantilla VENCIDA_1 no aprobada")
    assert ledger_rows(book)[late_key] == before[late_key]
    assert errores(book) == []
