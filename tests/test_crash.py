"""Exactly once under crashes and races, with real processes and a real SMTP server.

* `cobranza sync` killed with SIGKILL while the server is still accepting one message,
  then run again at the same instant: no message twice, the one in flight is `incierto`
  (in the ledger and in Envíos) and is not resent, every other due message arrives once.
* Two `cobranza sync` processes started together on the same workbook: each message
  arrives once.

"Due" is what an undisturbed sync of the same workbook at the same instant sends.
"""

from __future__ import annotations

import asyncio
import email
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from email.policy import default as default_policy
from pathlib import Path

import openpyxl
import pytest

from cobranza.layout.sends import codes_text, invoices_text
from cobranza.layout.wording import reason_text
from sync.ledger.store import ABANDONED, ledger_path
from tests.smtp_server import Received, SmtpTestServer, _Handler

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
AT = "2026-12-01T10:00"  # Tuesday, first business day of the month: a full batch is due


class SlowSmtpServer(SmtpTestServer):
    """The test server answering each DATA `delay` seconds late; `started` lists the
    X-Cobranza-Clave of every message whose DATA reached the server (accepted or not)."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay
        self.started: list[str] = []
        self.finished = 0  # DATA answers given, or abandoned when the client vanished

    def _handler(self) -> _SlowHandler:
        return _SlowHandler(self)

    def in_data(self) -> int:
        with self.lock:
            return len(self.started)

    def idle(self) -> bool:
        with self.lock:
            return self.finished == len(self.started)


class _SlowHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.server.lock:
            self.server.started.append(str(message["X-Cobranza-Clave"]))
        try:
            await asyncio.sleep(self.server.delay)
            return await super().handle_DATA(server, session, envelope)
        finally:
            with self.server.lock:
                self.server.finished += 1


def environment(server: SmtpTestServer) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
    return env | {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}


def start_sync(book: Path, server: SmtpTestServer) -> subprocess.Popen:
    return subprocess.Popen([*CLI, "sync", str(book), "--as-of", AT], cwd=book.parent,
                            env=environment(server), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def run_sync(book: Path, server: SmtpTestServer) -> str:
    proc = start_sync(book, server)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err
    return out


def clave(message: Received) -> str:
    return str(message.message["X-Cobranza-Clave"])


def ledger(book: Path) -> dict[str, dict]:
    """message id -> {state, reason, code, recipient, invoices} (one row per message; its
    code and invoices as Envíos shows a message carrying several notices)."""
    with sqlite3.connect(ledger_path(book)) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT message_id, state, reason, code, recipient, invoices "
                          "FROM sends ORDER BY rowid").fetchall()
    out: dict[str, dict] = {}
    parts: dict[str, list[tuple[str, str]]] = {}
    for r in rows:
        seen = out.setdefault(r["message_id"], dict(r))
        assert seen["state"] == r["state"], r["message_id"]  # a message moves as a whole
        parts.setdefault(r["message_id"], []).append((r["code"], r["invoices"]))
    for message, each in parts.items():
        out[message].update(code=codes_text(each), invoices=invoices_text(each))
    return out


def envios(book: Path) -> list[tuple]:
    wb = openpyxl.load_workbook(book, read_only=True)
    try:
        rows = list(wb["Envíos"].iter_rows(values_only=True))
    finally:
        wb.close()
    start = next(i for i, r in enumerate(rows) if r[:3] == ("Fecha", "Tipo", "Código"))
    return [r for r in rows[start + 1:] if any(v is not None for v in r)]


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    """A small demo workbook made by `cobranza init` (every rule's hand-made cases)."""
    folder = tmp_path_factory.mktemp("original")
    book = folder / "libro.xlsm"
    done = subprocess.run([*CLI, "init", "--demo", "--as-of", "2026-12-01", "--facturas", "40",
                           str(book)], cwd=folder, env=environment(SmtpTestServer()),
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return book


def copy_of(book: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(book, folder / book.name))


@pytest.fixture(scope="module")
def due(pristine, tmp_path_factory) -> frozenset[str]:
    """Message keys an undisturbed sync sends at AT (a fast server, a fresh ledger)."""
    book = copy_of(pristine, tmp_path_factory.mktemp("referencia"))
    with SmtpTestServer() as server:
        run_sync(book, server)
        keys = [clave(m) for m in server.received()]
    assert len(keys) == len(set(keys)) >= 20
    assert {k for k, r in ledger(book).items() if r["state"] == "enviado"} == set(keys)
    return frozenset(keys)


def test_sigkill_mid_batch_then_restart_loses_nothing_and_sends_nothing_twice(
    pristine, due, tmp_path
):
    book = copy_of(pristine, tmp_path / "libro")
    with SlowSmtpServer(delay=0.3) as server:
        proc = start_sync(book, server)
        try:
            deadline = time.monotonic() + 120
            while server.in_data() < 4:  # three accepted, the fourth in DATA right now
                assert proc.poll() is None, proc.communicate()[1]
                assert time.monotonic() < deadline, "el servidor no recibió mensajes"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.communicate(timeout=30)  # reaped: its pid is really gone
        assert proc.returncode == -signal.SIGKILL
        in_flight = server.started[3]
        # The server finishes (or drops) the message it was answering; then it goes fast.
        while not server.idle():
            assert time.monotonic() < deadline, "el servidor no terminó el mensaje"
            time.sleep(0.01)
        server.delay = 0.0
        before_restart = [clave(m) for m in server.received()]
        assert before_restart[:3] == server.started[:3]
        assert set(before_restart) <= {*server.started[:3], in_flight}
        assert book.read_bytes() == pristine.read_bytes()  # killed before writing

        out = run_sync(book, server)
        after_restart = [clave(m) for m in server.received()][len(before_restart):]

    received = before_restart + after_restart
    assert [k for k, n in Counter(received).items() if n > 1] == []
    assert in_flight in due
    assert in_flight not in after_restart  # never resent automatically
    assert set(after_restart) == due - set(server.started[:4])  # the rest, once each
    assert set(received) | {in_flight} == due  # nothing lost

    rows = ledger(book)
    assert rows[in_flight]["state"] == "incierto"
    assert rows[in_flight]["reason"] == reason_text(ABANDONED)
    assert {k for k, r in rows.items() if r["state"] == "enviado"} == due - {in_flight}
    assert {k for k, r in rows.items() if r["state"] == "enviando"} == set()

    # Envíos (written by the restart) shows the uncertain message, as it was left.
    flight = rows[in_flight]
    shown = [r for r in envios(book) if (r[2], r[3], r[5] or "") == (
        flight["code"], flight["recipient"], flight["invoices"])]
    assert [(r[7], r[8]) for r in shown] == [("incierto", reason_text(ABANDONED))]
    assert Counter(r[7] for r in envios(book))["enviado"] == len(due) - 1
    assert "Hojas de salida actualizadas" in out

    # The archive holds every message that went or may have, each whole: its copy is
    # written before it goes, so the one in flight has its file too.
    files = sorted((book.parent / ".cobranza" / "archivo").glob("*/*"))
    assert all(not f.name.startswith(".") for f in files)  # no half-written temp file
    kept = {str(email.message_from_bytes(f.read_bytes())["X-Cobranza-Clave"]): f
            for f in files}
    assert set(kept) == set(received) | {in_flight} and len(files) == len(kept)
    assert all(kept[clave(m)].read_bytes() == m.raw for m in server.received())
    assert shown[0][9] == kept[in_flight].relative_to(book.parent).as_posix()


def test_two_syncs_started_together_send_each_message_once(pristine, due, tmp_path):
    book = copy_of(pristine, tmp_path / "libro")
    with SlowSmtpServer(delay=0.02) as server:
        procs = [start_sync(book, server), start_sync(book, server)]
        for p in procs:
            p.communicate(timeout=180)
        # Both ran: the loser of the race to write the outputs defers them, never crashes.
        assert [p.returncode for p in procs] == [0, 0]
        received = [clave(m) for m in server.received()]
        assert [k for k, n in Counter(received).items() if n > 1] == []
        assert set(received) == due
        rows = ledger(book)
        assert {k for k, r in rows.items() if r["state"] == "enviado"} == due
        assert {r["state"] for r in rows.values()} <= {"enviado", "omitido"}

        # A later run at the same instant sends nothing and shows every message sent.
        run_sync(book, server)
        assert len(server.received()) == len(received)
    assert Counter(r[7] for r in envios(book))["enviado"] == len(due)
