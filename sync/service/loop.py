"""`cobranza run`: the unattended service, and `cobranza status`.

One `schedule.Scheduler()` instance (never the module default) holds, per workbook:

* a cycle every `--every` minutes (the clock is read inside the job);
* a cycle at the workbook's Hora resumen diario, so the digests the planner finds due
  go out on time. The hour is read from Configuración after every cycle and the job is
  moved when it changes.

"What was already sent" lives in each workbook's ledger, never in the scheduler. Every job
is guarded: a failure is one Spanish log line plus an entry in the status file, and the
loop goes on. SIGINT/SIGTERM set a flag that delivery checks between messages; the loop
exits after the current cycle with exit code 0.
"""

from __future__ import annotations

import argparse
import logging
import logging.handlers
import os
import signal
import sqlite3
import time as systime
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import schedule

from cobranza.layout.sends import state_counts
from cobranza.plural import count
from cobranza.vocabulary import ReasonCode
from sync.cli import clock, command, parse_as_of
from sync.errors import (
    NEVER_SWALLOWED,
    CobranzaError,
    WorkbookBusy,
    WorkbookError,
    WorkbookOpen,
    write_failure,
)
from sync.ledger.store import LEDGER_FILE, pid_alive
from sync.ledger.url import LEDGER_URL_HELP, ledger_url, redacted
from sync.service import status

if TYPE_CHECKING:
    from cobranza.book.config import Config
    from sync.cycle import CycleResult

log = logging.getLogger("cobranza")

DEFAULT_EVERY_MINUTES = 10.0
SLEEP_STEP = 0.2  # seconds: how promptly a signal is noticed while idle
RETRY = "se reintentará en el próximo ciclo"


@dataclass
class Target:
    """One workbook the service looks after."""

    path: Path
    ledger: Path | None  # --ledger-dir's file; None = the one noted for the folder, or default
    ledger_url: str | None = None  # --ledger-url (PostgreSQL); None = COBRANZA_LEDGER_URL
    cycle_job: schedule.Job | None = None
    digest_job: schedule.Job | None = None
    digest_label: str = ""  # "08:00 America/Mexico_City" currently scheduled
    ran: bool = False  # a job ran since the last status refresh

    label: str = ""  # how log lines name it: the file name, or folder/name when ambiguous

    def __post_init__(self) -> None:
        self.label = self.label or self.path.name


class Service:
    """The scheduler loop over several workbooks. `run()` returns the exit code."""

    def __init__(
        self,
        targets: list[Target],
        *,
        every_seconds: float,
        clock: Callable[[], datetime],
        run_cycle: Callable[..., CycleResult] | None = None,
    ) -> None:
        self.targets = targets
        self.every_seconds = every_seconds
        self.clock = clock
        self.scheduler = schedule.Scheduler()
        self.stopping = False
        self.signal_name = ""
        self.started = _wall()
        self._run_cycle = run_cycle

    # ------------------------------------------------------------------ signals

    def install_signal_handlers(self) -> None:
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # SIGBREAK: Ctrl+Break on Windows
            signum = getattr(signal, name, None)
            if signum is not None:
                signal.signal(signum, self._on_signal)

    def _on_signal(self, signum: int, _frame: object) -> None:
        name = signal.Signals(signum).name
        if self.stopping:
            log.warning("Segunda señal %s: el servicio se detiene de inmediato.", name)
            raise SystemExit(1)
        self.stopping = True
        self.signal_name = name
        log.info("Señal %s recibida: se termina el envío en curso y el servicio se detiene.",
                 name)

    def stop_requested(self) -> bool:
        return self.stopping

    # ------------------------------------------------------------------ jobs

    def schedule_cycles(self) -> None:
        for target in self.targets:
            target.cycle_job = (
                self.scheduler.every(self.every_seconds).seconds
                .do(self.run_job, target, "ciclo")
            )

    def run_job(self, target: Target, kind: str) -> None:
        """One guarded cycle: never raises, logs exactly one line, records the status."""
        if self.stopping:
            return
        target.ran = True
        at = _wall()
        try:
            result = self.cycle(target)
            if result.write_error:  # sent, but the sheets wait for next cycle
                result.write_error = _with_retry(result.write_error)
                log.error("%s (%s): %s", target.label, kind, result.write_error)
            else:
                log.info("%s (%s): %s", target.label, kind, cycle_line(result))
            status.record_cycle(target.path, result, at=at, source=status.SERVICE,
                                service=self.service_info())
            self.follow_digest_time(target, result.computed.book.config)
        except NEVER_SWALLOWED:
            raise  # a second SIGINT/SIGTERM (SystemExit) still stops the service
        except BaseException as exc:  # the guard: nothing else stops the loop, not even
            # a panic in a library's native code (pyo3's PanicException is no Exception)
            message = describe_failure(exc, target)
            log.error("%s (%s): %s", target.label, kind, message)
            if not isinstance(exc, CobranzaError | OSError | sqlite3.Error):
                log.debug("Detalle del error inesperado", exc_info=exc)
            status.record_error(target.path, message, at=at, source=status.SERVICE,
                                service=self.service_info())

    def cycle(self, target: Target) -> CycleResult:
        run_cycle = self._run_cycle
        if run_cycle is None:
            from sync.cycle import run_cycle
        chosen = {"ledger_url": target.ledger_url} if target.ledger_url else {}
        return run_cycle(
            target.path, self.clock(), ledger_path=target.ledger, stop=self.stop_requested,
            **chosen,
        )

    def follow_digest_time(self, target: Target, config: Config) -> None:
        """Keep one extra cycle at Hora resumen diario (company zone), moved when it changes."""
        zone = config.zone
        label = f"{config.daily_digest_time:%H:%M} {config.timezone}"
        at_local = server_time(config.daily_digest_time, zone, datetime.now(zone).date())
        label_key = f"{label}|{at_local}"  # DST on either side moves the local hour
        if label_key == target.digest_label and target.digest_job is not None:
            return
        if target.digest_job is not None:
            self.scheduler.cancel_job(target.digest_job)
            log.info("%s: resumen diario reprogramado a las %s.", target.label, label)
        target.digest_job = (
            self.scheduler.every().day.at(at_local).do(self.run_job, target, "resumen diario")
        )
        target.digest_label = label_key

    # ------------------------------------------------------------------ loop

    def run(self) -> int:
        every = _every_text(self.every_seconds)
        log.info("Servicio Cobranza XL iniciado (pid %d): %d libro(s), un ciclo cada %s. "
                 "Ctrl+C o SIGTERM lo detienen.", os.getpid(), len(self.targets), every)
        self.schedule_cycles()
        for target in self.targets:  # a first cycle right away, then on schedule
            self.run_job(target, "inicio")
        self.refresh_status()
        while not self.stopping:
            self.scheduler.run_pending()
            self.refresh_status()
            idle = self.scheduler.idle_seconds
            if idle is None or idle > 0:
                systime.sleep(SLEEP_STEP if idle is None else min(idle, SLEEP_STEP))
        log.info("Servicio detenido por %s; el ciclo en curso terminó.",
                 self.signal_name or "solicitud")
        for target in self.targets:
            status.record_service(target.path, self.service_info(running=False), next_jobs=[])
        return 0

    def refresh_status(self) -> None:
        """After jobs ran, store their next run times (known only once the job returned)."""
        for target in self.targets:
            if target.ran:
                target.ran = False
                status.record_service(target.path, self.service_info(),
                                      next_jobs=self.next_jobs(target))

    def next_jobs(self, target: Target) -> list[dict[str, str]]:
        jobs = []
        if target.cycle_job is not None and target.cycle_job.next_run:
            jobs.append({"job": f"ciclo cada {_every_text(self.every_seconds)}",
                         "at": _aware(target.cycle_job.next_run)})
        if target.digest_job is not None and target.digest_job.next_run:
            hour = target.digest_label.split("|")[0]
            jobs.append({"job": f"ciclo de resúmenes (Hora resumen diario {hour})",
                         "at": _aware(target.digest_job.next_run)})
        return sorted(jobs, key=lambda j: j["at"])

    def service_info(self, running: bool = True) -> dict[str, Any]:
        info: dict[str, Any] = {"pid": os.getpid(), "running": running,
                                "started": self.started.isoformat(timespec="seconds"),
                                "every_seconds": self.every_seconds}
        if not running:
            info["stopped"] = _wall().isoformat(timespec="seconds")
        return info


# ---------------------------------------------------------------------- messages


# Why the output sheets wait, for the log line: the deferral's full sentence names the
# file, which the line's label already does.
_SHEETS_WAIT = {
    ReasonCode.WORKBOOK_OPEN: "hojas de salida en espera hasta que se cierre el libro",
    ReasonCode.WORKBOOK_CHANGED: "hojas de salida en espera hasta el próximo ciclo (el libro "
                                 "se guardó durante la escritura)",
}


def cycle_line(result: CycleResult) -> str:
    """The one log line of a completed cycle: every count once, each phrase once."""
    parts = [state_counts(result.counts(), zeros=True),
             f"{count(len(result.computed.errors), 'error')} en los datos"]
    if result.inbox_error:  # sending went on; the inbox is read again next cycle
        parts.append(f"buzón IMAP sin leer: {result.inbox_error}")
    if result.write_error:
        parts.append(result.write_error)
    elif result.written:
        parts.append("hojas de salida escritas")
    elif result.deferred:  # when they will be written: once closed, or next cycle
        parts.append(_SHEETS_WAIT.get(result.deferred_code) or result.deferred.rstrip("."))
    else:
        parts.append("hojas de salida sin escribir")
    return "; ".join(parts)


def describe_failure(exc: BaseException, target: Target) -> str:
    """One Spanish sentence for a cycle that failed (the edge where faults are reported)."""
    text = str(exc).strip()
    if isinstance(exc, WorkbookBusy):
        return _with_retry(text or "el libro se está guardando o está incompleto")
    if isinstance(exc, WorkbookOpen):
        return _with_retry(text or "el libro está abierto en Excel")
    if isinstance(exc, WorkbookError):
        return text
    if isinstance(exc, CobranzaError):
        return _with_retry(text)
    if _ledger_busy(exc):
        return _with_retry("registro de envíos ocupado (otro proceso, por ejemplo la cinta "
                           "de Excel, lo está usando)")
    if isinstance(exc, sqlite3.Error):
        return _with_retry(f"el registro de envíos no se pudo usar: {text}")
    if isinstance(exc, OSError):
        return _with_retry(write_failure(target.path, exc))
    return _with_retry(f"error inesperado ({type(exc).__name__}: {text})")


def _ledger_busy(exc: BaseException) -> bool:
    while exc is not None:
        if isinstance(exc, sqlite3.OperationalError) and (
            "locked" in str(exc) or "busy" in str(exc)
        ):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


def _with_retry(text: str) -> str:
    text = text.rstrip(". ")
    return f"{text}." if "reintentar" in text.lower() else f"{text}; {RETRY}."


# ---------------------------------------------------------------------- time helpers


def server_time(at: time, zone: ZoneInfo, day: date) -> str:
    """`at` o'clock in `zone` on `day`, as HH:MM:SS of this computer's local time.

    `schedule` reads the naive local clock; the company zone may differ from the server's.
    """
    aware = datetime.combine(day, at, tzinfo=zone)
    return aware.astimezone().strftime("%H:%M:%S")


def _aware(naive_local: datetime) -> str:
    return naive_local.astimezone().isoformat(timespec="seconds")


def _wall() -> datetime:
    """The real time, for log and status stamps (not the cycle's as-of)."""
    return datetime.now().astimezone()


def _every_text(seconds: float) -> str:
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)} min"
    return f"{seconds:g} s"


class SimulatedClock:
    """Testing aid: `start`, then `start + step`, `start + 2*step`, ... one per cycle."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.next, self.step = start, step

    def __call__(self) -> datetime:
        now, self.next = self.next, self.next + self.step
        return now


# ---------------------------------------------------------------------- commands


def _args_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH",
                   help="libros de cobranza (.xlsm), uno por unidad de negocio")
    p.add_argument("--every", type=float, default=DEFAULT_EVERY_MINUTES, metavar="MIN",
                   help="minutos entre ciclos (predeterminado: 10)")
    p.add_argument("--ledger-dir", type=Path, metavar="DIR",
                   help="carpeta del registro de envíos; queda anotada junto a cada libro y la "
                        "siguen la cinta de Excel y cobranza sync (predeterminado: la anotada, "
                        "o .cobranza junto a cada libro)")
    p.add_argument("--ledger-url", metavar="URL", help=LEDGER_URL_HELP)
    p.add_argument("--log-file", type=Path, metavar="ARCHIVO",
                   help="además de la salida de errores, escribir el registro en este archivo "
                        "(rotado a 5 MB, 5 copias)")
    # Testing aids, hidden from --help: a simulated clock (starts at --as-of and moves
    # --as-of-step minutes at every cycle) and a sub-minute schedule.
    p.add_argument("--as-of", type=parse_as_of, help=argparse.SUPPRESS)
    p.add_argument("--as-of-step", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--every-seconds", type=float, help=argparse.SUPPRESS)


@command("run", _args_run)
def cmd_run(args: argparse.Namespace) -> int:
    targets = build_targets(args.paths, args.ledger_dir)
    if url := ledger_url(args.ledger_url):
        if args.ledger_dir:
            raise CobranzaError("Use --ledger-dir (SQLite) o --ledger-url (PostgreSQL), no ambos.")
        for target in targets:
            target.ledger_url = url
        log.info("Registro de envíos compartido: %s", redacted(url))
    every = args.every_seconds if args.every_seconds else args.every * 60
    if every <= 0:
        raise CobranzaError("--every debe ser un número de minutos mayor que cero.")
    if args.log_file:
        add_log_file(args.log_file)
    read_clock: Callable[[], datetime] = lambda: clock(None)  # noqa: E731
    if args.as_of:
        log.warning("Reloj simulado desde %s, +%g min por ciclo (--as-of, solo para pruebas).",
                    args.as_of.isoformat(), args.as_of_step)
        read_clock = SimulatedClock(args.as_of, timedelta(minutes=args.as_of_step))
    service = Service(targets, every_seconds=every, clock=read_clock)
    service.install_signal_handlers()
    return service.run()


def build_targets(paths: list[Path], ledger_dir: Path | None) -> list[Target]:
    """Check the command line before starting: missing files and clashes stop it (exit 2)."""
    seen: dict[Path, Path] = {}
    targets = []
    for path in paths:
        if not path.is_file():
            raise CobranzaError(f"No existe el libro {path}. Revise la ruta.")
        key = path.resolve()
        if key in seen:
            raise CobranzaError(f"El libro {path} aparece dos veces en la línea de comandos.")
        seen[key] = path
        # one ledger file for all of them: it is keyed by each workbook's id
        targets.append(Target(path, ledger_dir / LEDGER_FILE if ledger_dir else None))
    names = [t.path.name for t in targets]
    for target in targets:
        if names.count(target.path.name) > 1:
            target.label = f"{target.path.parent.name}/{target.path.name}"
    if ledger_dir is not None:
        ledger_dir.mkdir(parents=True, exist_ok=True)
    return targets


def ledger_state(workbook: Path, book_id: str, url: str | None) -> dict[str, Any]:
    """What the workbook's ledger holds now (read-only), for `cobranza status`."""
    from sync.ledger.identity import ledger_totals

    try:
        where, totals = ledger_totals(workbook, book_id, url)
    except CobranzaError as exc:
        return {"error": str(exc)}
    return {"where": where, "messages": totals}


def add_log_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=5_000_000, backupCount=5, encoding="utf-8"
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger().addHandler(handler)


def _args_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="libro de cobranza (.xlsm)")
    p.add_argument("--json", action="store_true", help="imprimir el estado como JSON")
    p.add_argument("--ledger-url", metavar="URL", help=LEDGER_URL_HELP)


@command("status", _args_status)
def cmd_status(args: argparse.Namespace) -> int:
    import json

    state = status.load(args.path)
    if state:
        state["ledger"] = ledger_state(args.path, state.get("book_id", ""), args.ledger_url)
    if state and state.get("service", {}).get("running"):
        pid = state["service"].get("pid")
        if isinstance(pid, int) and not pid_alive(pid):
            state["service"]["running"] = False
            state["service"]["stopped"] = "el proceso ya no existe (terminó sin detenerse)"
    if args.json:
        print(json.dumps(state, ensure_ascii=False, indent=2))
    else:
        print(status.render(state, args.path))
    return 0 if state else 1
