"""The shared ledger on a real PostgreSQL server, with real `cobranza sync` processes.

* Two copies of one workbook (same Configuración `Id del libro`) in two folders, synced
  together against one database: the same workbook for the ledger, so each message
  arrives once in all (with SQLite each folder has its own file: each would send it).
* SIGKILL mid-batch, then a restart: nothing twice, the one in flight `incierto`.
* The database stopped (`pg_ctl stop -m immediate`) while a message is in DATA: the sync
  stops with a Spanish message (no password shown), the workbook is untouched, what was
  never claimed is still due, and once the server is back every message goes once.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from cobranza.layout.wording import reason_text
from sync.ledger.store import ABANDONED
from tests.pg_server import PgTestServer
from tests.smtp_server import SmtpTestServer
from tests.test_crash import (  # noqa: F401 - module fixtures
    AT,
    CLI,
    SlowSmtpServer,
    clave,
    copy_of,
    environment,
    pristine,
)


def start_sync(book: Path, server: SmtpTestServer, url: str) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "sync", str(book), "--as-of", AT, "--ledger-url", url],
                            cwd=book.parent, env=environment(server), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_sync(book: Path, server: SmtpTestServer, url: str) -> str:
    proc = start_sync(book, server, url)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out


def states(url: str) -> dict[str, str]:
    """message id -> state, read from the database (a message moves as a whole)."""
    with psycopg.connect(url) as db:
        rows = db.execute("SELECT message_id, state FROM sends").fetchall()
    out: dict[str, str] = {}
    for message_id, state in rows:
        assert out.setdefault(message_id, state) == state, message_id
    return out


@pytest.fixture(scope="module")
def pg_due(pristine, pg_server: PgTestServer, tmp_path_factory) -> frozenset[str]:  # noqa: F811
    """What an undisturbed sync sends at AT with a fresh PostgreSQL ledger."""
    book = copy_of(pristine, tmp_path_factory.mktemp("referencia-pg"))
    url = pg_server.new_database()
    with SmtpTestServer() as server:
        run_sync(book, server, url)
        keys = [clave(m) for m in server.received()]
    assert len(keys) == len(set(keys)) >= 20
    assert {k for k, s in states(url).items() if s == "enviado"} == set(keys)
    return frozenset(keys)


def wait_for(condition, proc: subprocess.Popen, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, what
        time.sleep(0.01)


def test_two_copies_in_two_folders_send_each_message_once(
    pristine, pg_server, pg_due, tmp_path  # noqa: F811
):
    url = pg_server.new_database()
    norte = copy_of(pristine, tmp_path / "norte")
    sur = copy_of(pristine, tmp_path / "sur")
    with SlowSmtpServer(delay=0.02) as server:
        procs = [start_sync(norte, server, url), start_sync(sur, server, url)]
        errors = [p.communicate(timeout=180)[1] for p in procs]
        assert [p.returncode for p in procs] == [0, 0], errors
        received = [clave(m) for m in server.received()]
        customers = Counter((str(m.message["To"]), m.subject) for m in server.received())
    assert [k for k, n in Counter(received).items() if n > 1] == []
    assert set(received) == pg_due
    assert max(customers.values()) == 1  # no customer got the same notice twice
    assert {k for k, s in states(url).items() if s == "enviado"} == pg_due
    # both folders' copies sent part of the batch only if the race split it; either way
    # neither folder has a SQLite ledger: the database is the only one
    assert not (norte.parent / ".cobranza" / "ledger.sqlite").exists()
    assert not (sur.parent / ".cobranza" / "ledger.sqlite").exists()


def test_sigkill_mid_batch_then_restart_sends_nothing_twice(
    pristine, pg_server, pg_due, tmp_path  # noqa: F811
):
    url = pg_server.new_database()
    book = copy_of(pristine, tmp_path / "libro")
    with SlowSmtpServer(delay=0.3) as server:
        proc = start_sync(book, server, url)
        try:
            wait_for(lambda: server.in_data() >= 3, proc, "el servidor no recibió mensajes")
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate(timeout=30)
        in_flight = server.started[2]
        deadline = time.monotonic() + 60
        while not server.idle():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.delay = 0.0
        assert book.read_bytes() == pristine.read_bytes()
        before = [clave(m) for m in server.received()]
        run_sync(book, server, url)
        received = [clave(m) for m in server.received()]
    assert [k for k, n in Counter(received).items() if n > 1] == []
    assert in_flight not in received[len(before):]
    assert set(received) | {in_flight} == pg_due
    ledger = states(url)
    assert ledger[in_flight] == "incierto"
    assert {k for k, s in ledger.items() if k in pg_due} <= set(pg_due)
    assert {ledger[k] for k in pg_due} <= {"enviado", "incierto"}
    with psycopg.connect(url) as db:
        assert db.execute("SELECT DISTINCT reason FROM sends WHERE state = 'incierto'"
                          ).fetchall() == [(reason_text(ABANDONED),)]


def test_database_gone_mid_cycle_leaves_the_rest_due_and_the_workbook_whole(
    pristine, pg_server, pg_due, tmp_path  # noqa: F811
):
    url = pg_server.new_database().replace("postgres@", "postgres:secreto@")
    book = copy_of(pristine, tmp_path / "libro")
    with SlowSmtpServer(delay=0.5) as server:
        proc = start_sync(book, server, url)
        try:
            wait_for(lambda: server.in_data() >= 2, proc, "el servidor no recibió mensajes")
            pg_server.stop("immediate")
            out, err = proc.communicate(timeout=120)
        finally:
            proc.kill()
            pg_server.start()
        assert proc.returncode == 2, out + err
        assert "No se pudo usar el registro de envíos en PostgreSQL" in err
        assert "secreto" not in out + err and "postgres:***@" in err
        assert book.read_bytes() == pristine.read_bytes()  # outputs never written
        deadline = time.monotonic() + 60
        while not server.idle():
            assert time.monotonic() < deadline
            time.sleep(0.01)
        server.delay = 0.0
        first = [clave(m) for m in server.received()]
        ledger = states(url)
        # only what was claimed before the outage may have gone; the rest is still due
        claimed = {k for k, s in ledger.items() if s in ("enviando", "enviado", "incierto")}
        assert set(first) <= claimed and len(claimed - set(server.started)) <= 1
        assert {ledger.get(k, "pendiente") for k in pg_due - claimed} == {"pendiente"}
        run_sync(book, server, url)
        received = [clave(m) for m in server.received()]
    assert [k for k, n in Counter(received).items() if n > 1] == []
    ledger = states(url)
    assert {ledger[k] for k in pg_due} <= {"enviado", "incierto"}
    assert set(received) | {k for k in pg_due if ledger[k] == "incierto"} == pg_due
    assert book.read_bytes() != pristine.read_bytes()  # the second sync wrote its sheets


def test_the_service_and_a_sync_on_another_host_share_the_database(
    pristine, pg_server, pg_due, tmp_path  # noqa: F811
):
    """`cobranza run --ledger-url` serves one folder's copy for a cycle; a `cobranza sync`
    of the copy in another folder (another PC) then finds everything sent."""
    from tests.test_service import Running

    url = pg_server.new_database()
    norte = copy_of(pristine, tmp_path / "servidor")
    sur = copy_of(pristine, tmp_path / "oficina")
    with SmtpTestServer() as server:
        run = Running([norte], server, tmp_path / "servicio.log",
                      options=("--ledger-url", url))
        try:
            run.wait_cycles(norte, 1)
        finally:
            assert run.stop() == 0
        assert {clave(m) for m in server.received()} == pg_due
        run_sync(sur, server, url)
        assert len(server.received()) == len(pg_due)  # nothing twice from the other PC
    assert {k for k, s in states(url).items() if s == "enviado"} == pg_due
