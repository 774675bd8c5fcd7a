"""A message counts as sent only when the server accepted its data (issue 10, point 1).

A real workbook (`cobranza init` + rows typed under the tables), real `cobranza sync`
runs, a real aiosmtpd server that answers the end of DATA with 554 (spam filter), 552
(too large) or 451 (greylisting) for some recipients and accepts the others. Checked
after each sync: what the server accepted, the ledger, and the Envíos and Errores sheets
read back from the file; then the user fixes the Email of a refused customer in the
workbook and the notice, still meaningful, goes to the new address exactly once.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from sync.ledger.store import ledger_path
from tests.cli import sync, table, vencida_1
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import overdue_workbook, set_cells

SPAM = "554 5.7.1 Mensaje rechazado por el filtro de spam"
LARGE = "552 5.3.4 Mensaje demasiado grande"
GREY = "450 4.2.0 Lista gris: intente de nuevo en 5 minutos"  # postgrey's greylisting
CUSTOMERS = {  # customer -> Email; rows 2.. of Clientes in this order
    "C1": "spam@filtro.mx", "C2": "grande@buzon.mx", "C3": "gris@lista.mx",
    "C4": "ok@cliente.mx",
}
FIX = "Email y los avisos vigentes se enviarán a la nueva dirección"


def refused_row(row: int, email: str, reply: str) -> tuple:
    return ("Clientes", row, "Email", email,
            f"el servidor de correo rechazó el aviso VENCIDA_1 para {email} "
            f"(el servidor respondió {reply}); corrija el {FIX}")


make_workbook, envios = overdue_workbook, vencida_1


def errores(book: Path) -> list[tuple]:
    return [(r[0], int(r[1]), r[2], r[3], r[4]) for r in table(book, "Errores", "Hoja")]


def ledger(book: Path) -> dict[str, tuple[str, str, str]]:
    """VENCIDA_1 keys of the ledger: customer -> (to, state, reason)."""
    with sqlite3.connect(ledger_path(book)) as db:
        rows = db.execute('SELECT recipient, "to", state, reason FROM sends '
                          "WHERE code = 'VENCIDA_1'").fetchall()
    return {r[0]: r[1:] for r in rows}


def accepted(server: SmtpTestServer) -> list[tuple[str, ...]]:
    return [r.rcpt_tos for r in server.received()]


@pytest.fixture
def server():
    with SmtpTestServer() as srv:
        srv.data_replies = {"spam@filtro.mx": SPAM, "grande@buzon.mx": LARGE,
                            "gris@lista.mx": GREY}
        yield srv


def test_refused_data_is_never_sent_and_a_new_email_gets_the_notice_once(server, tmp_path):
    book = make_workbook(tmp_path, CUSTOMERS)

    sync(book, "2026-11-25T10:00", server)
    assert accepted(server) == [("ok@cliente.mx",)]
    assert [r.rcpt_tos for r in server.refused] == [
        ("spam@filtro.mx",), ("grande@buzon.mx",), ("gris@lista.mx",)]
    spam, large, grey = (f"el servidor respondió {r}" for r in (SPAM, LARGE, GREY))
    assert ledger(book) == {
        "C1": ("spam@filtro.mx", "error", spam), "C2": ("grande@buzon.mx", "error", large),
        "C3": ("gris@lista.mx", "pendiente", grey), "C4": ("ok@cliente.mx", "enviado", ""),
    }
    assert envios(book) == {
        "C1": ("spam@filtro.mx", "error", spam), "C2": ("grande@buzon.mx", "error", large),
        "C3": ("gris@lista.mx", "pendiente", grey), "C4": ("ok@cliente.mx", "enviado", ""),
    }
    standing = [refused_row(2, "spam@filtro.mx", SPAM), refused_row(3, "grande@buzon.mx", LARGE)]
    assert errores(book) == standing

    # Before the greylisting backoff (5 minutes) nothing is tried again; the refusals stand.
    sync(book, "2026-11-25T10:03", server)
    assert len(server.received()) == 1 and len(server.refused) == 3
    assert errores(book) == standing

    # The greylisting server now takes it: retried once after the backoff.
    del server.data_replies["gris@lista.mx"]
    sync(book, "2026-11-25T10:06", server)
    assert accepted(server) == [("ok@cliente.mx",), ("gris@lista.mx",)]
    assert envios(book)["C3"] == ("gris@lista.mx", "enviado", "")
    assert errores(book) == standing

    # The user types a new Email for C1: the notice, still meaningful, goes there once.
    set_cells(book, "Clientes", ("Cliente", "C1"), {"Email": "pagos@filtro.mx"})
    sync(book, "2026-11-25T10:10", server)
    sync(book, "2026-11-25T10:20", server)
    assert accepted(server) == [("ok@cliente.mx",), ("gris@lista.mx",), ("pagos@filtro.mx",)]
    assert "F-C1" in server.received()[-1].body()
    assert len(server.refused) == 3  # nothing was sent again to a refused address
    assert ledger(book)["C1"] == ("pagos@filtro.mx", "enviado", "")
    assert envios(book)["C1"] == ("pagos@filtro.mx", "enviado", "")
    assert envios(book)["C2"] == ("grande@buzon.mx", "error", large)
    assert errores(book) == [refused_row(3, "grande@buzon.mx", LARGE)]
