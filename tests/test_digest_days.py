"""Internal digests follow the company's business days (issue 12).

A broken promise keeps the collector's daily digest due every day, and an open dispute
the weekly ones (collector and area). Real workbook, real `cobranza sync` subprocesses at
09:00 on consecutive days around Christmas and New Year, a real aiosmtpd server; what
the team's inboxes receive is counted per day. Día resumen semanal is viernes: Friday
25 December (ISO week 2026-W52) and Friday 1 January (2026-W53) are holidays in Mexico,
so each week's digest goes on the following Monday, once for its own week.
"""

from __future__ import annotations

from datetime import datetime

from addin import build_template
from addin.template import layout
from cobranza.book.config import DEFAULTS
from tests.cli import cobranza
from tests.smtp_server import SmtpTestServer
from tests.test_countries import row

TEAM = ("ana@miempresa.com", "calidad@miempresa.com")


def make_book(folder):
    """Customer C1 of collector Ana López: F-1 promised for 1 December and not paid (a
    broken promise), F-2 disputed (Área Calidad, Responsable Héctor Jiménez)."""
    invoices = [("F-1", "C1", datetime(2026, 10, 20), datetime(2026, 11, 20), "MXN", 5000),
                ("F-2", "C1", datetime(2026, 10, 25), datetime(2026, 11, 25), "MXN", 7000)]
    contacts = [
        {"Fecha": datetime(2026, 11, 25), "Cobrador": "Ana López", "Cliente": "C1",
         "Factura": "F-1", "Resultado": "Promesa de pago",
         "Fecha compromiso": datetime(2026, 12, 1)},
        {"Fecha": datetime(2026, 11, 27), "Cobrador": "Ana López", "Cliente": "C1",
         "Factura": "F-2", "Resultado": "Disputa", "Área": "Calidad"},
    ]
    customer = {"Cliente": "C1", "Nombre": "Cliente Uno S.A. de C.V.",
                "Email": "pagos.c1@cliente.example", "Cobrador": "Ana López", "País": "MX",
                "Zona horaria": "America/Mexico_City"}
    return build_template.build(folder / "libro.xlsm", {
        "tblClientes": [row(layout.CLIENTES, customer)],
        "tblFacturas": invoices,
        "tblGestiones": [row(layout.GESTIONES, c) for c in contacts],
        "tblCobradores": [("Ana López", "ana@miempresa.com")],
        "tblAreas": [("Calidad", "Héctor Jiménez", "calidad@miempresa.com")],
        "tblParametros": list({**DEFAULTS, "Día resumen semanal": "viernes"}.items()),
    })


def digest_code(message) -> str:
    """The digest code a message carries (its id is "<code>-<hash of its ledger key>")."""
    return str(message.message["X-Cobranza-Clave"]).split("-")[0].upper()


def test_digests_only_on_business_days_and_a_weekly_one_moves_to_the_next(tmp_path):
    book = make_book(tmp_path)
    sent: dict[str, list[str]] = {}
    with SmtpTestServer() as server:
        seen = 0
        for day in ("2026-12-24", "2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28",
                    "2027-01-01", "2027-01-04", "2027-01-08"):
            cobranza("sync", book, "--as-of", f"{day}T09:00", server=server)
            new = server.received()[seen:]
            seen += len(new)
            sent[day] = sorted(digest_code(m) for m in new if set(m.rcpt_tos) <= set(TEAM))
    daily = "RESUMEN_COBRADOR_DIARIO"
    weekly = ["RESUMEN_AREA_SEMANAL", daily, "RESUMEN_COBRADOR_SEMANAL"]
    assert sent == {
        "2026-12-24": [daily],  # Thursday
        "2026-12-25": [],  # Navidad, a Friday: the weekly ones wait for Monday
        "2026-12-26": [],  # Saturday
        "2026-12-27": [],  # Sunday
        "2026-12-28": weekly,  # Monday: week 52's weekly digests
        "2027-01-01": [],  # Año Nuevo, a Friday
        "2027-01-04": weekly,  # Monday: week 53's, moved into week 2027-W01
        "2027-01-08": weekly,  # Friday: week 2027-W01's own
    }
