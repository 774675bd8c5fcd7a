"""The `cobranza` command line. Exit 0 when the work ran; 2 when it could not run at all."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import sys
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING

from sync.errors import CobranzaError
from sync.ledger.url import LEDGER_URL_HELP, redacted
from sync.service import status

if TYPE_CHECKING:
    from sync.cycle import CycleResult

DEMO_AS_OF = datetime(2026, 12, 1, 10, 0)  # a Tuesday, first business day of the month (MX)

Command = Callable[[argparse.Namespace], int]
COMMANDS: dict[str, tuple[Command, Callable[[argparse.ArgumentParser], None]]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: adding one is one function and one decorator."""

    def wrap(fn: Command) -> Command:
        COMMANDS[name] = (fn, configure)
        return fn

    return wrap


def parse_as_of(text: str) -> datetime:
    for fmt in ("%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            value = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return value if fmt != "%Y-%m-%d" else value.replace(hour=12)
    raise argparse.ArgumentTypeError(
        f'"{text}" no es una fecha válida para --as-of (use AAAA-MM-DD o AAAA-MM-DDTHH:MM).'
    )


def clock(as_of: datetime | None) -> datetime:
    """The only place the command line reads the clock."""
    return as_of if as_of is not None else datetime.now(UTC)


def _args_init(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="libro a crear (.xlsm)")
    p.add_argument("--demo", action="store_true", help="llenar con datos de demostración")
    p.add_argument("--as-of", type=parse_as_of, help="fecha de referencia de los datos demo")
    p.add_argument("--facturas", type=int, default=2000, help="facturas de la demo (2000)")


@command("init", _args_init)
def cmd_init(args: argparse.Namespace) -> int:
    from sync.workbook.init import create_workbook

    as_of = args.as_of.date() if args.as_of else datetime.now().date()
    path = create_workbook(args.path, demo=args.demo, as_of=as_of, invoices=args.facturas)
    print(f"Libro creado: {path}")
    return 0


def _args_sync(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="libro de cobranza (.xlsm)")
    p.add_argument("--as-of", type=parse_as_of, help="fecha y hora de corte AAAA-MM-DD[THH:MM]")
    p.add_argument("--dry-run", action="store_true", help="calcular y mostrar, sin enviar nada")
    p.add_argument("--ledger", type=Path,
                   help="archivo del registro de envíos (SQLite); queda anotado junto al libro "
                        "y lo siguen la cinta de Excel y cobranza run")
    p.add_argument("--ledger-url", metavar="URL", help=LEDGER_URL_HELP)


@command("sync", _args_sync)
def cmd_sync(args: argparse.Namespace) -> int:
    from sync.cycle import run_cycle
    from sync.summary import print_summary

    result = run_cycle(
        args.path, clock(args.as_of), dry_run=args.dry_run, ledger_path=args.ledger,
        ledger_url=args.ledger_url,
    )
    print_summary(result)
    if not args.dry_run:  # a dry run sends nothing: the status keeps what did happen
        record_status(result, status.SYNC)
    hold_until_exit(result)
    return 0


# Set by `console`, which leaves without tearing down the heap: what a command built is
# then held here instead of being freed one object at a time when it returns (a
# 100 000-invoice cycle's frames and output sheets: ~0.06 s), for memory the exit hands
# back anyway. None otherwise (tests, the service's cycles): nothing is held.
_HELD: list[object] | None = None


def hold_until_exit(value: object) -> None:
    """Keep `value` alive until the process leaves (see `_HELD`)."""
    if _HELD is not None:
        _HELD.append(value)


def record_status(result: CycleResult, source: str) -> None:
    """Record the cycle for `cobranza status`, stamped with the wall clock (the cycle's
    own instant may be a simulated --as-of)."""
    status.record_cycle(result.path, result, at=clock(None).astimezone(), source=source)


def _args_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", type=Path, default=Path("cobranza-demo"), help="carpeta de la demo")


@command("demo", _args_demo)
def cmd_demo(args: argparse.Namespace) -> int:
    from sync.cycle import run_cycle
    from sync.summary import print_summary
    from sync.workbook.init import create_workbook

    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / "cobranza-demo.xlsm"
    if path.exists():
        path.unlink()  # the demo folder is ours: start over on each run
    create_workbook(path, demo=True, as_of=DEMO_AS_OF.date())
    print(f"Libro de demostración creado: {path}")
    result = run_cycle(path, DEMO_AS_OF)
    print_summary(result)
    record_status(result, status.DEMO)
    print(f"\nAbra {path} y revise las hojas Alertas, Tablero, Agenda, Cartera, Riesgo,"
          " Envíos y Errores.")
    print(f"Los correos quedaron como archivos .eml en {path.parent / 'salida'}.")
    return 0


def parse_day(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise argparse.ArgumentTypeError(
            f'"{text}" no es una fecha válida para --fecha (use AAAA-MM-DD).') from None


def _args_terceros(p: argparse.ArgumentParser) -> None:
    p.add_argument("path", type=Path, help="libro de cobranza (.xlsm)")
    p.add_argument("--fecha", type=parse_day, help="fecha de corte AAAA-MM-DD (hoy)")
    p.add_argument("--carpeta", type=Path,
                   help="carpeta de los archivos (la carpeta terceros junto al libro)")


@command("terceros", _args_terceros)
def cmd_terceros(args: argparse.Namespace) -> int:
    """One .xlsx per agency; exit 1 when no customer has a Tercero (nothing to do)."""
    from sync.cycle import localize
    from sync.handoff import NothingToHandOff, notices_sent, write_handoffs
    from sync.xlsx.reader import read_book
    from sync.xlsx.sent_reader import read_sent

    book = read_book(args.path)
    at = clock(datetime.combine(args.fecha, time(12)) if args.fecha else None)
    now = localize(at, book)
    sent = notices_sent(args.path, book, lambda: read_sent(args.path))
    try:
        written = write_handoffs(args.path, book, now, sent, args.carpeta)
    except NothingToHandOff as exc:
        print(exc)
        return 1
    for item in written:
        print(item.line())
def _args_ledger(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=["migrate"], help="migrate: copiar el registro SQLite "
                   "de la carpeta del libro a PostgreSQL (repetirlo no duplica nada)")
    p.add_argument("path", type=Path, help="libro de cobranza (.xlsm) cuyo registro se copia")
    p.add_argument("--to", required=True, metavar="URL", help="postgresql://usuario@servidor/base")
    p.add_argument("--ledger", type=Path, metavar="ARCHIVO",
                   help="archivo SQLite a copiar (predeterminado: el anotado para la carpeta)")


@command("ledger", _args_ledger)
def cmd_ledger(args: argparse.Namespace) -> int:
    from sync.ledger.migrate import copy_ledger
    from sync.ledger.store import ledger_path
    from sync.ledger.url import ledger_url

    url = ledger_url(args.to)
    assert url is not None  # --to is required
    source = args.ledger or ledger_path(args.path)
    written = copy_ledger(source, url)
    print(f"Registro {source} copiado a {redacted(url)}: "
          + ", ".join(f"{table} {n} filas nuevas" for table, n in written.items()) + ".")
    print("Para usarlo, defina COBRANZA_LEDGER_URL en cada equipo (o --ledger-url).")
    return 0


_SPANISH = (  # argparse's own English phrases (Python 3.11) -> Spanish
    ("usage: ", "uso: "), ("positional arguments:", "argumentos:"), ("options:", "opciones:"),
    ("show this help message and exit", "muestra esta ayuda y termina"),
    ("the following arguments are required: ", "faltan los argumentos: "),
    ("unrecognized arguments: ", "argumentos no reconocidos: "),
    ("invalid choice: ", "opción no válida: "), ("(choose from ", "(elija entre "),
    ("expected one argument", "se esperaba un valor"), ("argument ", "argumento "),
)


def _spanish(text: str) -> str:
    for english, spanish in _SPANISH:
        text = text.replace(english, spanish)
    return text


class SpanishParser(argparse.ArgumentParser):
    """argparse with its usage, help and error messages in Spanish."""

    def format_usage(self) -> str:
        return _spanish(super().format_usage())

    def format_help(self) -> str:
        return _spanish(super().format_help())

    def error(self, message: str):
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {_spanish(message)}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = SpanishParser(prog="cobranza", description="Cobranza XL")
    parser.add_argument("-v", "--verbose", action="store_true", help="mensajes detallados")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=SpanishParser)
    for name, (fn, configure) in COMMANDS.items():
        p = sub.add_parser(name)
        configure(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    _load_extra_commands(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    try:
        return args.func(args)
    except CobranzaError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def console() -> None:
    """The `cobranza` entry point: `main`, then leave without tearing down the heap.

    Freeing a cycle's objects one by one at interpreter exit takes ~0.3 s at 100 000
    invoices and grows with the book (so is freeing what a command built when it returns:
    `hold_until_exit`). When the command has finished, every file it wrote
    is closed and fsynced (`sync.xlsx.fileops`), the ledger is closed, so what is left is
    to run the exit handlers (logging's flush among them) and flush the standard streams.
    An exception, or a thread still running (the service's), leaves the ordinary way.
    """
    global _HELD
    _HELD = []
    code = main() or 0
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _load_extra_commands(argv: list[str]) -> None:
    """Subcommands that live in their own modules register themselves on import. Not for
    a command registered here already (`cobranza sync` among them): the service's module
    and its imports (schedule, logging.handlers) cost ~5 ms that such a command never uses."""
    import importlib

    words = [a for a in argv if not a.startswith("-")]
    if words and words[0] in COMMANDS:
        return

    for module in ("sync.service.loop",):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise


if __name__ == "__main__":
    from sync.cli import console  # the importable module holds the COMMANDS registry

    console()
