"""The service (`cobranza run`), its status file (`cobranza status`) and progress reports.

The first tests drive `sync.service.loop.Service` in-process with a stand-in cycle, to pin the
guard, the log lines and the digest rescheduling exactly. The rest start the real service
as a subprocess against a demo workbook and a real aiosmtpd server, with a fast schedule
and the hidden simulated clock (`--as-of`, `--as-of-step`), and break things around it.
"""

from __future__ import annotations

import asyncio
import email.utils
import errno
import hashlib
import io
import logging
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import unicodedata
from collections import Counter
from dataclasses import asdict
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from book_factory import make_book as book_of

from cobranza.book.config import Config
from cobranza.book.records import InputError
from cobranza.vocabulary import Kind, Reason, ReasonCode, SendState, reason
from sync.cycle import CycleResult, compute
from sync.errors import CobranzaError, WorkbookBusy, WorkbookError
from sync.mail.sending import DeliveryRow
from sync.progress import Progress, progress, track
from sync.service import status
from sync.service.loop import (
    Service,
    SimulatedClock,
    Target,
    build_targets,
    cycle_line,
    describe_failure,
    server_time,
)
from tests.smtp_server import SmtpTestServer, _Handler
from tests.workbook_edit import append_rows, put_number, save_atomically

REPO = Path(__file__).resolve().parents[1]
# Exactly what the installed `cobranza` console script runs (sync.launch:console).
CLI = [sys.executable, "-c", "from sync.launch import console; console()"]
AS_OF = datetime(2026, 12, 1, 10, 0)  # Tuesday, first business day of the month (MX)


# ============================================================== in-process: the guard


NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def delivery(state: str, code: str = "NUEVA", recipient: str = "C1",
             why: Reason | None = None) -> DeliveryRow:
    """One message's outcome, as the deliver step reports it."""
    return DeliveryRow(NOW, Kind.NOTICE, code, recipient, "", "", "", SendState(state), why)


def _result(path: Path, states: list[str], *, written=True, deferred="", deferred_code="",
            config=None, deliveries=None) -> CycleResult:
    """A cycle's result with these delivery states (a tiny real computation, two Errores)."""
    book = book_of(config=config or Config())
    computed = compute(book, NOW)
    computed.errors = [InputError("Facturas", 2, "Importe", "x", "no es un importe")] * 2
    rows = [delivery(s) for s in states] if deliveries is None else deliveries
    return CycleResult(path, NOW, computed, rows, written, deferred=deferred,
                       deferred_code=deferred_code)


def repeated_words(line: str) -> list[str]:
    """Words of four letters or more that a log line says more than once."""
    words = Counter(re.findall(r"[a-záéíóúñü]{4,}", line.lower()))
    return sorted(w for w, n in words.items() if n > 1)


@pytest.mark.parametrize(("states", "expected"), [
    ([], "0 enviados, 0 pendientes, 0 omitidos, 0 fallidos, 0 inciertos; 0 errores en los "
         "datos; hojas de salida escritas"),
    (["enviado", "pendiente", "omitido", "error", "incierto"],
     "1 enviado, 1 pendiente, 1 omitido, 1 fallido, 1 incierto; 1 error en los datos; "
     "hojas de salida escritas"),
    (["enviado", "pendiente", "omitido", "error", "incierto"] * 2,
     "2 enviados, 2 pendientes, 2 omitidos, 2 fallidos, 2 inciertos; 2 errores en los datos; "
     "hojas de salida escritas"),
])
def test_cycle_line_agrees_in_number_and_says_each_thing_once(tmp_path, states, expected):
    result = _result(tmp_path / "libro.xlsm", states)
    result.computed.errors = result.computed.errors[: len(states) // 5]
    line = cycle_line(result)
    assert line == expected
    assert repeated_words(line) == []


def test_cycle_line_names_every_count_and_the_write_outcome(tmp_path):
    book = tmp_path / "libro.xlsm"
    line = cycle_line(_result(book, ["enviado", "enviado", "omitido", "pendiente"]))
    assert line == ("2 enviados, 1 pendiente, 1 omitido, 0 fallidos, 0 inciertos; "
                    "2 errores en los datos; hojas de salida escritas")
    deferred = cycle_line(_result(book, [], written=False, deferred="El libro está abierto."))
    assert deferred == ("0 enviados, 0 pendientes, 0 omitidos, 0 fallidos, 0 inciertos; "
                        "2 errores en los datos; El libro está abierto")


def test_cycle_line_gives_the_true_reason_the_sheets_wait(tmp_path, monkeypatch):
    """Open in Excel: when it is closed. Saved by someone during the write: next cycle."""
    from sync.cycle import run_cycle
    from sync.xlsx import fileops

    for name in [k for k in os.environ if k.startswith("COBRANZA_SMTP_")]:
        monkeypatch.delenv(name)
    book = make_book(tmp_path)
    owner = fileops.owner_file(book)
    owner.write_bytes(b"\x0bUsuario de Excel" + b"\x00" * 40)
    line = cycle_line(run_cycle(book, AS_OF))
    assert line.endswith("; hojas de salida en espera hasta que se cierre el libro")
    assert repeated_words(line) == []

    owner.unlink()
    real_fsync = os.fsync

    def save_meanwhile(fd: int) -> None:  # the disk is slow; someone saves meanwhile
        if os.path.basename(os.readlink(f"/proc/self/fd/{fd}")).startswith(".cobranza-tmp-"):
            saved = book.with_name("guardando.xlsm")
            saved.write_bytes(book.read_bytes())
            os.replace(saved, book)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", save_meanwhile)
    result = run_cycle(book, AS_OF)
    line = cycle_line(result)
    assert line.endswith("; hojas de salida en espera hasta el próximo ciclo (el libro se "
                         "guardó durante la escritura)")
    assert "cuando se cierre" not in line and repeated_words(line) == []
    state = status.record_cycle(book, result, at=datetime(2026, 12, 1, 10, 0, 5).astimezone(),
                                source=status.SERVICE)
    assert [p["group"] for p in state["pending"] if p["state"] == "hojas"] == [
        "libro guardado durante la escritura"]


def test_describe_failure_gives_one_spanish_sentence_per_fault(tmp_path):
    target = Target(tmp_path / "libro.xlsm", None)
    busy = WorkbookBusy('El libro "libro.xlsm" se está guardando; se reintentará en el '
                        "próximo ciclo.")
    assert describe_failure(busy, target) == str(busy)
    assert describe_failure(WorkbookBusy("El libro se está guardando"), target) == (
        "El libro se está guardando; se reintentará en el próximo ciclo.")
    assert describe_failure(WorkbookError("Falta la hoja Facturas."), target) == (
        "Falta la hoja Facturas.")
    locked = sqlite3.OperationalError("database is locked")
    assert describe_failure(locked, target) == (
        "registro de envíos ocupado (otro proceso, por ejemplo la cinta de Excel, lo está "
        "usando); se reintentará en el próximo ciclo.")
    full = OSError(errno.ENOSPC, "No space left on device")
    assert describe_failure(full, target) == (
        f"no se pudo escribir {target.path}: disco lleno; el libro no se modificó; "
        "se reintentará en el próximo ciclo.")
    assert describe_failure(KeyError("x"), target) == (
        "error inesperado (KeyError: 'x'); se reintentará en el próximo ciclo.")


def test_server_time_converts_the_company_hour_to_the_local_clock(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        zone = ZoneInfo("America/Mexico_City")
        assert server_time(dtime(8, 0), zone, date(2026, 12, 1)) == "14:00:00"
        bogota = ZoneInfo("America/Bogota")
        assert server_time(dtime(7, 30), bogota, date(2026, 7, 1)) == "12:30:00"
    finally:
        monkeypatch.undo()
        time.tzset()


def test_simulated_clock_moves_one_step_per_read():
    clock = SimulatedClock(AS_OF, timedelta(minutes=10))
    assert [clock(), clock(), clock()] == [
        AS_OF, AS_OF + timedelta(minutes=10), AS_OF + timedelta(minutes=20)]


def test_build_targets_refuses_missing_books_and_shares_one_keyed_ledger(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for d in ("a", "b"):
        (tmp_path / d / "libro.xlsm").write_bytes(b"PK")
    with pytest.raises(CobranzaError, match=r"No existe el libro .*nada\.xlsm\. Revise la ruta\."):
        build_targets([tmp_path / "nada.xlsm"], None)
    # With --ledger-dir both use one ledger file, keyed by each workbook's id.
    shared = build_targets([tmp_path / "a/libro.xlsm", tmp_path / "b/libro.xlsm"], tmp_path / "l")
    assert [t.ledger for t in shared] == [tmp_path / "l" / "ledger.sqlite"] * 2
    targets = build_targets([tmp_path / "a/libro.xlsm", tmp_path / "b/libro.xlsm"], None)
    assert [(t.path, t.ledger, t.label) for t in targets] == [
        (tmp_path / "a/libro.xlsm", None, "a/libro.xlsm"),
        (tmp_path / "b/libro.xlsm", None, "b/libro.xlsm")]


def test_guarded_loop_logs_failures_moves_the_digest_and_stops_on_sigterm(tmp_path, caplog):
    """A failing cycle is one log line and a status entry; the loop goes on; SIGTERM ends it."""
    book = tmp_path / "libro.xlsm"
    book.write_bytes(b"PK")
    calls: list[datetime] = []
    later = Config(daily_digest_time=dtime(9, 30))

    def fake_cycle(path, at, *, ledger_path, stop):
        calls.append(at)
        n = len(calls)
        if n == 2:
            raise WorkbookBusy("El libro se está guardando")
        if n == 1:
            return _result(path, ["enviado", "pendiente"])
        if n == 4:
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop() is True  # what delivery checks between messages
        return _result(path, ["enviado", "pendiente"][: n - 2], config=later)

    service = Service([Target(book, None)], every_seconds=0.05,
                      clock=SimulatedClock(AS_OF, timedelta(minutes=1)), run_cycle=fake_cycle)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    service.install_signal_handlers()
    caplog.set_level(logging.INFO, logger="cobranza")
    try:
        assert service.run() == 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)

    assert calls == [AS_OF + timedelta(minutes=i) for i in range(4)]
    lines = [r.getMessage() for r in caplog.records]
    assert lines[1] == ("libro.xlsm (inicio): 1 enviado, 1 pendiente, 0 omitidos, 0 "
                        "fallidos, 0 inciertos; 2 errores en los datos; hojas de salida escritas")
    assert lines[2] == ("libro.xlsm (ciclo): El libro se está guardando; se reintentará en "
                        "el próximo ciclo.")
    assert lines[4] == "libro.xlsm: resumen diario reprogramado a las 09:30 America/Mexico_City."
    assert lines[5] == ("Señal SIGTERM recibida: se termina el envío en curso y el servicio "
                         "se detiene.")
    assert lines[6] == ("libro.xlsm (ciclo): 1 enviado, 1 pendiente, 0 omitidos, 0 "
                        "fallidos, 0 inciertos; 2 errores en los datos; hojas de salida escritas")
    assert lines[7:] == ["Servicio detenido por SIGTERM; el ciclo en curso terminó."]
    state = status.load(book)
    assert state["cycles"] == 4
    assert state["counts"] == {"enviado": 1, "pendiente": 1, "omitido": 0, "error": 0,
                               "incierto": 0}
    assert state["last_error"]["message"] == (
        "El libro se está guardando; se reintentará en el próximo ciclo.")
    assert state["service"]["running"] is False
    assert state["next_jobs"] == []
    assert [j.at_time for j in service.scheduler.jobs if j.at_time] == [
        datetime.strptime(server_time(dtime(9, 30), ZoneInfo("America/Mexico_City"),
                                      datetime.now(ZoneInfo("America/Mexico_City")).date()),
                          "%H:%M:%S").time()]


class NativePanic(BaseException):
    """Like pyo3_runtime.PanicException (a Rust panic in python-calamine): not an Exception."""


def _run_guarded(service: Service) -> int:
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    service.install_signal_handlers()
    try:
        return service.run()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def test_a_panic_in_native_code_is_one_line_and_the_other_workbook_is_served(
        tmp_path, caplog):
    norte, sur = tmp_path / "norte.xlsm", tmp_path / "sur.xlsm"
    calls: list[str] = []

    def fake_cycle(path, at, *, ledger_path, stop):
        calls.append(path.name)
        if Counter(calls) == {"norte.xlsm": 2, "sur.xlsm": 2}:
            os.kill(os.getpid(), signal.SIGTERM)  # the loop ends after this cycle
        if path == norte:
            raise NativePanic("TimeDelta::milliseconds out of bounds")
        return _result(path, ["enviado"])

    service = Service([Target(norte, None), Target(sur, None)], every_seconds=0.05,
                      clock=SimulatedClock(AS_OF, timedelta(minutes=1)), run_cycle=fake_cycle)
    caplog.set_level(logging.INFO, logger="cobranza")
    assert _run_guarded(service) == 0

    assert Counter(calls) == {"norte.xlsm": 2, "sur.xlsm": 2}
    failure = ("error inesperado (NativePanic: TimeDelta::milliseconds out of bounds); "
               "se reintentará en el próximo ciclo.")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[1:3] == [
        f"norte.xlsm (inicio): {failure}",
        "sur.xlsm (inicio): 1 enviado, 0 pendientes, 0 omitidos, 0 fallidos, 0 inciertos; "
        "2 errores en los datos; hojas de salida escritas"]
    assert lines.count(f"norte.xlsm (ciclo): {failure}") == 1
    assert status.load(norte)["last_error"]["message"] == failure
    assert status.load(norte)["cycles"] == 2
    assert status.load(sur)["counts"]["enviado"] == 1
    assert status.load(sur)["ok"] is True


def test_a_second_signal_during_a_cycle_still_stops_the_service(tmp_path):
    """The guard catches BaseException, but not the SystemExit of a second SIGTERM."""
    def fake_cycle(path, at, *, ledger_path, stop):
        os.kill(os.getpid(), signal.SIGTERM)  # finish the current cycle, then stop
        os.kill(os.getpid(), signal.SIGTERM)  # stop now
        raise AssertionError("the second signal did not stop the cycle")

    service = Service([Target(tmp_path / "libro.xlsm", None)], every_seconds=60,
                      clock=SimulatedClock(AS_OF, timedelta(minutes=1)), run_cycle=fake_cycle)
    with pytest.raises(SystemExit) as stopped:
        _run_guarded(service)
    assert stopped.value.code == 1


def test_status_command_without_a_cycle_says_so_and_exits_1(tmp_path, capsys):
    from sync.cli import main

    book = tmp_path / "libro.xlsm"
    assert main(["status", str(book)]) == 1
    assert capsys.readouterr().out == (
        "libro.xlsm: todavía no se ha ejecutado ningún ciclo sobre este libro (ni cobranza "
        "sync, ni la cinta de Excel, ni el servicio; no existe "
        f"{tmp_path / '.cobranza' / 'libro.status.json'}).\n")


def test_status_groups_pending_reasons_for_people(tmp_path):
    book = tmp_path / "libro.xlsm"
    down = reason(ReasonCode.SMTP_DOWN, detail="servidor SMTP no disponible")
    rows = [
        delivery("pendiente", "VENCIDA_1", "C1", reason(ReasonCode.WINDOW, window="08:00-20:00")),
        delivery("pendiente", "NUEVA", "C2", down),
        delivery("pendiente", "PREVIO", "C3", reason(ReasonCode.HOLIDAY, country="MX")),
        delivery("enviado", "PREVIO", "C4"),
    ]
    result = _result(book, [], written=False, deliveries=rows,
                     deferred="El libro está abierto en Excel (libro.xlsm)",
                     deferred_code=ReasonCode.WORKBOOK_OPEN)
    at = datetime(2026, 12, 1, 10, 0, 5).astimezone()
    status.record_cycle(book, result, at=at, source=status.SERVICE,
                        next_jobs=[{"job": "ciclo cada 10 min", "at": "2026-12-01T10:10:05"}])
    text = status.render(status.load(book), book)
    assert "Envíos: 1 enviado, 3 pendientes, 0 omitidos, 0 fallidos, 0 inciertos" in text
    pending = text[text.index("Pendiente:"):text.index("Próximas tareas:")]
    assert pending == (
        "Pendiente:\n"
        "  ventana cerrada: 1\n"
        "    VENCIDA_1 C1 — fuera de la ventana de envío 08:00-20:00 (hora del cliente)\n"
        "  SMTP caído: 1\n"
        "    NUEVA C2 — servidor SMTP no disponible\n"
        "  feriado o fin de semana: 1\n"
        "    PREVIO C3 — día feriado en MX\n"
        "  libro abierto: 1\n"
        "    El libro está abierto en Excel (libro.xlsm)\n"
    )
    assert text.endswith("Próximas tareas:\n  01/12/2026 10:10:05  ciclo cada 10 min")


# ============================================================== in-process: progress


def test_progress_draws_a_bar_on_a_terminal():
    out = io.StringIO()
    now = [0.0]
    with progress(200, "Leyendo", stream=out, tty=True, delay=0.0,
                  clock=lambda: now[0]) as bar:
        now[0] = 2.0
        bar.advance(50)
        now[0] = 2.05  # redrawn at most every 0.1 s
        bar.advance(10)
        now[0] = 4.0
        bar.advance(140)
    assert out.getvalue() == (
        "\rLeyendo [#######.......................] 25% (50 de 200, 2 s)"
        "\rLeyendo [##############################] 100% (200 de 200, 4 s)"
        "\rLeyendo [##############################] 100% (200 de 200, 4 s)\n"
    )


def test_progress_logs_plain_lines_off_a_terminal(caplog):
    caplog.set_level(logging.INFO, logger="cobranza")
    now = [0.0]
    out = io.StringIO()
    items = list(range(100_000))
    for i in track(items, "Generando facturas", stream=out, tty=False, delay=1.0,
                   log_every=5.0, clock=lambda: now[0]):
        now[0] = i / 10_000  # 10 s in total
    assert out.getvalue() == ""
    assert [r.getMessage() for r in caplog.records] == [
        "Generando facturas: 50% (50 001 de 100 000, 5 s)",
        "Generando facturas: listo (100 000 en 10 s)",
    ]


def test_quick_operations_print_nothing(caplog):
    out = io.StringIO()
    caplog.set_level(logging.INFO, logger="cobranza")
    with progress(10, "Escribiendo", stream=out, tty=True) as bar:
        bar.advance(10)
    assert out.getvalue() == ""
    assert caplog.records == []
    assert isinstance(bar, Progress)


# ============================================================== subprocess: the real service


class SlowSmtpServer(SmtpTestServer):
    """The test SMTP server, answering each DATA after `delay` seconds (a slow batch)."""

    delay = 0.0

    def start(self) -> SlowSmtpServer:
        if self._controller is None:
            from aiosmtpd.controller import Controller

            self._controller = Controller(_SlowHandler(self), **self._controller_options())
            self._controller.start()
        return self


class _SlowHandler(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        await asyncio.sleep(self.server.delay)
        return await super().handle_DATA(server, session, envelope)


class Running:
    """`cobranza run` as a real subprocess; its log is kept in a file (or a pipe)."""

    def __init__(self, books: list[Path], smtp: SmtpTestServer, log: Path, *,
                 every: float = 0.6, step: float = 10.0, pipe: bool = False,
                 options: tuple[str, ...] = ()) -> None:
        env = {**os.environ, **smtp.env(), "PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0"}
        args = [*CLI, "run", *map(str, books), "--every-seconds", str(every),
                "--as-of", AS_OF.strftime("%Y-%m-%dT%H:%M"), "--as-of-step", str(step),
                *options]
        self.books, self.log = books, log
        self.lines: list[str] = []
        if pipe:  # a pipe is not a file: its writes escape RLIMIT_FSIZE
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True)
            self._reader = threading.Thread(target=self._drain, daemon=True)
            self._reader.start()
        else:
            self._file = log.open("w")
            self.proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                                         stderr=self._file)

    def _drain(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def text(self) -> str:
        return "\n".join(self.lines) if self.lines else self.log.read_text(encoding="utf-8")

    def cycles(self, book: Path) -> int:
        state = status.load(book)
        return state["cycles"] if state else 0

    def wait_cycles(self, book: Path, n: int, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while self.cycles(book) < n:
            assert self.proc.poll() is None, f"el servicio terminó:\n{self.text()}"
            assert time.monotonic() < deadline, f"sin ciclo {n}:\n{self.text()}"
            time.sleep(0.05)
        return status.load(book)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout)
        if hasattr(self, "_reader"):
            self._reader.join(5)
        return rc

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def service_runs():
    started: list[Running] = []

    def start(*args, **kwargs) -> Running:
        run = Running(*args, **kwargs)
        started.append(run)
        return run

    yield start
    for run in started:
        run.kill()


def make_book(folder: Path) -> Path:
    """The demo workbook (40 invoices, every rule's hand-made cases)."""
    from sync.workbook.init import create_workbook

    folder.mkdir(parents=True, exist_ok=True)
    return Path(create_workbook(folder / "libro.xlsm", demo=True, as_of=AS_OF.date(),
                                invoices=40))


def small_book(folder: Path, customers: int = 2) -> Path:
    """The empty template plus `customers` customers with one invoice each, issued in
    October and due in January: on 1 December only their monthly statement is due."""
    from sync.workbook.init import create_workbook

    folder.mkdir(parents=True, exist_ok=True)
    path = Path(create_workbook(folder / "libro.xlsm", as_of=AS_OF.date()))
    ids = [f"C{i:02d}" for i in range(1, customers + 1)]
    append_rows(path, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c} S.A. de C.V.",
                      "Email": f"pagos.{c.lower()}@cliente.mx", "Segmento": "PyME",
                      "Cobrador": "Ana López", "Avisos automáticos": "Sí",
                      "Zona horaria": "America/Mexico_City"} for c in ids],
        "Facturas": [{"Factura": f"F-{c}", "Cliente": c, "Emisión": datetime(2026, 10, 1),
                      "Vencimiento": datetime(2027, 1, 31), "Moneda": "MXN",
                      "Importe": 1000 + i} for i, c in enumerate(ids)],
    })
    return path


def new_invoice(invoice: str, customer: str, amount: float = 500) -> dict[str, object]:
    """An invoice issued "today" (the simulated clock's date): its NUEVA notice is due."""
    return {"Factura": invoice, "Cliente": customer, "Emisión": datetime(2026, 12, 1),
            "Vencimiento": datetime(2026, 12, 31), "Moneda": "MXN", "Importe": amount}


def _key(text: object) -> str:
    plain = unicodedata.normalize("NFKD", str(text or "")).encode("ascii", "ignore").decode()
    return plain.strip().lower()


def ledger_rows(book: Path) -> list[dict]:
    """The Envíos rows of the workbook's ledger, as dicts."""
    from sync.ledger.store import Ledger, ledger_path
    from sync.xlsx.reader import read_book

    with Ledger(ledger_path(book), read_book(book).config.workbook_id) as ledger:
        return [asdict(r) for r in ledger.rows()]


def _addresses(text: str) -> tuple[str, ...]:
    return tuple(sorted(a.lower() for _, a in email.utils.getaddresses([text]) if a))


def assert_ledger_matches_server(books: list[Path], server: SmtpTestServer) -> list[dict]:
    """Every message marked enviado reached the server once; the server got nothing else."""
    rows = [r for book in books for r in ledger_rows(book)]
    assert [r for r in rows if r["state"] in ("enviando", "incierto")] == []
    marked = Counter((r["subject"], _addresses(r["to"].replace(";", ","))) for r in rows
                     if r["state"] == "enviado")
    got = Counter((m.subject, _addresses(m.message["To"])) for m in server.received())
    assert got == marked
    return rows


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def opens(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path, keep_vba=True)
    return wb.sheetnames


def envios_codes(path: Path) -> set[str]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return {str(v) for row in wb["Envíos"].iter_rows(values_only=True) for v in row if v}


def sent(book: Path, code: str, customer: str, invoice: str) -> list[dict]:
    """Ledger rows (one per message) sent to `customer` whose notice `code` lists `invoice`
    (a message may carry several notices: `message_parts` reads each one's invoices)."""
    from cobranza.notices.seeding import message_parts

    return [r for r in ledger_rows(book)
            if r["recipient"] == customer and r["state"] == "enviado"
            and any(c == code and invoice in invoices.split(", ")
                    for c, invoices in message_parts(r["code"], r["invoices"]))]


def new_customer(book: Path, customer: str, invoices: list[dict[str, object]],
                 calls: list[dict[str, object]] = ()) -> str:
    """Add, in one save, a customer (not contacted yet today: one email per customer per
    day) with its invoices and calls; returns its To address."""
    address = f"pagos.{customer.lower()}@nuevo.mx"
    append_rows(book, {
        "Clientes": [{"Cliente": customer, "Nombre": f"Cliente {customer} S.A. de C.V.",
                      "Email": address, "Segmento": "PyME", "Cobrador": "Ana López",
                      "Avisos automáticos": "Sí", "Zona horaria": "America/Mexico_City"}],
        "Facturas": invoices, "Gestiones": list(calls)})
    return address


def after_change(run: Running, book: Path) -> dict:
    """The state of the first cycle that surely read the workbook after a change (the
    cycle running at the time of the change may have read it before)."""
    return run.wait_cycles(book, run.cycles(book) + 2)


def test_service_acts_on_changes_and_waits_for_a_closed_workbook(tmp_path, service_runs):
    """Two workbooks, one process; a new invoice and a promise are acted on next cycle; an
    owner file defers only the writing; `cobranza status` tells what happened; SIGTERM = 0."""
    book = make_book(tmp_path / "norte")
    other = small_book(tmp_path / "sur")
    with SmtpTestServer() as server:
        run = service_runs([book, other], server, tmp_path / "servicio.log")
        first = run.wait_cycles(book, 1)
        assert run.wait_cycles(other, 1)["counts"]["enviado"] == 2  # two ESTADO_MENSUAL
        assert first["written"] is True
        assert first["counts"]["enviado"] == len(
            [r for r in ledger_rows(book) if r["state"] == "enviado"])
        assert_ledger_matches_server([book, other], server)

        # A new customer with an invoice issued "today": the next cycle sends its NUEVA
        # notice, in one email with its monthly statement (one email a customer a day).
        address = new_customer(book, "C-SVC-1", [new_invoice("F-SVC-1", "C-SVC-1", 12345.67)])
        after_change(run, book)
        nueva = sent(book, "NUEVA", "C-SVC-1", "F-SVC-1")
        assert [(r["code"], r["invoices"]) for r in nueva] == [
            ("NUEVA, ESTADO_MENSUAL", "NUEVA: F-SVC-1; ESTADO_MENSUAL: F-SVC-1")]
        assert _addresses(nueva[0]["to"].replace(";", ",")) == (address,)

        # Excel opens the workbook; the collector logs a promise for tomorrow and saves.
        # (A customer not emailed yet today: C-SVC-1 got its one email of the day.)
        owner = book.with_name("~$libro.xlsm")
        owner.write_bytes(b"usuario")
        new_customer(book, "C-SVC-2", [{
            "Factura": "F-SVC-2", "Cliente": "C-SVC-2", "Emisión": datetime(2026, 10, 1),
            "Vencimiento": datetime(2026, 11, 30), "Moneda": "MXN", "Importe": 800}], [{
            "Fecha": datetime(2026, 12, 1), "Cobrador": "Ana López", "Cliente": "C-SVC-2",
            "Factura": "F-SVC-2", "Resultado": "Promesa de pago",
            "Fecha compromiso": datetime(2026, 12, 2)}])
        saved = digest(book)
        state = after_change(run, book)
        promise = sent(book, "PROMESA_PREVIA", "C-SVC-2", "F-SVC-2")
        assert [r["code"] for r in promise] == ["PROMESA_PREVIA, ESTADO_MENSUAL"]
        assert state["written"] is False
        assert state["deferred"] == ("El libro está abierto en Excel (libro.xlsm); las hojas "
                                     "de salida se escribirán cuando se cierre.")
        assert digest(book) == saved
        report = subprocess.run([*CLI, "status", str(book)], cwd=REPO, capture_output=True,
                                text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert report.returncode == 0
        assert f"Servicio: en marcha (pid {run.proc.pid}" in report.stdout
        assert re.search(r"\nÚltimo ciclo: \d\d/\d\d/\d{4} [\d:]{8}, por servicio \(correcto; ",
                         report.stdout)
        assert ("  libro abierto: 1\n    El libro está abierto en Excel (libro.xlsm); las "
                "hojas de salida se escribirán cuando se cierre.") in report.stdout
        assert "Próximas tareas:" in report.stdout
        assert "ciclo cada 0.6 s" in report.stdout
        assert "ciclo de resúmenes (Hora resumen diario 08:00 America/Mexico_City)" in (
            report.stdout)

        # Excel closes: the next cycle writes the outputs, Envíos lists the promise notice.
        owner.unlink()
        state = after_change(run, book)
        assert state["written"] is True
        assert digest(book) != saved
        assert "PROMESA_PREVIA, ESTADO_MENSUAL" in envios_codes(book)
        assert "Gestiones" in opens(book)

        assert run.stop() == 0
        rows = assert_ledger_matches_server([book, other], server)
        assert len([r for r in rows if r["recipient"] == "C-SVC-1"]) == 1
    log = run.text()
    assert re.search(r"norte/libro.xlsm \(inicio\): \d+ enviados?, ", log)
    assert "sur/libro.xlsm (inicio): 2 enviados, " in log
    assert log.rstrip().endswith("Servicio detenido por SIGTERM; el ciclo en curso terminó.")
    assert status.load(book)["service"]["running"] is False
    assert status.load(other)["service"]["running"] is False


def test_service_survives_a_half_saved_workbook_a_foreign_file_and_smtp_down(
        tmp_path, service_runs):
    book = small_book(tmp_path)
    with SmtpTestServer() as server:
        run = service_runs([book], server, tmp_path / "servicio.log")
        run.wait_cycles(book, 1)
        good = book.read_bytes()  # with the outputs of the first cycle

        # Excel is half-way through saving: retried next cycle, not reported as bad data.
        book.write_bytes(good[: len(good) // 2])
        state = after_change(run, book)
        assert state["ok"] is False
        assert state["last_error"]["message"].endswith("se reintentará en el próximo ciclo.")
        assert book.read_bytes() == good[: len(good) // 2]  # never written over
        assert run.alive()

        # Someone saved another file under the workbook's name.
        foreign = openpyxl.Workbook()
        foreign.active.title = "Hoja1"
        save_atomically(foreign, book)
        state = after_change(run, book)
        assert "Clientes" in state["last_error"]["message"]
        assert run.alive()

        # The right file is back; the SMTP server goes down, then a new customer arrives
        # with an invoice issued today (NUEVA and its monthly statement, one email).
        book.write_bytes(good)
        assert after_change(run, book)["ok"] is True
        server.stop()
        new_customer(book, "C03", [new_invoice("F-SVC-2", "C03")])
        state = after_change(run, book)
        assert state["ok"] is True
        assert state["pending"] == [  # one message, its two notices
            {"code": "NUEVA, ESTADO_MENSUAL", "recipient": "C03", "state": "pendiente",
             "reason": f"servidor SMTP no disponible (127.0.0.1:{server.port}: conexión "
                       "rechazada)", "reason_code": "smtp_no_disponible", "group": "SMTP caído"}]
        report = subprocess.run([*CLI, "status", str(book)], cwd=REPO, capture_output=True,
                                text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert ("  SMTP caído: 1\n    NUEVA, ESTADO_MENSUAL C03 — servidor SMTP no "
                f"disponible (127.0.0.1:{server.port}: conexión rechazada)") in report.stdout

        # Back up: the notice goes out once (the simulated clock passed the 5 min backoff).
        server.start()
        after_change(run, book)
        run.wait_cycles(book, run.cycles(book) + 1)

        # The ribbon holds the send ledger longer than its busy timeout: one line, go on.
        ledger = book.parent / ".cobranza" / "ledger.sqlite"
        held = sqlite3.connect(ledger, isolation_level=None)
        held.execute("BEGIN EXCLUSIVE")
        try:
            deadline = time.monotonic() + 30
            while "ocupado" not in (status.load(book).get("last_error") or {}).get("message", ""):
                assert time.monotonic() < deadline and run.alive(), run.text()
                time.sleep(0.1)
        finally:
            held.execute("ROLLBACK")
            held.close()
        assert status.load(book)["last_error"]["message"] == (
            f"El registro de envíos {ledger} está ocupado por otro proceso desde hace más de "
            "5 s; se reintentará en el próximo ciclo.")
        assert run.wait_cycles(book, run.cycles(book) + 1)["ok"] is True
        assert run.stop() == 0
        nueva = sent(book, "NUEVA", "C03", "F-SVC-2")
        assert [r["invoices"] for r in nueva] == ["NUEVA: F-SVC-2; ESTADO_MENSUAL: F-SVC-2"]
        assert [m.message["To"] for m in server.received() if m.subject == nueva[0]["subject"]
                ] == ["pagos.c03@nuevo.mx"]
        assert_ledger_matches_server([book], server)
    assert "Clientes" in opens(book)
    log = run.text()
    assert re.search(r"ERROR libro\.xlsm \(ciclo\): .*se reintentará en el próximo ciclo\.",
                     log)


def test_sigterm_during_a_batch_finishes_the_message_and_exits_zero(tmp_path, service_runs):
    book = small_book(tmp_path, customers=8)
    append_rows(book, {"Facturas": [new_invoice(f"F-N{i}", f"C{i:02d}") for i in range(1, 9)]})
    server = SlowSmtpServer()
    server.delay = 0.15
    with server:
        run = service_runs([book], server, tmp_path / "servicio.log", every=30)
        deadline = time.monotonic() + 40
        while len(server.received()) < 3:
            assert time.monotonic() < deadline and run.alive(), run.text()
            time.sleep(0.02)
        assert run.stop() == 0
        first = len(server.received())
        assert 3 <= first < 8  # 8 emails (NUEVA + ESTADO_MENSUAL each): stopped midway
        rows = assert_ledger_matches_server([book], server)
        assert len([r for r in rows if r["state"] == "enviado"]) == first
        log = run.text()
        assert ("Señal SIGTERM recibida: se termina el envío en curso y el servicio se "
                "detiene.") in log
        assert log.rstrip().endswith("Servicio detenido por SIGTERM; el ciclo en curso terminó.")
        assert "Facturas" in opens(book)

        # Restarted: the rest of the batch goes out, nothing twice.
        server.delay = 0.0
        again = service_runs([book], server, tmp_path / "servicio2.log", every=30, step=0)
        again.wait_cycles(book, status.load(book)["cycles"] + 1)
        assert again.stop() == 0
        assert len(server.received()) == 8
        assert_ledger_matches_server([book], server)


def test_a_failed_write_leaves_the_workbook_untouched_and_the_service_running(
        tmp_path, service_runs):
    """The OS refuses the bytes of the new file (RLIMIT_FSIZE: EFBIG, like a full disk)."""
    book = small_book(tmp_path)
    with SmtpTestServer() as server:
        run = service_runs([book], server, tmp_path / "servicio.log", pipe=True)
        run.wait_cycles(book, 1)
        # From now on no file of the service may grow past 50 000 bytes: the ledger and the
        # status file stay below that, the workbook (template size) does not.
        limit = 50_000
        ledger = book.parent / ".cobranza" / "ledger.sqlite"
        assert ledger.stat().st_size < limit / 2 < limit < book.stat().st_size
        resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        new_customer(book, "C03", [new_invoice("F-SVC-3", "C03")])
        saved = book.read_bytes()
        state = after_change(run, book)
        message = state["last_error"]["message"]
        assert message == (f"no se pudo escribir {book}: el archivo supera el tamaño máximo "
                           "permitido; el libro no se modificó; se reintentará en el próximo "
                           "ciclo.")
        assert book.read_bytes() == saved
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".cobranza-tmp")] == []
        assert [r["code"] for r in sent(book, "NUEVA", "C03", "F-SVC-3")] == [
            "NUEVA, ESTADO_MENSUAL"]
        assert run.alive()

        resource.prlimit(run.proc.pid, resource.RLIMIT_FSIZE,
                         (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        state = after_change(run, book)
        assert state["written"] is True
        assert book.read_bytes() != saved
        assert run.stop() == 0
        assert_ledger_matches_server([book], server)
    assert "Facturas" in opens(book)
    assert f"ERROR libro.xlsm (ciclo): {message}" in run.text()


def test_a_cell_that_crashes_the_reader_costs_neither_workbook(tmp_path, service_runs):
    """norte has -1E12 in a date-formatted Vencimiento (python-calamine panics on it):
    both workbooks are served from the first cycle on, norte with one more Errores row."""
    norte = make_book(tmp_path / "norte")
    put_number(norte, "Facturas", "D5", "-1E12")
    sur = small_book(tmp_path / "sur")
    with SmtpTestServer() as server:
        run = service_runs([norte, sur], server, tmp_path / "servicio.log")
        first, clean = run.wait_cycles(norte, 1), run.wait_cycles(sur, 1)
        assert clean["counts"]["enviado"] == 2 and clean["written"] is True
        assert first["ok"] is True and first["written"] is True
        assert first["counts"]["enviado"] > 0
        assert run.wait_cycles(norte, 2)["ok"] is True
        assert run.stop() == 0
        assert_ledger_matches_server([norte, sur], server)
        got = server.by_recipient()
        for customer in ("c01", "c02"):  # sur's two monthly statements
            assert [m.subject for m in got[f"pagos.{customer}@cliente.mx"]] == [
                f"Estado de cuenta al 01/12/2026: factura F-{customer.upper()}"]
        # norte: its other customers got their notices; F-000004 (row 5) was the only
        # invoice of Muebles de Occidente, so nothing went to it.
        assert [m.subject for m in got["pagos.textiles-huasteca@cliente-demo.mx"]] == [
            "Aviso de suspensión de crédito y servicio: factura F-000007"]  # + statement
        assert "pagos.muebles-de-occidente@cliente-demo.mx" not in got
    wb = openpyxl.load_workbook(norte, read_only=True)
    errores = [r[:5] for r in wb["Errores"].iter_rows(min_row=5, values_only=True)]
    assert ("Facturas", 5, "Vencimiento", "-1000000000000",
            "no es una fecha válida (use dd/mm/aaaa).") in errores
    log = run.text()
    assert "Traceback" not in log
    assert re.search(r"norte/libro.xlsm \(inicio\): \d+ enviados?, ", log)
    assert "sur/libro.xlsm (inicio): 2 enviados, " in log
