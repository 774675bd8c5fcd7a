"""The workbook carries its identity and its history (issue 10, point 2).

A synced workbook copied with "Guardar como", renamed, moved to another folder or opened
on a PC with no ledger at all never sends again what it already sent: the ledger is keyed
by Configuración `Id del libro`, and a ledger with no record of an id is seeded from the
workbook's own Envíos sheet before anything is sent.

Real files and processes: `cobranza init` / `cobranza sync` subprocesses against an
aiosmtpd server, and a workbook plus ledger made by the first release
(tests/fixtures/primera-version, see its README).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
from pathlib import Path

import openpyxl
import pytest

from cobranza.book.config import WORKBOOK_ID
from cobranza.notices.seeding import Joined, seeds_from_envios, split_invoices
from sync.ledger.store import ledger_path
from sync.xlsx.reader import read_book
from sync.xlsx.sent_reader import read_sent
from tests.cli import cobranza as run
from tests.lo import convert
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import lab_pace

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
FIRST = REPO / "tests" / "fixtures" / "primera-version"
SYNCED_AT = "2026-12-01T10:00"  # when the first release synced the fixture
LATER = "2026-12-07T10:00"  # a Monday: reminders, promise notices, weekly digests are due
UUID = r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}"


def cobranza(*args: object, cwd: Path, server: SmtpTestServer | None = None) -> str:
    """`cobranza ARGS` (must succeed); its standard output."""
    return run(*args, cwd=cwd, server=server).stdout


def first_release_copy(folder: Path, with_ledger: bool) -> Path:
    """The fixture workbook in `folder`, with or without the first release's ledger."""
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "cartera.xlsm"
    shutil.copyfile(FIRST / "cartera.xlsm", book)
    if with_ledger:
        (folder / ".cobranza").mkdir()
        shutil.copyfile(FIRST / "cartera.ledger.sqlite", folder / ".cobranza" /
                        "cartera.ledger.sqlite")
    return book


def legacy_rows() -> set[tuple[str, str]]:
    with sqlite3.connect(FIRST / "cartera.ledger.sqlite") as db:
        return set(db.execute("SELECT key, state FROM sends"))


def ledger_keys(book: Path) -> set[tuple[str, str]]:
    """(key, state) of the workbook's id in its folder's ledger."""
    with sqlite3.connect(ledger_path(book)) as db:
        return set(db.execute("SELECT key, state FROM sends WHERE book = ?",
                              (workbook_id(book),)))


def workbook_id(book: Path) -> str:
    return read_book(book).config.workbook_id


def id_cells(book: Path) -> list[tuple[object, object]]:
    config = openpyxl.load_workbook(book)["Configuración"]
    return [(r[0].value, r[1].value) for r in config.iter_rows(min_row=2, max_col=2)
            if r[0].value == WORKBOOK_ID]


def received(server: SmtpTestServer) -> list[tuple[str, str]]:
    """(X-Cobranza-Clave, envelope recipients) of every accepted message, sorted."""
    return sorted((str(m.message["X-Cobranza-Clave"]), ";".join(m.rcpt_tos))
                  for m in server.received())


# ------------------------------------------------------------------ seeding is exact


def test_envios_of_a_first_release_workbook_gives_back_its_ledger_exactly():
    """Every key the first release recorded as enviado or omitido, and nothing else, comes
    back from the Envíos sheet alone: invoice notices, promise notices (per promise date),
    monthly statements and digests."""
    book = FIRST / "cartera.xlsm"
    seeds = seeds_from_envios(read_sent(book), read_book(book))
    seeded = {(key, seed.state) for seed in seeds for key in seed.keys}
    assert seeded == legacy_rows()
    codes = {seed.code for seed in seeds if seed.state == "enviado"}
    assert {"PROMESA_PREVIA", "PROMESA_INCUMPLIDA", "ESTADO_MENSUAL", "RESUMEN_ACCIONES",
            "RESUMEN_COBRADOR_SEMANAL", "VENCIDA_15"} <= codes


def test_invoice_codes_with_a_comma_are_kept_whole():
    joined = Joined(codes=frozenset({"F-1, A", "F-2, B, C"}),
                    starts=frozenset({"F-1", "F-2", "F-2, B"}))
    assert split_invoices("F-1, A, F-9, F-2, B, C, F-2", joined) == [
        "F-1, A", "F-9", "F-2, B, C", "F-2"]
    assert split_invoices("F-1, F-9", joined) == ["F-1", "F-9"]
    assert split_invoices("F-2, B", joined) == ["F-2", "B"]
    assert split_invoices("", joined) == []


# ------------------------------------------------------------------ end to end


def test_a_moved_copy_on_a_machine_without_ledger_sends_nothing_again(tmp_path):
    """The first release's workbook alone, in a new folder (no ledger anywhere): the sync
    at the same instant sends nothing, gives the workbook its id, and a later sync sends
    exactly what the original (with its own ledger) sends at that moment."""
    moved = first_release_copy(tmp_path / "otra-pc", with_ledger=False)
    original = first_release_copy(tmp_path / "oficina", with_ledger=True)
    with SmtpTestServer() as server:
        cobranza("sync", original, "--as-of", SYNCED_AT, cwd=original.parent, server=server)
        # Only what this release's rules add (a statement the first release did not
        # send: it lists disputed and promised invoices now); nothing it had sent.
        new_rules = received(server)
        assert [k for k, _ in new_rules] == ["estado_mensual-7e96aaad559f954f7478"]
        server.clear()
        out = cobranza("sync", moved, "--as-of", SYNCED_AT, cwd=moved.parent, server=server)
        assert received(server) == new_rules
        # the new rule's statement; the two customers without a valid email wait
        assert "Envíos: 1 enviado, 2 pendientes\n" in out
        server.clear()
        [(label, value)] = id_cells(moved)
        assert label == WORKBOOK_ID and workbook_id(moved) == value
        assert {k for k, s in ledger_keys(moved)} >= {k for k, s in legacy_rows()}

        cobranza("sync", moved, "--as-of", LATER, cwd=moved.parent, server=server)
        from_copy = received(server)
        server.clear()
        cobranza("sync", original, "--as-of", LATER, cwd=original.parent, server=server)
        from_original = received(server)
    assert len(from_copy) == 16  # one email a day per customer (22 notices and digests)
    assert from_copy == from_original
    assert ledger_keys(moved) == ledger_keys(original)


def test_a_first_release_ledger_is_migrated_under_the_new_id(tmp_path):
    book = first_release_copy(tmp_path, with_ledger=True)
    with SmtpTestServer() as server:
        cobranza("sync", book, "--as-of", SYNCED_AT, cwd=tmp_path, server=server)
        sent = {str(m.message["X-Cobranza-Clave"]) for m in server.received()}
    with sqlite3.connect(ledger_path(book)) as db:
        marks = ",".join("?" * len(sent))
        keys = {k for (k,) in db.execute(
            f"SELECT key FROM sends WHERE message_id IN ({marks})", tuple(sent))}
    assert keys and not keys & {k for k, _ in legacy_rows()}  # nothing sent again
    folder = tmp_path / ".cobranza"
    assert sorted(p.name for p in folder.glob("*.sqlite*")) == [
        "cartera.ledger.sqlite.migrado", "ledger.sqlite"]
    assert ledger_keys(book) >= legacy_rows()
    [(_, value)] = id_cells(book)
    assert value == workbook_id(book)
    with sqlite3.connect(ledger_path(book)) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (3,)
        archives = dict(db.execute("SELECT key, archive FROM sends"))
    # the first release archived nothing; this sync's messages name their .eml files
    assert {archives[k] for k, _ in legacy_rows()} == {""}
    assert {archives[k][:27] for k in keys} == {".cobranza/archivo/2026-12/2"}
    assert all((tmp_path / archives[k]).is_file() for k in keys)


def test_save_as_rename_and_move_of_a_synced_workbook_never_resend(tmp_path):
    """A workbook made and synced by this release: its "Guardar como" copy (also one saved
    by another program, LibreOffice), the renamed file and the file moved elsewhere send
    nothing that was already sent; each message reached the server once."""
    office = tmp_path / "oficina"
    office.mkdir()
    book = office / "norte.xlsm"
    cobranza("init", "--demo", "--facturas", "120", "--as-of", "2026-12-01", book, cwd=office)
    lab_pace(book)
    book_id = workbook_id(book)
    with SmtpTestServer() as server:
        cobranza("sync", book, "--as-of", SYNCED_AT, cwd=office, server=server)
        first = received(server)
        assert len(first) > 20

        copy = office / "norte-diciembre.xlsm"  # "Guardar como" in the same folder
        shutil.copyfile(book, copy)
        cobranza("sync", copy, "--as-of", SYNCED_AT, cwd=office, server=server)
        resaved = tmp_path / "libreoffice"  # saved again by another program
        resaved.mkdir()
        convert(copy, "xlsm", resaved)
        cobranza("sync", resaved / copy.name, "--as-of", SYNCED_AT, cwd=resaved, server=server)
        renamed = book.rename(office / "norte-2026.xlsm")
        cobranza("sync", renamed, "--as-of", SYNCED_AT, cwd=office, server=server)
        moved = tmp_path / "servidor" / "norte.xlsm"
        moved.parent.mkdir()
        shutil.move(renamed, moved)
        cobranza("sync", moved, "--as-of", SYNCED_AT, cwd=moved.parent, server=server)
        assert received(server) == first
        assert [workbook_id(p) for p in (copy, resaved / copy.name, moved)] == [book_id] * 3

        # The next day each notice due goes once, whichever copy syncs first.
        cobranza("sync", copy, "--as-of", LATER, cwd=office, server=server)
        later = received(server)
        cobranza("sync", office / copy.name, "--as-of", LATER, cwd=office, server=server)
        assert received(server) == later
    assert len(later) > len(first)


def test_a_workbook_without_id_open_in_excel_keeps_one_provisional_id(tmp_path):
    """The id cannot be written while Excel holds the file; sends in the meantime are kept
    under a provisional id (by file path), which the first write puts into the workbook."""
    book = first_release_copy(tmp_path, with_ledger=False)
    (tmp_path / "~$cartera.xlsm").write_bytes(b"owner")
    with SmtpTestServer() as server:
        cobranza("sync", book, "--as-of", LATER, cwd=tmp_path, server=server)
        sent = received(server)
        assert len(sent) == 17 and id_cells(book) == []
        cobranza("sync", book, "--as-of", LATER, cwd=tmp_path, server=server)
        assert received(server) == sent
        with sqlite3.connect(ledger_path(book)) as db:
            [(provisional,)] = db.execute("SELECT book FROM paths").fetchall()
        (tmp_path / "~$cartera.xlsm").unlink()
        cobranza("sync", book, "--as-of", LATER, cwd=tmp_path, server=server)
        assert id_cells(book) == [(WORKBOOK_ID, provisional)]
        # Read back from the workbook, the id no longer needs the ledger's path note (a new
        # file at this path later is another workbook).
        cobranza("sync", book, "--as-of", LATER, cwd=tmp_path, server=server)
        assert received(server) == sent
    with sqlite3.connect(ledger_path(book)) as db:
        assert db.execute("SELECT COUNT(*) FROM paths").fetchone() == (0,)


@pytest.mark.parametrize("value", ["", "no es un id válido"])
def test_a_blank_or_bad_id_row_gets_a_new_id_in_place(tmp_path, value):
    book = first_release_copy(tmp_path, with_ledger=False)
    wb = openpyxl.load_workbook(book, keep_vba=True)
    config = wb["Configuración"]
    config["A22"], config["B22"] = WORKBOOK_ID, value
    config.tables["tblParametros"].ref = "A1:B22"
    wb.save(book)
    cobranza("sync", book, "--as-of", SYNCED_AT, cwd=tmp_path)
    [(label, new)] = id_cells(book)
    assert openpyxl.load_workbook(book)["Configuración"]["B22"].value == new
    assert new != value and workbook_id(book) == new
