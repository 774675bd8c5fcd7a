"""What the bounces and replies read back by IMAP become (issue 15): the Respuestas sheet,
the Alertas `Correo rebotado` row and the collector's daily digest lines.

A real workbook (`cobranza init` + rows typed under the tables), the cycle's own
`process(..., inbound=...)` with a real ledger and a real aiosmtpd server, the output
sheets written into the .xlsm and read back. (The IMAP reader that fills `Inbound` from
a mailbox is another part of issue 15; its end-to-end test feeds the same `process`.)
"""

from __future__ import annotations

import re
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from cobranza.inbound.records import Bounce, Inbound, Reply
from sync.cycle import localize, process
from sync.ledger.identity import book_ledger, missing_id
from sync.mail.transport import transport_from_env
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from sync.xlsx.writer import write_outputs
from tests.cli import table
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import append_rows, save_atomically, set_cells

ANA = "ana@miempresa.com"
MX = "-06:00"  # the template's company zone (America/Mexico_City) in December


def at(text: str) -> datetime:
    return datetime.fromisoformat(text + MX)


BOUNCE = Bounce(
    message_id="<dsn-1@mx.compañía.mx>", received=at("2026-11-30T16:20:00"),
    original_id="<cobranza.mora_45-0123456789abcdef0123@miempresa.com>",
    address="pagos@xn--compaa-7va5a.mx",
    reason="550 5.1.1 <pagos@xn--compaa-7va5a.mx>: Recipient address rejected: User unknown",
)
# Monday 30/11 after Hora resumen diario (08:00) and Tuesday 01/12 before it: both belong
# to Tuesday's digest; Friday's went in Monday's; an auto-reply is never a digest line.
FRIDAY = Reply("<r0@norte.mx>", at("2026-11-27T12:00:00"), "C1", "compras@norte.mx",
               "Re: Aviso", "Ya lo vimos.", "VENCIDA_15")
MONDAY = Reply("<r1@norte.mx>", at("2026-11-30T18:05:00"), "C1", "compras@norte.mx",
               "=HYPERLINK(\"http://x\",\"Re: Aviso\")", "=SUM(A1:A9) pagamos el viernes",
               "MORA_45")
AWAY = Reply("<r2@sur.mx>", at("2026-11-30T19:00:00"), "C2", "ap@sur.mx",
             "Respuesta automática: Aviso", "+52 55 1234 fuera de la oficina", "MORA_45",
             automatic=True)
TUESDAY = Reply("<r3@sur.mx>", at("2026-12-01T07:30:00"), "C2", "ap@sur.mx",
                "-descuento", "@Ana: adjunto el comprobante", "")
INBOUND = Inbound(bounces=(BOUNCE,), replies=(FRIDAY, MONDAY, AWAY, TUESDAY))


def make_workbook(folder: Path) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [
            {"Cliente": "C1", "Nombre": "Comercial del Norte", "Cobrador": "Ana",
             "Email": "pagos@compañía.mx; compras@norte.mx"},
            {"Cliente": "C2", "Nombre": "Ferretería Sur", "Cobrador": "Ana",
             "Email": "ap@sur.mx"},
        ],
        "Facturas": [
            {"Factura": "F-1", "Cliente": "C1", "Emisión": datetime(2026, 11, 1),
             "Vencimiento": datetime(2026, 12, 31), "Moneda": "MXN", "Importe": 1500.0},
        ],
    })
    wb = openpyxl.load_workbook(book, keep_vba=True)  # tblCobradores: D1:E2, one blank row
    wb["Configuración"]["D2"], wb["Configuración"]["E2"] = "Ana", ANA
    save_atomically(wb, book)
    return book


def cycle(path: Path, when: str, server: SmtpTestServer, inbound: Inbound) -> None:
    """One cycle as `run_cycle` runs it, with the inbound records the ledger would hold."""
    book = read_book(path)
    now = localize(datetime.fromisoformat(when), book)
    transport = transport_from_env(path, server.env())
    with book_ledger(path, book, now) as ledger:
        done = process(book, now, ledger, transport, inbound=inbound)
        parameters = missing_id(book, ledger)
    assert done is not None
    write_outputs(path, done.sheets, now=now, parameters=parameters)


def bounce_alerts(book: Path) -> list[list]:
    """The Correo rebotado rows of tblAlertas (below the count per Tipo)."""
    rows = table(book, "Alertas", "Tipo")
    start = next(i for i, r in enumerate(rows) if r[:2] == ["Tipo", "Cliente"])
    return [r for r in rows[start + 1:] if r[0] == "Correo rebotado"]


def digest_to(messages: list[Received], address: str) -> list[Received]:
    return [m for m in messages if address in m.rcpt_tos]


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> tuple[Path, list[Received]]:
    book = make_workbook(tmp_path_factory.mktemp("respuestas"))
    with SmtpTestServer() as server:
        cycle(book, "2026-12-01T10:00", server, INBOUND)
        return book, server.received()


def test_respuestas_lists_every_reply_newest_first(synced):
    book, _ = synced
    assert table(book, "Respuestas", "Fecha") == [
        [datetime(2026, 12, 1, 7, 30), "C2", "Ferretería Sur", "Ana", "ap@sur.mx",
         "-descuento", "@Ana: adjunto el comprobante", "", "respuesta"],
        [datetime(2026, 11, 30, 19, 0), "C2", "Ferretería Sur", "Ana", "ap@sur.mx",
         "Respuesta automática: Aviso", "+52 55 1234 fuera de la oficina", "MORA_45",
         "respuesta automática"],
        [datetime(2026, 11, 30, 18, 5), "C1", "Comercial del Norte", "Ana", "compras@norte.mx",
         "=HYPERLINK(\"http://x\",\"Re: Aviso\")", "=SUM(A1:A9) pagamos el viernes",
         "MORA_45", "respuesta"],
        [datetime(2026, 11, 27, 12, 0), "C1", "Comercial del Norte", "Ana", "compras@norte.mx",
         "Re: Aviso", "Ya lo vimos.", "VENCIDA_15", "respuesta"],
    ]


def test_text_from_messages_is_never_a_formula(synced):
    """=, +, - and @ at the start of a subject or excerpt stay text (inline strings)."""
    book, _ = synced
    with zipfile.ZipFile(book) as package:
        names = {n for n in package.namelist() if n.startswith("xl/worksheets/sheet")}
        sheet = next(package.read(n).decode() for n in sorted(names)
                     if "tblRespuestas" in _tables_of(package, n))
    assert "<f>" not in sheet and "<f " not in sheet
    assert sheet.count('t="inlineStr"') >= 4 * 7


def _tables_of(package: zipfile.ZipFile, sheet: str) -> str:
    """The table XML parts a sheet part refers to, concatenated."""
    rels = sheet.replace("worksheets/", "worksheets/_rels/") + ".rels"
    if rels not in package.namelist():
        return ""
    targets = re.findall(r'Target="\.\./tables/([^"]+)"', package.read(rels).decode())
    return "".join(package.read(f"xl/tables/{t}").decode() for t in targets)


def test_alertas_has_the_bounce_of_an_address_still_in_email(synced):
    book, _ = synced
    assert bounce_alerts(book) == [[
        "Correo rebotado", "C1", "Comercial del Norte", "Ana", "", "MXN", 1500.0, 1.0,
        "pagos@xn--compaa-7va5a.mx rebotó el 30/11/2026: 550 5.1.1 "
        "<pagos@xn--compaa-7va5a.mx>: Recipient address rejected: User unknown. Confirme "
        "la dirección con el cliente y corríjala en Clientes.", "",
    ]]


def test_the_collectors_daily_digest_lists_new_replies_and_the_bounce(synced):
    _, messages = synced
    (digest,) = digest_to(messages, ANA)
    assert digest.subject == "Resumen diario de cobranza al 01/12/2026"
    lines = [ln for ln in digest.body().splitlines() if ln.startswith("- ")]
    assert lines == [
        "- Cliente C1: Comercial del Norte (compras@norte.mx) respondió el 30/11/2026 18:05 "
        "al aviso MORA_45: «=SUM(A1:A9) pagamos el viernes»",
        "- Cliente C2: Ferretería Sur (ap@sur.mx) respondió el 01/12/2026 07:30: «@Ana: "
        "adjunto el comprobante»",
        "- Cliente C1: pagos@xn--compaa-7va5a.mx rebotó el 30/11/2026: 550 5.1.1 "
        "<pagos@xn--compaa-7va5a.mx>: Recipient address rejected: User unknown. Confirme "
        "la dirección con el cliente y corríjala en Clientes.",
    ]
    assert "Respuestas de sus clientes recibidas desde el resumen anterior" in digest.body()
    assert "Correos a sus clientes que rebotaron:" in digest.body()
    assert "promesas" not in digest.body()


def test_the_alert_goes_when_the_email_changes_and_replies_are_listed_once(tmp_path):
    book = make_workbook(tmp_path)
    with SmtpTestServer() as server:
        cycle(book, "2026-12-01T10:00", server, INBOUND)
        assert [m.subject for m in digest_to(server.received(), ANA)] == [
            "Resumen diario de cobranza al 01/12/2026"]
        server.clear()
        # The bounced address still listed (now in Email CC, typed in capitals): still alerted
        set_cells(book, "Clientes", ("Cliente", "C1"),
                  {"Email": "compras@norte.mx", "Email CC": "PAGOS@COMPAÑÍA.MX"})
        cycle(book, "2026-12-02T10:00", server, INBOUND)
        assert [r[:4] for r in bounce_alerts(book)] == [
            ["Correo rebotado", "C1", "Comercial del Norte", "Ana"]]
        (digest,) = digest_to(server.received(), ANA)  # the bounce again, no reply again
        assert [ln[:40] for ln in digest.body().splitlines() if ln.startswith("- ")] == [
            "- Cliente C1: pagos@xn--compaa-7va5a.mx "]
        server.clear()
        set_cells(book, "Clientes", ("Cliente", "C1"), {"Email CC": ""})
        cycle(book, "2026-12-03T10:00", server, INBOUND)
        assert bounce_alerts(book) == []
        assert digest_to(server.received(), ANA) == []  # nothing new for Ana
    assert len(table(book, "Respuestas", "Fecha")) == 4  # the sheet keeps every reply


def test_the_ribbon_keeps_what_the_inbox_read_back(tmp_path, monkeypatch):
    """Enviar recordatorios rewrote Respuestas empty and Actualizar alertas dropped the
    Correo rebotado row: the ribbon must see the ledger's bounces and replies too."""
    from addin import ribbon
    from addin.book import FileBook

    book = make_workbook(tmp_path)
    parsed = read_book(book)
    with book_ledger(book, parsed, at("2026-12-01T09:00")) as ledger:
        for record in (BOUNCE, MONDAY):
            assert ledger.keep_inbound(record.message_id, record, record.received)
    ribbon.actualizar_alertas(FileBook(book), datetime(2026, 12, 1, 9, 30))
    assert [r[:3] for r in bounce_alerts(book)] == [["Correo rebotado", "C1",
                                                     "Comercial del Norte"]]
    with SmtpTestServer() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        ribbon.enviar_recordatorios(FileBook(book, confirm=lambda text: True),
                                    datetime(2026, 12, 1, 10, 0))
    assert [r[1:3] for r in table(book, "Respuestas", "Fecha")] == [
        ["C1", "Comercial del Norte"]]
