"""One sync cycle: read -> validate -> compute -> plan -> send -> write outputs.

`compute` is pure and shared with the ribbon handlers; `run_cycle` is the edge that
touches the file, the ledger and the transport.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cobranza.book.config import WORKBOOK_ID
from cobranza.book.records import Book, InputError
from cobranza.book.validate import Validation
from cobranza.inbound.records import Inbound
from cobranza.layout import reports, sends
from cobranza.layout.portfolio import CARTERA_SOURCES, cartera_sheet
from cobranza.layout.replies import respuestas_sheet
from cobranza.layout.risk import risk_sheet
from cobranza.layout.sends import SentRow
from cobranza.layout.sheets import Sheet
from cobranza.notices.digests import plan_digests
from cobranza.notices.messages import Outgoing, Skipped
from cobranza.notices.planner import History, plan_notices
from cobranza.notices.stages import CHAINS
from cobranza.notices.upcoming import next_notice_text
from cobranza.rendering.render import precompile
from cobranza.rules.agenda import compute_agenda
from cobranza.rules.alerts import AlertContext, compute_alerts
from cobranza.rules.invoices import compute_invoices
from cobranza.rules.kpis import Kpis, compute_kpis
from cobranza.rules.portfolio import portfolio_mask
from cobranza.vocabulary import ReasonCode, SendState
from sync import holiday_cache
from sync.errors import WorkbookBusy, WorkbookError, WorkbookOpen, write_failure
from sync.ledger.identity import book_ledger, missing_id
from sync.ledger.store import Ledger
from sync.mail.archive import Archive, prune
from sync.mail.sending import DeliveryRow, deliver, envios_rows
from sync.mail.transport import Transport, transport_from_env
from sync.memory import gc_paused
from sync.progress import progress
from sync.xlsx.reader import read_book
from sync.xlsx.writer import check_writable, write_outputs

if TYPE_CHECKING:
    from sync.mail.inbox import InboxRead


@dataclass
class Computed:
    """Everything the rules derive from one Book at one instant (no I/O)."""

    book: Book
    now: datetime
    invoices: pd.DataFrame
    alerts: pd.DataFrame
    agenda: pd.DataFrame
    kpis: Kpis
    errors: list[InputError] = field(default_factory=list)
    inbound: Inbound = field(default_factory=Inbound)  # bounces and replies read back
    risk: pd.DataFrame = field(default_factory=pd.DataFrame)  # compute_risk's frame


def localize(at: datetime | None, book: Book) -> datetime:
    """The cycle's instant in the company zone: naive --as-of values are local times."""
    zone = book.config.zone
    if at is None:
        raise ValueError("the caller must pass the clock (time is an argument)")
    return at.astimezone(zone) if at.tzinfo else at.replace(tzinfo=zone)


def compute(book: Book, now: datetime, inbound: Inbound | None = None) -> Computed:
    """Pure: the rules for every invoice, the alerts (Correo rebotado from `inbound`'s
    bounces), the agenda and the KPIs."""
    as_of = now.date()
    inbound = inbound or Inbound()
    invoices = compute_invoices(book, as_of)
    # shared by the alerts and the agenda
    rollups = AlertContext(book, invoices, as_of, inbound)
    alerts = compute_alerts(book, invoices, as_of, rollups)
    agenda = compute_agenda(book, invoices, as_of, rollups)
    kpis = compute_kpis(book, invoices, as_of, rollups)
    return Computed(book, now, invoices, alerts, agenda, kpis, list(book.errors), inbound,
                    rollups.risk)


@dataclass
class Plan:
    """What is due at one instant: the messages to deliver (the internal digests, a handful
    the team works from, then the customer notices most severe first),
    the skipped (`omitido`) customer notices as one batch, and Errores rows."""

    messages: list[Outgoing]
    skipped: Skipped
    errors: list[InputError]


def plan(computed: Computed, history: History) -> Plan:
    """Customer notices and internal digests due at `computed.now`."""
    notices, skipped, errors = plan_notices(
        computed.book, computed.invoices, computed.now, history
    )
    digests = plan_digests(computed.book, computed.alerts, computed.now, history,
                           computed.inbound.replies)
    return Plan(digests + notices, skipped, errors)


# The sheets `process` lays out, in its order: the write-back is checked for them first.
OUTPUT_SHEETS = ("Alertas", "Tablero", "Agenda", "Cartera", "Riesgo", "Errores", "Envíos",
                 "Vista previa", "Respuestas")


def report_sheets(computed: Computed, sent: frozenset[str] = frozenset()) -> list[Sheet]:
    """Alertas, Tablero, Agenda, Cartera, Riesgo and Errores for one computation (`sent`: the
    ledger keys held as final, for Cartera's Próximo aviso)."""
    as_of = computed.now
    return [
        reports.alerts_sheet(computed.alerts, as_of, computed.book.customers),
        reports.dashboard_sheet(computed.kpis, as_of),
        reports.agenda_sheet(computed.agenda, as_of),
        portfolio_sheet(computed, sent),
        risk_sheet(computed.risk, as_of),
        reports.errors_sheet(computed.errors, as_of),
    ]


# The invoice columns Cartera shows and PROXIMO_AVISO's core reads (Estatus, Cliente, Saldo
# and its chains' anchor dates): the listed rows are copied for these alone, not for all
# of compute_invoices' columns (~0.1 s of CPU at 1 000 000 invoices)
PORTFOLIO_COLUMNS = list(dict.fromkeys([*CARTERA_SOURCES, "status", "customer", "balance",
                                        *(rule.anchor for rule in CHAINS if rule.anchor)]))


def portfolio_sheet(computed: Computed, sent: frozenset[str] = frozenset()) -> Sheet:
    """Cartera: PROXIMO_AVISO's own core over the computed invoices (one implementation)."""
    book, invoices, day = computed.book, computed.invoices, computed.now.date()
    listed = portfolio_mask(book, invoices, day)
    shown = invoices[PORTFOLIO_COLUMNS][listed].set_index("invoice", drop=False)
    # the listed invoices' customers rows as the validation matched them: no Cliente hash
    rows = book.customer_rows[listed]
    notice = next_notice_text(book, shown, day, sent, rows)
    return cartera_sheet(shown, notice, computed.now, book.customers, rows)


@dataclass
class CycleResult:
    path: Path
    now: datetime
    computed: Computed
    deliveries: list[DeliveryRow]
    written: bool
    deferred: str = ""  # Spanish reason when outputs were not written
    deferred_code: str = ""  # its ReasonCode (WORKBOOK_OPEN, WORKBOOK_CHANGED)
    write_error: str = ""  # Spanish; outputs not written because the disk refused
    changed: tuple[str, ...] = ()  # output sheets whose content changed (written = current)
    skipped: int = 0  # omitido notices recorded in bulk (not in deliveries)
    waiting: list[SentRow] = field(default_factory=list)  # ledger pendientes, not due yet
    inbox: InboxRead | None = None  # what the IMAP inbox gave this cycle (None: not read)
    inbox_error: str = ""  # Spanish; the inbox could not be read (sending went on)
    sheets: list[Sheet] = field(default_factory=list)  # the output sheets laid out

    def counts(self) -> dict[str, int]:
        return count_states(self.deliveries, self.skipped)


def count_states(deliveries: list[DeliveryRow], skipped: int = 0) -> dict[str, int]:
    """Messages per delivery state, the skipped batch counted as omitido."""
    out: dict[str, int] = {}
    for row in deliveries:
        out[row.state] = out.get(row.state, 0) + 1
    if skipped:
        out[SendState.SKIPPED] = out.get(SendState.SKIPPED, 0) + skipped
    return out


@dataclass
class Processed:
    """One processed Book: what was computed and delivered, and the output sheets."""

    computed: Computed
    deliveries: list[DeliveryRow]
    sheets: list[Sheet]
    skipped: int = 0  # omitido notices recorded in bulk (not in deliveries)
    waiting: list[SentRow] = field(default_factory=list)  # ledger pendientes before now


def process(
    book: Book,
    now: datetime,
    ledger: Ledger,
    transport: Transport | None,
    *,
    dry_run: bool = False,
    stop: Callable[[], bool] = lambda: False,
    confirm: Callable[[list[Outgoing]], bool] | None = None,
    archive: Archive | None = None,
    inbound: Inbound | None = None,
    notes: tuple[InputError, ...] = (),
) -> Processed | None:
    """Compute, plan, deliver and lay out every output sheet for one Book.

    Shared by the sync and the ribbon handlers, so both use the same planner, ledger and
    transport. The caller owns reading and writing the book. `confirm` sees the messages
    before anything is sent; when it says no, nothing is sent and None is returned.
    `archive`: where every message sent is kept (the workbook's `Archive.of`).
    `inbound`: the bounces and replies read back by IMAP so far (None: the ledger's,
    `Ledger.inbound`, which every caller shares): Alertas' Correo rebotado rows, the
    Respuestas sheet and the collectors' digest lines;
    `notes`: Errores rows found before planning (an inbox that could not be read).
    """
    with gc_paused():  # bulk frames and objects with no cycles: see sync.memory
        computed = compute(book, now, ledger.inbound() if inbound is None else inbound)
        planned = plan(computed, ledger.history(now))
    computed.errors.extend(planned.errors)
    computed.errors.extend(notes)
    if confirm is not None and not confirm(planned.messages):
        return None
    with gc_paused():
        deliveries = deliver(
            planned.messages, book, computed.invoices, ledger, transport, now,
            dry_run=dry_run, stop=stop, skipped=planned.skipped, archive=archive,
        )
        skipped = len(planned.skipped)
        del planned  # freed before the sheets are laid out, which reuse its memory
        # Errores found while sending (a refused or untransmittable address) belong to
        # this cycle's Errores sheet
        computed.errors.extend(d.input_error for d in deliveries if d.input_error)
        # Próximo aviso as PROXIMO_AVISO shows it after this cycle's sends
        sheets = report_sheets(computed, ledger.settled())
        sheets.append(sends.envios_sheet(envios_rows(ledger, deliveries), now))
        sheets.append(preview_sheet(deliveries, now, book.config.preview_rows))
        sheets.append(respuestas_sheet(book, computed.inbound.replies, now))
    return Processed(computed, deliveries, sheets, skipped, ledger.waiting(now))


def preview_sheet(deliveries: list[DeliveryRow], now: datetime, limit: int) -> Sheet:
    """Vista previa of this cycle's messages: a row built for each one it shows (the
    first `limit` in PREVIEW_STATES), the rest only counted."""
    listed = [d for d in deliveries if d.state in sends.PREVIEW_STATES]
    return sends.preview_sheet([d.preview_row() for d in listed[:limit]], now, limit,
                               listed=len(listed))


def run_cycle(
    path: Path,
    at: datetime,
    *,
    dry_run: bool = False,
    ledger_path: Path | None = None,
    ledger_url: str | None = None,
    transport: Transport | None = None,
    stop: Callable[[], bool] = lambda: False,
    write: bool = True,
) -> CycleResult:
    """Run one cycle on `path` at instant `at` (aware, or naive = company local time).
    A real run archives every message it sends and prunes the archive to the workbook's
    Meses de archivo."""
    path = Path(path)
    holiday_cache.install()
    with progress(3, f"Sincronizando {path.name}") as bar:
        book = read_book(path, meanwhile=partial(_prepare, path, write))
        bar.advance()
        now = localize(at, book)
        if transport is None and not dry_run:
            transport = transport_from_env(path)
        archive = None if dry_run else Archive.of(path)
        with book_ledger(path, book, now, ledger_path, url=ledger_url) as ledger:
            # before planning: this cycle's Envíos and alerts already see what bounced
            inbox, inbox_error = read_inbox(ledger, now, book) if not dry_run else (None, "")
            notes = (inbox_note(inbox_error),) if inbox_error else ()
            done = process(book, now, ledger, transport, dry_run=dry_run, stop=stop,
                           archive=archive, notes=notes)
            parameters = missing_id(book, ledger)
        assert done is not None  # no confirm step here
        bar.advance()
        result = CycleResult(path, now, done.computed, done.deliveries, written=False,
                             skipped=done.skipped, waiting=done.waiting, inbox=inbox,
                             inbox_error=inbox_error, sheets=done.sheets)
        if write:
            _write(result, result.sheets, parameters)
        if archive is not None:  # after the write: upkeep never holds back the sheets
            prune(archive, now.date(), book.config.archive_months)
        bar.advance()
    return result


def _prepare(path: Path, write: bool, validation: Validation) -> None:
    """What a cycle can do before Facturas is validated (`read_book`'s `meanwhile`): stop
    before sending when the package could not be written back, and compile the
    Plantillas texts the messages will render."""
    if write:
        workbook_id = validation.config.workbook_id
        check_writable(path, OUTPUT_SHEETS, () if workbook_id else (WORKBOOK_ID,))
    precompile(validation.texts("templates", "subject", "body"))


def read_inbox(ledger: Ledger, now: datetime, book: Book) -> tuple[InboxRead | None, str]:
    """The IMAP inbox's new bounces and replies, into the ledger (`check_inbox`). Imported
    here: a dry run reads no inbox, and skips importing imaplib and the reply matcher."""
    from cobranza.inbound.replies import reply_matcher
    from sync.mail.inbox import check_inbox

    return check_inbox(ledger, now,
                       reply_from=reply_matcher(ledger.sent_index, book.customers))


def inbox_note(problem: str) -> InputError:
    """The Errores row of an inbox that could not be read this cycle."""
    return InputError("Correo entrante", None, "", "",
                      f"No se leyeron los rebotes ni las respuestas: {problem}. Los envíos "
                      "siguieron; se reintenta en el próximo ciclo.")


def _write(result: CycleResult, sheets: list[Sheet], parameters: dict[str, str]) -> None:
    """Write the output sheets (and the workbook id it lacks), or say in Spanish why they
    were not written."""
    try:
        with gc_paused():
            result.changed = write_outputs(result.path, sheets, now=result.now,
                                           parameters=parameters).changed
        result.written = True
    except (WorkbookOpen, WorkbookBusy) as exc:
        result.deferred, result.deferred_code = str(exc), deferral(exc)
    except WorkbookError as exc:  # damaged since the check: what was sent stays recorded
        result.write_error = str(exc)
    except OSError as exc:
        result.write_error = write_failure(result.path, exc)


def deferral(exc: WorkbookOpen | WorkbookBusy) -> ReasonCode:
    """Why the output sheets wait: the workbook is open, or it changed while writing."""
    if isinstance(exc, WorkbookOpen):
        return ReasonCode.WORKBOOK_OPEN
    return ReasonCode.WORKBOOK_CHANGED
