"""The archive of every message (issue 13): `.cobranza/archivo/<AAAA-MM>/*.eml`, the
Envíos column Archivo, and `Meses de archivo` pruning by `cobranza sync` and `cobranza run`.

The demo workbook (`cobranza init --demo`) synced with the real `cobranza sync` on
1 December 2026 sends combined customer emails (monthly statement attached) and the
collectors' and areas' digests to a real aiosmtpd server; every archived file must be
the very bytes the server received.
"""

from __future__ import annotations

import email
import re
import sqlite3
from datetime import date, datetime
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from book_factory import make_book

from cobranza.notices.messages import Outgoing, notice_key
from cobranza.notices.statement import statement_lines
from cobranza.rules.invoices import compute_invoices
from cobranza.vocabulary import Kind
from sync.ledger.store import Ledger, ledger_path
from sync.mail.archive import Archive, archive_name, expired, first_kept_month
from sync.mail.sending import deliver
from sync.mail.transport import SmtpSettings, SmtpTransport
from tests.cli import cobranza, sync, table
from tests.smtp_server import SmtpTestServer
from tests.test_leftovers import kill, stalled
from tests.test_sending import as_message
from tests.test_service import Running
from tests.workbook_edit import lab_pace, set_cells

AT = "2026-12-01T10:00"  # first business day of December: statements and digests go
MONTH = ".cobranza/archivo/2026-12/"
ARCHIVO = 9  # Envíos columns: Fecha Tipo Código Destinatario Para Facturas Asunto Estado
# Motivo Archivo
NAME = re.compile(r"^\d{8}-\d{6}_[A-Za-z0-9_-]+\.eml$")


def demo_book(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "cartera.xlsm"
    cobranza("init", "--demo", "--facturas", "120", "--as-of", "2026-12-01", book, cwd=folder)
    return lab_pace(book)


def parsed(data: bytes) -> EmailMessage:
    return email.message_from_bytes(data, policy=default_policy)


def archived(book: Path) -> dict[str, bytes]:
    """Every archived file (relative name -> bytes), whatever the month."""
    root = book.parent / ".cobranza" / "archivo"
    return {p.relative_to(book.parent).as_posix(): p.read_bytes()
            for p in sorted(root.glob("*/*.eml"))}


@pytest.fixture(scope="module")
def smtp_run(tmp_path_factory) -> dict:
    """Two syncs of the demo workbook a few minutes apart, with a real SMTP server."""
    book = demo_book(tmp_path_factory.mktemp("archivo"))
    with SmtpTestServer() as server:
        sync(book, AT, server)
        first = {"received": server.received(), "files": archived(book),
                 "envios": table(book, "Envíos", "Fecha")}
        sync(book, "2026-12-01T10:20", server)
        second = {"received": server.received(), "files": archived(book),
                  "envios": table(book, "Envíos", "Fecha")}
    return {"book": book, "first": first, "second": second}


def test_every_archived_file_is_the_bytes_the_smtp_server_received(smtp_run):
    received = smtp_run["first"]["received"]
    files = smtp_run["first"]["files"]
    by_id = {str(parsed(data)["Message-ID"]): data for data in files.values()}
    assert len(files) == len(by_id) == len(received) == 31
    for message in received:
        data = by_id[str(message.message["Message-ID"])]
        assert data == message.raw  # the wire bytes, CRLF, Date, Message-ID, attachments
    # among them combined emails with the monthly statement attached, and the digests
    notices = [str(parsed(d)["X-Cobranza-Avisos"] or "") for d in files.values()]
    combined = [parsed(d) for d, codes in zip(files.values(), notices, strict=True)
                if codes.endswith(", ESTADO_MENSUAL")]
    assert len(combined) == 21
    assert all(any(a.get_filename().endswith(".xlsx") for a in m.iter_attachments())
               for m in combined)
    assert notices.count("") == 7  # digests carry no notice codes
    assert sum("_resumen_" in n for n in files) == 7


def test_envios_archivo_names_the_file_of_each_sent_message(smtp_run, tmp_path):
    book = smtp_run["book"]
    rows = smtp_run["first"]["envios"]
    received = {str(m.message["Message-ID"]): m for m in smtp_run["first"]["received"]}
    sent = [r for r in rows if r[7] == "enviado"]
    assert len(sent) == 31
    for row in sent:
        assert row[ARCHIVO].startswith(MONTH) and NAME.match(row[ARCHIVO][len(MONTH):])
        message = parsed((book.parent / row[ARCHIVO]).read_bytes())
        on_server = received[str(message["Message-ID"])].message
        assert (str(on_server["Subject"]), str(on_server["To"])) == (
            row[6], str(message["To"]))
    assert {r[ARCHIVO] for r in sent} == set(smtp_run["first"]["files"])
    # pendiente and omitido rows name no file
    assert {r[7] for r in rows if not r[ARCHIVO]} == {"pendiente", "omitido"}
    # the ledger keeps the name: a Envíos rebuilt from it names the same files
    with sqlite3.connect(ledger_path(book)) as db:
        names = {n for (n,) in db.execute("SELECT DISTINCT archive FROM sends")}
    assert names == {"", *smtp_run["first"]["files"]}


def test_a_second_sync_sends_and_archives_nothing_new(smtp_run):
    first, second = smtp_run["first"], smtp_run["second"]
    assert len(second["received"]) == len(first["received"])
    assert second["files"] == first["files"]
    archivo = {(r[2], r[3], r[7], r[ARCHIVO]) for r in first["envios"]}
    assert {(r[2], r[3], r[7], r[ARCHIVO]) for r in second["envios"]} == archivo


def test_the_outbox_is_archived_too(tmp_path):
    """No SMTP configured: the .eml written to salida/ is the archived one, byte for byte."""
    book = demo_book(tmp_path)
    sync(book, AT, None)
    outbox = {str(parsed(p.read_bytes())["Message-ID"]): p.read_bytes()
              for p in (tmp_path / "salida").glob("*.eml")}
    files = archived(book)
    assert len(outbox) == len(files) == 31
    assert {str(parsed(d)["Message-ID"]): d for d in files.values()} == outbox
    sent = [r for r in table(book, "Envíos", "Fecha") if r[7] == "enviado"]
    assert {r[ARCHIVO] for r in sent} == set(files)


# ---------------------------------------------------------------- names
MX = ZoneInfo("America/Mexico_City")
NOW = datetime(2026, 11, 25, 10, 30, 5, tzinfo=MX)


@pytest.mark.parametrize(("recipient", "shown"), [
    ("C-0042", "C-0042"),
    ("../../etc/passwd", "etc_passwd"),
    ("C:\\clientes\\..\\x", "C_clientes_x"),
    ("Ñandú López S.A.", "Nandu_Lopez_S_A"),
    ("cobranza@empresa.mx", "cobranza_empresa_mx"),
    ("..", "x"),
    ("X" * 500, "X" * 40),
])
def test_archive_names_are_safe_bounded_and_readable(recipient, shown):
    name = archive_name(NOW, recipient, "vencida_1-0123456789abcdef0123")
    assert name == (f".cobranza/archivo/2026-11/20261125-103005_{shown}_"
                    "vencida_1-0123456789.eml")


def test_a_hostile_customer_code_stays_inside_its_month_folder(tmp_path):
    """A code with "/", "..", ":" and 300 characters: the file is where it belongs, and it
    holds what the server received."""
    code = "../../" + "C:/Ñ.." * 50
    book = make_book(customers=[{"customer": code, "name": "Hostil", "emails": "h@h.mx"}],
                     invoices=[("F-1", code, "2026-11-24", "100.00")],
                     templates=[("VENCIDA_1", "Factura vencida", "Su factura vence.", True)])
    invoices = compute_invoices(book, NOW.date())
    item = as_message(Outgoing(Kind.NOTICE, "VENCIDA_1", code, ("h@h.mx",), (), "VENCIDA_1",
                               statement_lines(invoices, code),
                               (notice_key(code, "F-1", "VENCIDA_1"),)))
    with (SmtpTestServer() as server,
          Ledger.open(tmp_path / "ledger.sqlite", NOW, "libro") as ledger):
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none", timeout=5))
        (row,) = deliver([item], book, invoices, ledger, transport, NOW,
                         archive=Archive(tmp_path))
        (message,) = server.received()
        archives = [r.archive for r in ledger.rows()]
    assert row.state == "enviado"
    (kept,) = [p for p in (tmp_path / ".cobranza" / "archivo").rglob("*") if p.is_file()]
    assert kept.parent == tmp_path / ".cobranza" / "archivo" / "2026-11"
    assert NAME.match(kept.name) and len(kept.name) <= 100
    assert kept.read_bytes() == message.raw
    assert archives == [kept.relative_to(tmp_path).as_posix()]


@pytest.mark.parametrize(("refusal", "state"), [
    ("reject", "error"),  # 550 to the only To: refused for good
    ("transient", "pendiente"),  # 451: retried later, with a new copy then
    ("data", "error"),  # 554 to the end of DATA: the server did not take it
])
def test_a_message_that_did_not_go_keeps_no_copy(tmp_path, refusal, state):
    book = make_book(customers=[{"customer": "C1", "name": "Uno", "emails": "c1@uno.mx"}],
                     invoices=[("F-1", "C1", "2026-11-24", "100.00")],
                     templates=[("VENCIDA_1", "Factura vencida", "Su factura vence.", True)])
    invoices = compute_invoices(book, NOW.date())
    item = as_message(Outgoing(Kind.NOTICE, "VENCIDA_1", "C1", ("c1@uno.mx",), (), "VENCIDA_1",
                               statement_lines(invoices, "C1"),
                               (notice_key("C1", "F-1", "VENCIDA_1"),)))
    with (SmtpTestServer() as server,
          Ledger.open(tmp_path / "ledger.sqlite", NOW, "libro") as ledger):
        server.reject = {"c1@uno.mx"} if refusal == "reject" else set()
        server.transient = refusal == "transient"
        server.data_replies = {"c1@uno.mx": "554 5.7.1 rechazado"} if refusal == "data" else {}
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none", timeout=5))
        (row,) = deliver([item], book, invoices, ledger, transport, NOW,
                         archive=Archive(tmp_path))
        assert server.received() == []
        assert [(r.state, r.archive) for r in ledger.rows()] == [(state, "")]
    assert row.state == state
    assert [p for p in (tmp_path / ".cobranza").rglob("*") if p.is_file()] == []


def test_a_sync_killed_while_writing_a_copy_sent_nothing_and_the_next_one_cleans_up(
        tmp_path):
    """The disk hangs on the first copy (before its message is claimed or sent) and the
    sync is killed: nothing went; the next sync removes the half-made temp file and sends
    every message once, each with its copy."""
    book = demo_book(tmp_path)
    killed, temp = stalled(["sync", str(book), "--as-of", AT], tmp_path,
                           tmp_path / "marca", suffix=".eml")
    kill(killed)
    assert temp.parent == tmp_path / ".cobranza" / "archivo" / "2026-12" and temp.exists()
    assert not (tmp_path / "salida").exists()  # nothing was sent
    done = cobranza("sync", book, "--as-of", AT, cwd=tmp_path)
    assert f"Se eliminó {temp.name}, archivo temporal de una escritura interrumpida." \
        in done.stderr
    outbox = sorted(p.read_bytes() for p in (tmp_path / "salida").glob("*.eml"))
    assert sorted(archived(book).values()) == outbox and len(outbox) == 31
    assert not any(p.name.startswith(".") for p in temp.parent.iterdir())
    assert {r[7] for r in table(book, "Envíos", "Fecha")} == {"enviado", "pendiente", "omitido"}


# ---------------------------------------------------------------- a refused archive
def test_a_message_the_archive_cannot_keep_is_sent_and_reported(tmp_path):
    """The archive folder cannot be made (a file has its name): every message still goes,
    Envíos shows no Archivo, and Errores and the log say why, once."""
    book = demo_book(tmp_path)
    (tmp_path / ".cobranza").mkdir(exist_ok=True)
    (tmp_path / ".cobranza" / "archivo").write_text("no es una carpeta")
    with SmtpTestServer() as server:
        done = cobranza("sync", book, "--as-of", AT, cwd=tmp_path, server=server)
        assert len(server.received()) == 31
    sent = [r for r in table(book, "Envíos", "Fecha") if r[7] == "enviado"]
    assert len(sent) == 31 and {r[ARCHIVO] for r in sent} == {""}
    problem = ("no se pudo guardar ahí la copia de los mensajes enviados (en la ruta hay un "
               "archivo donde debería haber una carpeta); se enviaron igual y Envíos los "
               "muestra sin Archivo. Libere espacio en el disco o dé permiso de escritura en "
               "esa carpeta para que los próximos se archiven.")
    errores = [r for r in table(book, "Errores", "Hoja") if r[0] == "Envíos"]
    assert [r[2:] for r in errores] == [["Archivo", ".cobranza/archivo/2026-12", problem]]
    (line,) = [ln for ln in done.stderr.splitlines() if "copia de los mensajes" in ln]
    assert line.endswith(f'WARNING Envíos, Archivo: ".cobranza/archivo/2026-12" {problem}')


# ---------------------------------------------------------------- pruning
@pytest.mark.parametrize(("as_of", "months", "kept", "gone"), [
    ("2026-12-04", 24, "2024-12", "2024-11"),  # 2024-12-31 is 24 months old on 2026-12-31
    ("2026-12-31", 24, "2024-12", "2024-11"),
    ("2027-01-01", 24, "2025-01", "2024-12"),
    ("2026-03-15", 12, "2025-03", "2025-02"),
    ("2026-01-10", 1, "2025-12", "2025-11"),
    ("2026-12-01", 36, "2023-12", "2023-11"),
])
def test_whole_months_are_kept_at_least_meses_de_archivo(as_of, months, kept, gone):
    day = date.fromisoformat(as_of)
    assert first_kept_month(day, months) == tuple(map(int, kept.split("-")))
    assert (expired(kept, day, months), expired(gone, day, months)) == (False, True)
    for other in ("2024-13", "2024-1", "viejos", "2024-11-01", "2024-11.bak", "../2020-01"):
        assert not expired(other, day, months)


def old_archive(folder: Path) -> Path:
    """An archive with old months and things that are not the archive's."""
    root = folder / ".cobranza" / "archivo"
    files = {
        "2024-10/20241003-100000_C1_nueva-aaaa.eml": "x",
        "2024-10/notas.txt": "notas del auditor",
        "2024-11/20241105-100000_C1_previo-bbbb.eml": "x",
        "2024-11/20241130-235959_C2_previo-cccc.eml": "x",
        "2024-12/20241201-100000_C1_vencida_1-dddd.eml": "x",
        "2025-06/20250601-100000_C1_vencida_1-eeee.eml": "x",
        "viejos/20200101-100000_C1_nueva-ffff.eml": "x",
        "2024-13/20241301-100000_C1_nueva-gggg.eml": "x",
        "leame.eml": "x",
        "leame.txt": "x",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    (root / "2024-09" / "anexos").mkdir(parents=True)
    (root / "2024-09" / "anexos" / "contrato.eml").write_text("x")
    return root


def listing(root: Path) -> set[str]:
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if not p.relative_to(root).as_posix().startswith("2026-12")}


def test_sync_prunes_months_older_than_meses_de_archivo_and_nothing_else(tmp_path):
    book = demo_book(tmp_path)
    root = old_archive(tmp_path)
    before = listing(root)
    done = cobranza("sync", book, "--as-of", "2026-12-04T10:00", cwd=tmp_path)
    assert listing(root) == before - {
        "2024-10/20241003-100000_C1_nueva-aaaa.eml", "2024-11",
        "2024-11/20241105-100000_C1_previo-bbbb.eml",
        "2024-11/20241130-235959_C2_previo-cccc.eml"}
    assert "Archivo de correos: se borraron 2 mensajes de 2024-11 (Meses de archivo: 24)." \
        in done.stderr
    assert any((root / "2026-12").iterdir())  # this sync's own messages
    # a dry run changes nothing, even a month later
    cobranza("sync", book, "--as-of", "2027-01-05T10:00", "--dry-run", cwd=tmp_path)
    assert "2024-12" in listing(root)


def test_the_service_prunes_with_the_workbooks_meses_de_archivo(tmp_path):
    """`cobranza run` (a real subprocess, stopped by SIGTERM) on 1 December 2026 with
    Meses de archivo 3: September to December stay, August and older go."""
    book = demo_book(tmp_path)
    set_cells(book, "Configuración", ("Parámetro", "Meses de archivo"), {"Valor": "3"})
    root = old_archive(tmp_path)
    for month in ("2026-08", "2026-09"):
        (root / month).mkdir()
        (root / month / f"{month.replace('-', '')}01-100000_C1_nueva-hhhh.eml").write_text("x")
    with SmtpTestServer() as server:
        run = Running([book], server, tmp_path / "servicio.log")
        try:
            run.wait_cycles(book, 1)
        finally:
            assert run.stop() == 0
    months = {p.name for p in root.iterdir() if p.is_dir()}
    assert months == {"2024-09", "2024-10", "2026-09", "2026-12", "viejos", "2024-13"}
    assert listing(root) >= {"2024-10/notas.txt", "2024-09/anexos/contrato.eml", "leame.eml",
                             "leame.txt", "viejos/20200101-100000_C1_nueva-ffff.eml"}
    assert "Archivo de correos: se borró 1 mensaje de 2026-08 (Meses de archivo: 3)." \
        in run.text()


# ---------------------------------------------------------------- the ledger's column
def ledger_of_version_2(path: Path, book: str, item: Outgoing) -> None:
    """A ledger file as the release before the archive left it (schema version 2: no
    `archive` column), holding one message sent."""
    with Ledger.open(path, NOW, book) as ledger:
        assert ledger.claim(item, "vencida_1-0123456789abcdef0123", NOW, "Factura vencida")
        ledger.record("vencida_1-0123456789abcdef0123", "enviado", None, NOW)
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE sends DROP COLUMN archive")
        db.execute("PRAGMA user_version = 2")


def one_notice(customer: str = "C1") -> Outgoing:
    return as_message(Outgoing(Kind.NOTICE, "VENCIDA_1", customer, ("c1@example.com",), (),
                               "VENCIDA_1", (), (notice_key(customer, "F-1", "VENCIDA_1"),)))


def test_a_version_2_ledger_keeps_working_and_gains_the_archive_column(tmp_path):
    path = tmp_path / "ledger.sqlite"
    ledger_of_version_2(path, "libro", one_notice())
    with Ledger.open(path, NOW, "libro") as ledger:
        assert [(r.state, r.subject, r.archive) for r in ledger.rows()] == [
            ("enviado", "Factura vencida", "")]
        assert not ledger.claim(one_notice(), "vencida_1-0123456789abcdef0123", NOW)
        assert ledger.claim(one_notice("C2"), "vencida_1-x", NOW, archive="a.eml")
        ledger.record("vencida_1-x", "enviado", None, NOW)
        assert {r.recipient: r.archive for r in ledger.rows()} == {"C1": "", "C2": "a.eml"}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)


def test_a_version_2_shared_ledger_is_still_adopted(tmp_path):
    """The folder's ledger of the previous release, when an option chose another file:
    its rows of this workbook are moved in, not ignored (which would send them again)."""
    old = tmp_path / "anterior.sqlite"
    ledger_of_version_2(old, "libro", one_notice())
    with Ledger.open(tmp_path / "nuevo.sqlite", NOW, "libro") as ledger:
        assert ledger.adopt([], NOW, legacy=[old]) == 1
        assert [(r.recipient, r.state, r.archive) for r in ledger.rows()] == [
            ("C1", "enviado", "")]
