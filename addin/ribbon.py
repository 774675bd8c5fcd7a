"""Handlers of the Cobranza ribbon tab, called by addin/vba/Cinta.bas through RunPython.

Each button is one function `handler(io=None, now=None)`. Called from Excel with no
arguments it works on the calling workbook (`ExcelBook(xw.Book.caller())`) at the
clock's time — the only clock read; tests pass a `FileBook` and a fixed instant. The
rules, planner, ledger and transport are the sync's own (`sync.cycle`), so a button and
the service can never disagree nor send the same notice twice.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from addin.book import BookIO, ExcelBook
from cobranza.plural import agree, count
from cobranza.vocabulary import Kind, SendState
from sync.errors import CobranzaError, WorkbookBusy, WorkbookOpen, write_failure

if TYPE_CHECKING:  # for the annotations only: the handlers import these where they use them
    from cobranza.book.records import Book
    from cobranza.notices.messages import Outgoing
    from sync.cycle import Computed, Processed
    from sync.mail.transport import Transport

log = logging.getLogger("cobranza.ribbon")

T = TypeVar("T")


def _edge(handler: Callable[..., T]) -> Callable[..., T | None]:
    """Fill in the live workbook and the clock; show failures as one Spanish sentence."""

    @functools.wraps(handler)
    def run(io: BookIO | None = None, now: datetime | None = None, **kwargs: Any) -> T | None:
        if io is None:
            import xlwings as xw

            io = ExcelBook(xw.Book.caller())
        now = now or datetime.now(UTC)
        try:
            return handler(io, now, **kwargs)
        except CobranzaError as exc:
            io.show(str(exc))
        except Exception:
            log.exception("ribbon handler %s failed", handler.__name__)
            io.show("Ocurrió un error inesperado en Cobranza; avise a soporte "
                    "(el detalle quedó en el registro).")
        return None

    return run


def _computed(io: BookIO, now: datetime) -> Computed:
    from sync.cycle import compute, localize
    from sync.ledger.identity import read_inbound

    book = io.read()
    return compute(book, localize(now, book), read_inbound(io.path, book))


def _run(io: BookIO, now: datetime, *, dry_run: bool, transport: Transport | None = None,
         confirm: Callable[[list[Outgoing]], bool] | None = None
         ) -> tuple[Processed | None, dict[str, str]]:
    """The sync's own process() on the live book: same planner, ledger and transport.
    Returns the Processed result and the Configuración parameters to write with it (the
    workbook id, when the book does not carry it yet)."""
    from sync.cycle import localize, process
    from sync.ledger.identity import book_ledger, missing_id
    from sync.mail.archive import Archive
    from sync.mail.transport import transport_from_env

    book = io.read()
    at = localize(now, book)
    if not dry_run and transport is None:
        transport = transport_from_env(io.path)
    archive = None if dry_run else Archive.of(io.path)
    with book_ledger(io.path, book, at, sent=io.read_sent) as ledger:
        done = process(book, at, ledger, transport, dry_run=dry_run, confirm=confirm,
                       archive=archive)
        parameters = missing_id(book, ledger)
    if done is None and transport is not None:
        transport.close()
    return done, parameters


@_edge
def vista_previa(io: BookIO, now: datetime) -> int:
    """Vista previa: what would be sent now, without sending; returns how many messages
    it lists (the sheet shows the first `Filas en Vista previa` of them)."""
    from cobranza.layout.sends import PREVIEW_STATES

    done, parameters = _run(io, now, dry_run=True)
    io.write([s for s in done.sheets if s.name == "Vista previa"], done.computed.now, parameters)
    return sum(1 for d in done.deliveries if d.state in PREVIEW_STATES)


def _ask(io: BookIO) -> Callable[[list[Outgoing]], bool]:
    """Confirm with the count of messages that will go out; nothing due = nothing asked.
    (`process` passes the messages to deliver: skipped notices are not among them.)"""

    def confirm(outgoing: list[Outgoing]) -> bool:
        ready = [o for o in outgoing if o.state == SendState.READY]
        if not ready:
            io.show("No hay recordatorios por enviar en este momento.")
            return False
        return io.confirm(confirm_text(ready))

    return confirm


def confirm_text(ready: list[Outgoing]) -> str:
    """ "Se enviarán 3 correos a clientes y 1 resumen interno. ¿Desea enviarlos ahora?"
    (one email per customer: it may carry several notices)."""
    customers = sum(1 for o in ready if o.kind == Kind.NOTICE)
    digests = len(ready) - customers
    parts = [count(customers, "correo a un cliente", "correos a clientes")] if customers else []
    parts += [count(digests, "resumen interno", "resúmenes internos")] if digests else []
    one = len(ready) == 1
    return (f"{agree(len(ready), 'Se enviará', 'Se enviarán')} {' y '.join(parts)}. "
            f"¿Desea {'enviarlo' if one else 'enviarlos'} ahora?")


@_edge
def enviar_recordatorios(io: BookIO, now: datetime, *,
                         transport: Transport | None = None) -> dict[str, int]:
    """Send what is due now after the user confirms the count; returns counts by state.
    The cycle is recorded for `cobranza status` like the sync's and the service's."""
    from sync.cycle import CycleResult, deferral
    from sync.service import status

    done, parameters = _run(io, now, dry_run=False, transport=transport, confirm=_ask(io))
    if done is None:
        return {}
    result = CycleResult(io.path, done.computed.now, done.computed, done.deliveries,
                         written=False, skipped=done.skipped, waiting=done.waiting)
    counts = result.counts()
    sent = f"Enviados: {counts.get('enviado', 0)}."
    try:
        io.write(done.sheets, done.computed.now, parameters)
        result.written = True
    except (CobranzaError, OSError) as exc:  # sent and recorded: only the sheets wait
        why = write_failure(io.path, exc) if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, WorkbookOpen | WorkbookBusy):
            result.deferred, result.deferred_code = why, deferral(exc)
        else:
            result.write_error = why
    finally:
        _forget_udf_cache()
    status.record_cycle(io.path, result, at=result.now, source=status.RIBBON)
    if result.written:
        io.show(f"{sent} Vea el detalle en la hoja Envíos.")
    else:
        io.show(f"{sent} Las hojas de salida no se actualizaron: "
                f"{result.deferred or result.write_error}")
    return counts


@_edge
def registrar_gestion(io: BookIO, now: datetime) -> list[int]:
    """A prefilled Gestiones row per selected Facturas row; selects the first Resultado."""
    from sync.cycle import localize

    selected = io.selected_rows("Facturas")
    if not selected:
        io.show("Seleccione en la hoja Facturas las filas de las facturas gestionadas.")
        return []
    book = io.read()
    today = localize(now, book).date()
    inv = book.invoices.set_index("row")
    collectors = book.customers.drop_duplicates("customer").set_index("customer")["collector"]
    rows = [
        {"Fecha": today, "Cobrador": collectors.get(inv.at[r, "customer"], ""),
         "Cliente": inv.at[r, "customer"], "Factura": inv.at[r, "invoice"]}
        for r in selected if r in inv.index
    ]
    if not rows:
        io.show("Las filas seleccionadas no tienen facturas válidas (vea la hoja Errores).")
        return []
    added = io.append_rows("Gestiones", rows)
    io.select_cell("Gestiones", added[0], "Resultado")
    _forget_udf_cache()
    return added


@_edge
def actualizar_alertas(io: BookIO, now: datetime) -> int:
    """Rewrite Alertas, Tablero, Agenda, Cartera, Riesgo and Errores; returns the number of
    alerts. Cartera's Próximo aviso reads the ledger as PROXIMO_AVISO does (read-only)."""
    from sync.cycle import report_sheets
    from sync.ledger.identity import sent_keys

    computed = _computed(io, now)
    io.write(report_sheets(computed, sent_keys(io.path, computed.book)), computed.now)
    _forget_udf_cache()
    return len(computed.alerts)


@_edge
def estado_de_cuenta(io: BookIO, now: datetime) -> list[Path] | None:
    """The selected customer's statement beside the workbook, as a PDF and an .xlsx (what
    the email attaches); opens the .xlsx in Excel; returns both paths."""
    from sync.statement import customer_statement, statement_files

    computed = _computed(io, now)
    book = computed.book
    customer = _selected_customer(io, book)
    if customer is None:
        io.show("Seleccione un cliente en la hoja Clientes (o una de sus facturas en Facturas).")
        return None
    statement = customer_statement(book, computed.invoices, customer, computed.now.date())
    paths = []
    for name, data in statement_files(statement):
        paths.append(io.path.parent / name)
        paths[-1].write_bytes(data)
    io.open_file(paths[-1])
    return paths


@_edge
def entregar_a_terceros(io: BookIO, now: datetime) -> list[Path]:
    """One .xlsx per agency in `terceros` beside the workbook, what `cobranza terceros`
    writes (`sync.handoff`); shows one line per file; returns the paths."""
    from sync.cycle import localize
    from sync.handoff import NothingToHandOff, notices_sent, write_handoffs

    book = io.read()
    sent = notices_sent(io.path, book, io.read_sent)
    try:
        written = write_handoffs(io.path, book, localize(now, book), sent)
    except NothingToHandOff as exc:
        io.show(str(exc))
        return []
    io.show(f"{agree(len(written), 'Se creó', 'Se crearon')} "
            f"{count(len(written), 'archivo', 'archivos')} en {written[0].path.parent}:\n"
            + "\n".join(w.line() for w in written))
    return [w.path for w in written]


def _selected_customer(io: BookIO, book: Book) -> str | None:
    for sheet, frame in (("Clientes", book.customers), ("Facturas", book.invoices)):
        rows = io.selected_rows(sheet)
        match = frame[frame["row"].isin(rows)]
        if len(match):
            return str(match["customer"].iloc[0])
    return None


@_edge
def validar(io: BookIO, now: datetime) -> int:
    """Write to Errores what the sync would: every bad input, and the data that holds
    notices back (a customer without a valid email, a template to fix); returns how
    many rows. The sync's own process(), as a dry run: nothing is sent or recorded."""
    done, parameters = _run(io, now, dry_run=True)
    io.write([s for s in done.sheets if s.name == "Errores"], done.computed.now, parameters)
    n = len(done.computed.errors)
    io.show("No se encontraron errores en los datos." if n == 0 else
            f"{agree(n, 'Se encontró', 'Se encontraron')} "
            f"{count(n, 'dato con problemas', 'datos con problemas')}; vea la hoja Errores.")
    return n


def _forget_udf_cache() -> None:
    from addin import udfs

    udfs.clear_cache()
