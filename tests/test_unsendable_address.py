"""An address the mailer refuses after validation let it through is never a final error
(issue 11).

Configuración `Remitente` is typed as a person would: `Cobranza, S.A. <...>`, whose
unquoted comma makes two addresses of it, so the mailer cannot build the message.
Before, every notice became a final `error` on the first sync, no Errores row said why,
and once the Remitente was fixed the notices never went. Now they wait `pendiente`
(never claimed nor recorded), one Errores row names the Remitente, and after the fix
they go out, once. Real workbook, real `cobranza sync` runs, a real SMTP server.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import python_calamine

from sync.ledger.store import ledger_path
from sync.workbook.init import create_workbook
from tests.cli import sync
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, set_cells

BAD = "Cobranza, S.A. <cobranza@miempresa.mx>"
FIXED = '"Cobranza, S.A." <cobranza@miempresa.mx>'
REASON = ('"Cobranza, S.A. <cobranza@miempresa.mx>" no es una dirección de correo válida '
          "(use nombre@dominio.com).")
PROBLEM = ("no es válido para Remitente: el correo no se puede enviar con ese remitente "
           "(use Nombre <cobranza@suempresa.com>; si el nombre lleva comas, escríbalo entre "
           "comillas); los avisos quedan pendientes hasta corregirlo.")


def make_workbook(folder: Path) -> Path:
    """Two customers whose invoice fell due the day before the first sync (VENCIDA_1)."""
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": f"pagos@{c}.mx"}
                     for c in ("c1", "c2")],
        "Facturas": [{"Factura": f"F-{c}", "Cliente": c, "Emisión": datetime(2026, 11, 1),
                      "Vencimiento": datetime(2026, 11, 24), "Importe": 1500.0}
                     for c in ("c1", "c2")],
    })
    set_cells(book, "Configuración", ("Parámetro", "Remitente"), {"Valor": BAD})
    return book


def table(book: Path, sheet: str, first: str) -> list[list]:
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        sheet).to_python()
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    return [r for r in rows[start + 1:] if any(v != "" for v in r)]


def vencida_1(book: Path) -> dict[str, tuple[str, str]]:
    """Envíos rows of VENCIDA_1: customer -> (Estado, Motivo)."""
    return {r[3]: (r[7], r[8]) for r in table(book, "Envíos", "Fecha") if r[2] == "VENCIDA_1"}


def ledger_states(book: Path) -> dict[str, str]:
    with sqlite3.connect(ledger_path(book)) as db:
        return dict(db.execute("SELECT recipient, state FROM sends WHERE code = 'VENCIDA_1'"))


def test_a_remitente_the_mailer_refuses_holds_the_notices_until_it_is_fixed(tmp_path):
    book = make_workbook(tmp_path)
    with SmtpTestServer() as server:
        sync(book, "2026-11-25T10:00", server)
        assert server.received() == []
        assert vencida_1(book) == {"c1": ("pendiente", REASON), "c2": ("pendiente", REASON)}
        assert [tuple(r) for r in table(book, "Errores", "Hoja")] == [
            ("Configuración", "", "Valor", BAD, PROBLEM)]
        assert ledger_states(book) == {}  # nothing claimed, nothing final

        set_cells(book, "Configuración", ("Parámetro", "Remitente"), {"Valor": FIXED})
        sync(book, "2026-11-25T11:00", server)
        sync(book, "2026-11-25T12:00", server)
        assert sorted((m.rcpt_tos, m.message["From"]) for m in server.received()) == [
            (("pagos@c1.mx",), FIXED), (("pagos@c2.mx",), FIXED)]
    assert vencida_1(book) == {"c1": ("enviado", ""), "c2": ("enviado", "")}
    assert table(book, "Errores", "Hoja") == []
    assert ledger_states(book) == {"c1": "enviado", "c2": "enviado"}
