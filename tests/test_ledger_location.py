"""One ledger location for every entry point (issue 11).

`cobranza run --ledger-dir DIR`, `cobranza sync --ledger FILE`, the ribbon and a plain
`cobranza sync` must all use the same send ledger for a workbook, without the user
repeating the option, and a ledger file left at another place or name is moved into the
one in use, never ignored. Real processes, real files, a real aiosmtpd server; the
workbook is open in Excel (owner file) as it is while the ribbon is used, so its Envíos
sheet cannot say what the service sent.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from addin import ribbon
from addin.book import FileBook
from sync.xlsx.fileops import owner_file
from sync.xlsx.reader import read_book
from tests.cli import cobranza
from tests.smtp_server import SmtpTestServer
from tests.test_identity import LATER, first_release_copy
from tests.test_service import (  # noqa: F401 (service_runs: a fixture)
    AS_OF,
    CLI,
    REPO,
    make_book,
    service_runs,
    small_book,
)

AT = AS_OF.strftime("%Y-%m-%dT%H:%M")



def keys_received(server: SmtpTestServer) -> Counter:
    """How many times each message (X-Cobranza-Clave) reached the server."""
    return Counter(str(m.message["X-Cobranza-Clave"]) for m in server.received())


def open_in_excel(book: Path) -> None:
    owner_file(book).write_bytes(b"\x0bUsuario de Excel" + b"\x00" * 40)


def sent_in(ledger: Path, book: Path) -> set[str]:
    """Message ids the ledger file records as enviado for this workbook."""
    with sqlite3.connect(ledger) as db:
        return {r[0] for r in db.execute(
            "SELECT DISTINCT message_id FROM sends WHERE book = ? AND state = 'enviado'",
            (read_book(book).config.workbook_id,))}


@pytest.fixture
def smtp_env(monkeypatch):
    """A real SMTP server, configured for the in-process ribbon handlers too."""
    with SmtpTestServer() as server:
        for key in [k for k in os.environ if k.startswith("COBRANZA_")]:
            monkeypatch.delenv(key)
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def test_the_ribbon_and_sync_use_the_ledger_the_service_was_given(
        tmp_path, service_runs, smtp_env):  # noqa: F811
    """`cobranza run --ledger-dir` sends the notices due; at the same instant the ribbon
    and a plain `cobranza sync` find nothing left to send: each notice arrives once."""
    book = make_book(tmp_path / "cobranza")
    open_in_excel(book)
    shared = tmp_path / "registros"
    run = service_runs([book], smtp_env, tmp_path / "servicio.log", every=3600, step=0,
                       options=("--ledger-dir", str(shared)))
    first = run.wait_cycles(book, 1)
    sent = first["counts"]["enviado"]
    assert sent > 10 and len(smtp_env.received()) == sent

    io = FileBook(book)
    assert ribbon.enviar_recordatorios(io, AS_OF) == {}
    assert io.messages == ["No hay recordatorios por enviar en este momento."]
    out = cobranza("sync", book, "--as-of", AT, server=smtp_env).stdout
    assert "enviado" not in out
    # The sync's cycle is the last one now; what the service recorded of itself stays.
    report = cobranza("status", book).stdout
    assert f"Servicio: en marcha (pid {run.proc.pid}, " in report
    assert ", por cobranza sync (correcto; ciclos registrados: 2)" in report
    assert "Próximas tareas:\n" in report and "  ciclo cada 60 min\n" in report
    assert run.stop() == 0

    assert set(keys_received(smtp_env).values()) == {1}
    assert len(smtp_env.received()) == sent
    assert len(sent_in(shared / "ledger.sqlite", book)) == sent
    assert not (book.parent / ".cobranza" / "ledger.sqlite").exists()


def test_a_ledger_left_at_the_default_place_is_moved_into_the_chosen_one(tmp_path):
    """A first-release workbook (no id yet: open in Excel, the id cannot be written) sends
    from the folder's default ledger under a provisional id; then `--ledger` chooses another
    file at the same instant: what only the default file knew moves there, nothing is sent
    again, and later runs without the option use the chosen file."""
    book = first_release_copy(tmp_path / "oficina", with_ledger=False)
    open_in_excel(book)
    chosen = tmp_path / "registros" / "envios.sqlite"
    with SmtpTestServer() as server:
        cobranza("sync", book, "--as-of", LATER, server=server)
        sent = keys_received(server)
        assert len(sent) == 17
        out = cobranza("sync", book, "--as-of", LATER, "--ledger", chosen, server=server).stdout
        assert "enviado" not in out
        out = cobranza("sync", book, "--as-of", LATER, server=server).stdout
        assert "enviado" not in out
        assert keys_received(server) == sent
    default = book.parent / ".cobranza" / "ledger.sqlite"
    assert rows_per_book(default) == {}
    [(provisional, count)] = rows_per_book(chosen).items()
    assert count >= 23
    assert json.loads((book.parent / ".cobranza" / "ledger-location.json").read_text()) == {
        "ledger": str(chosen), "previous": [str(default)]}


def test_rows_only_the_other_file_had_are_not_sent_again(tmp_path):
    """Both files know the workbook (the first release's ribbon used the folder's file while
    the service used `--ledger-dir`): each holds a message the other lacks. The next run on
    the chosen file takes in the other's rows first, for every workbook of the folder."""
    folder = tmp_path / "oficina"
    folder.mkdir()
    book = small_book(tmp_path / "norte").rename(folder / "norte.xlsm")
    other = small_book(tmp_path / "sur").rename(folder / "sur.xlsm")
    for path in (book, other):
        open_in_excel(path)
    chosen = tmp_path / "registros" / "ledger.sqlite"
    default = folder / ".cobranza" / "ledger.sqlite"
    with SmtpTestServer() as server:
        cobranza("sync", book, "--as-of", AT, "--ledger", chosen, server=server)
        cobranza("sync", other, "--as-of", AT, server=server)  # follows the note
        sent = keys_received(server)
        assert sum(sent.values()) == 4  # two monthly statements per workbook
        # Split the history as the first release left it: the ribbon's message only in the
        # folder's file, the service's only in the chosen one; sur's only in the folder's.
        default.parent.mkdir(exist_ok=True)
        shutil.copyfile(chosen, default)
        norte, sur = read_book(book).config.workbook_id, read_book(other).config.workbook_id
        ribbons, services = sorted(sent_in(chosen, book))
        delete_message(chosen, norte, ribbons)
        delete_message(default, norte, services)
        delete_book(chosen, sur)
        assert sent_in(chosen, book) == {services} and sent_in(default, book) == {ribbons}
        (folder / ".cobranza" / "ledger-location.json").write_text(json.dumps(
            {"ledger": str(chosen), "previous": []}))

        out = cobranza("sync", book, "--as-of", AT, "--ledger", chosen, server=server).stdout
        assert "enviado" not in out
        assert sent_in(chosen, book) == {ribbons, services}
        assert "enviado" not in cobranza("sync", other, "--as-of", AT, server=server).stdout
        assert keys_received(server) == sent
    assert rows_per_book(default) == {}
    assert set(rows_per_book(chosen)) == {norte, sur}


def rows_per_book(ledger: Path) -> dict[str, int]:
    with sqlite3.connect(ledger) as db:
        return dict(db.execute("SELECT book, COUNT(*) FROM sends GROUP BY book"))


def delete_message(ledger: Path, book: str, message_id: str) -> None:
    with sqlite3.connect(ledger) as db:
        db.execute("DELETE FROM sends WHERE book = ? AND message_id = ?", (book, message_id))


def delete_book(ledger: Path, book: str) -> None:
    with sqlite3.connect(ledger) as db:
        for table in ("sends", "books"):
            db.execute(f"DELETE FROM {table} WHERE book = ?", (book,))


def test_a_noted_ledger_this_computer_cannot_reach_stops_before_sending(tmp_path):
    """The note names a folder another computer has (the server's `--ledger-dir`): a run
    here without the option refuses rather than start a second ledger."""
    book = small_book(tmp_path / "oficina")
    note = book.parent / ".cobranza" / "ledger-location.json"
    note.parent.mkdir()
    elsewhere = tmp_path / "servidor" / "registros" / "ledger.sqlite"
    note.write_text(json.dumps({"ledger": str(elsewhere), "previous": []}))
    with SmtpTestServer() as server:
        done = cobranza("sync", book, "--as-of", AT, server=server, check=False)
        assert server.received() == []
    assert done.returncode == 2
    assert done.stderr == (
        f"Error: El registro de envíos de esta carpeta está en {elsewhere} (anotado en "
        f"{note}), y esa carpeta no existe en este equipo. Conéctela, o indique otro registro "
        "con --ledger ARCHIVO; no se envió nada.\n")
    assert not elsewhere.parent.exists()
    assert not (book.parent / ".cobranza" / "ledger.sqlite").exists()
