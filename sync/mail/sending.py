"""The deliver step: planned `Outgoing` messages -> emails delivered and recorded once.

The planner's ``omitido`` notices (its `Skipped` batch) are recorded as final first, in
bulk, unless the ledger already has them; the batch gets no DeliveryRow (callers count
it). Then for each message, in order: a planner ``error`` and ``pendiente`` (no valid
email, a template to fix, a contact rule) are only reported; ``listo`` is rendered
(a template that fails waits ``pendiente``, unrecorded, with an Errores row), built,
claimed in the ledger, archived (`sync.mail.archive`: the bytes about to be handed to
the transport, written aside before the claim and named right after it), sent and its
outcome recorded. `stop()` is
checked between messages, so a SIGTERM finishes the current message and stops. When the
transport is down, the rest of the batch waits as ``pendiente`` for the next cycle.
Through SMTP, the provider's limits pace the batch (`sync.mail.pacing`): what they hold
back, and the rest after a "slow down" reply, waits ``pendiente``, recorded so in the
ledger, for the next cycles.

A customer notice the server refuses for good, or one addressed to a non-ASCII local part
that the server cannot carry (no SMTPUTF8: ``pendiente``, never claimed), carries an
Errores row for the customer's Email cell (`DeliveryRow.input_error`); so does a message
with an address the mailer refuses although validation let it through (``pendiente``,
never claimed; a refused Remitente is an Errores row for Configuración).

A message whose archive file cannot be written (disk full, no permission) still goes:
the send matters more than its copy. It is recorded with no Archivo, and the run's
Errores sheet and the log say so once per cause.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from functools import cached_property
from pathlib import Path

import pandas as pd

from cobranza.book.addresses import needs_smtputf8
from cobranza.book.records import Book, InputError
from cobranza.layout.sends import PREVIEW_STATES, PreviewRow, SentRow, codes_text, invoices_text
from cobranza.layout.wording import reason_text
from cobranza.notices.customers import email_cell_error, refused_problem, smtputf8_problem
from cobranza.notices.fixable import render_error
from cobranza.notices.messages import Outgoing, Skipped, part_texts, with_parts
from cobranza.notices.payment import payment_link
from cobranza.notices.statement import BODY_INVOICES, Received, recent_payments
from cobranza.rendering.render import (
    Rendered,
    outgoing_collector,
    outgoing_name,
    render_message,
    render_outgoing,
)
from cobranza.vocabulary import Kind, NoticeCode, Reason, ReasonCode, SendState, reason
from sync.errors import write_problem
from sync.ledger.provider import ProviderLog
from sync.ledger.store import Ledger, message_id_for
from sync.mail.archive import Archive, archive_name
from sync.mail.pacing import STOPPED, Pacer
from sync.mail.transport import (
    OAuthFailed,
    PermanentSendError,
    SmtpTransport,
    ThrottledError,
    TransientSendError,
    Transport,
    TransportDown,
    UncertainSendError,
    build_message,
    parse_address,
    requires_smtputf8,
)
from sync.progress import track

SERVER_DOWN = "servidor SMTP no disponible"
TAKEN = reason(ReasonCode.TAKEN)
WENT = (SendState.SENT, SendState.UNCERTAIN)  # outcomes whose message keeps its archive
log = logging.getLogger("cobranza")


@dataclass(frozen=True)
class DeliveryRow:
    """One message's outcome in this run: an Envíos row, plus the body for Vista previa."""

    when: datetime
    kind: Kind
    code: str
    recipient: str
    to: str
    invoices: str
    subject: str
    state: SendState  # enviado | pendiente | omitido | error | incierto | listo (dry run)
    reason: Reason | None
    body: str = ""
    cc: str = ""
    name: str = ""  # customer name (avisos)
    logged: bool = False  # this outcome is in the ledger (Ledger.rows() shows it)
    input_error: InputError | None = None  # an Errores row found while sending

    @property
    def reason_text(self) -> str:
        return reason_text(self.reason)

    def sent_row(self) -> SentRow:
        """As Envíos shows it (a message this run did not record in the ledger)."""
        return SentRow(self.when, self.kind, self.code, self.recipient, self.to,
                       self.invoices, self.subject, self.state, self.reason_text,
                       self.reason.code if self.reason else "")

    def preview_row(self) -> PreviewRow:
        return PreviewRow(self.code, self.recipient, self.name, self.to, self.cc,
                          self.invoices, self.subject, self.body, self.state,
                          self.reason_text)


class CountedRow(DeliveryRow):
    """A dry run's `listo` message past what Vista previa shows (`_only_counted`): only
    counted (Vista previa stops before it, Envíos lists no `listo`), so its Envíos texts
    (Código, Facturas, Para, CC, Nombre) are computed on first read, if ever: ~4 000 of
    4 500 messages at 100 000 invoices, 15-20 us each to build whole."""

    def __init__(self, item: Outgoing, book: Book, now: datetime) -> None:
        # the frozen dataclass's own __init__ sets every field; these few are plain
        self.__dict__.update(when=now, kind=item.kind, recipient=item.recipient, subject="",
                             state=SendState.READY, reason=None, _item=item, _book=book)

    @cached_property
    def _parts(self) -> list[tuple[str, str]]:
        return part_texts(self._item)

    @cached_property
    def code(self) -> str:  # type: ignore[override]
        return codes_text(self._parts)

    @cached_property
    def invoices(self) -> str:  # type: ignore[override]
        return invoices_text(self._parts)

    @cached_property
    def to(self) -> str:  # type: ignore[override]
        return "; ".join(self._item.to)

    @cached_property
    def cc(self) -> str:  # type: ignore[override]
        return "; ".join(self._item.cc)

    @cached_property
    def name(self) -> str:  # type: ignore[override]
        return outgoing_name(self._book, self._item)


@dataclass
class _Run:
    book: Book
    invoices: pd.DataFrame
    ledger: Ledger
    transport: Transport | None
    now: datetime
    dry_run: bool
    archive: Archive | None = None  # where sent messages are kept (None: not kept)
    down: Reason | None = None  # why the rest of the batch waits: transport down, or
    # Remitente refused
    reported: set[InputError] = field(default_factory=set)  # Errores rows already given
    pacer: Pacer | None = None  # the provider's limits (SMTP only: not the outbox folder)
    held: Reason | None = None  # why the rest of the batch waits for the provider
    waits: list[tuple[Outgoing, Reason]] = field(default_factory=list)  # recorded at the end
    paid: dict[str, tuple[Received, ...]] | None = None  # recent payments, for statements
    shown: int = 0  # Vista previa rows so far (a dry run renders only what it shows)
    checked: set[str] = field(default_factory=set)  # templates rendered at least once
    failing: set[str] = field(default_factory=set)  # templates that failed to render


def deliver(
    outgoing: list[Outgoing],
    book: Book,
    invoices: pd.DataFrame,
    ledger: Ledger,
    transport: Transport | None,
    now: datetime,
    *,
    dry_run: bool = False,
    stop: Callable[[], bool] = lambda: False,
    skipped: Skipped | None = None,
    archive: Archive | None = None,
) -> list[DeliveryRow]:
    """Deliver the planned messages; one DeliveryRow per message handled (none for the
    `skipped` batch, which a real run records in the ledger). With `archive`, every
    message sent is kept there."""
    if transport is None and not dry_run:
        raise ValueError("a transport is required unless dry_run")
    run = _Run(book, invoices, ledger, transport, now, dry_run, archive)
    if not dry_run and isinstance(transport, SmtpTransport):
        config = book.config
        run.pacer = Pacer.of(ProviderLog(ledger), config.per_minute, config.per_day, now, stop)
    if not dry_run and skipped is not None:  # final: recorded before anything is sent
        ledger.note_skipped(skipped, now)
    rows = []
    try:
        for item in track(outgoing, "Enviando avisos"):
            if stop():
                break
            done = _one(run, item)
            run.shown += sum(row.state in PREVIEW_STATES for row in done)
            rows += done
        if run.waits:  # one transaction for what the provider's limits hold back
            ledger.hold(run.waits, now)
    finally:
        if transport is not None:
            transport.close()
    return rows


def _one(run: _Run, item: Outgoing) -> list[DeliveryRow]:
    # A planner error is not recorded: the notice still goes once the data is fixed
    # within its window.
    if item.state in (SendState.ERROR, SendState.PENDING):
        return [_row(run, item, item.state, item.reason)]
    if run.down:
        return [_row(run, item, SendState.PENDING, run.down)]
    if run.pacer is not None:
        held = run.held or run.pacer.admit(len(item.to) + len(item.cc))
        if held == STOPPED:
            return []  # stopped while waiting for the minute limit: planned again
        if held is not None:
            run.held = held  # the rest waits too: the batch goes in its order
            run.waits.append((item, held))
            return [_row(run, item, SendState.PENDING, held, logged=True)]
    if run.dry_run and _only_counted(run, item):
        return [CountedRow(item, run.book, run.now)]
    rows: list[DeliveryRow] = []
    template = item.template  # the template a whole-message failure is reported on
    if item.parts:
        message = render_message(item, run.book, run.now.date())
        rows = [_unrendered(run, with_parts(item, (part,)), error)
                for part, error in message.failed]
        rendered, template = message.rendered, message.frame or template
        if message.parts:
            item = with_parts(item, message.parts)  # what renders goes; the rest waits
    else:
        rendered = render_outgoing(item, run.book, run.now.date())
    if not rendered.ok:
        return rows or [_unrendered(run, item, rendered.error, rendered, template)]
    if run.dry_run:
        return [*rows, _row(run, item, SendState.READY, None, rendered)]
    return [*rows, _send(run, item, rendered)]


def _only_counted(run: _Run, item: Outgoing) -> bool:
    """A dry run renders a message only while Vista previa has room for it, or when it
    uses a template not rendered yet or one that failed (so a failing template gets its
    Errores row and holds back the same messages as a full run); the rest are counted as
    `listo` without a subject or body (`CountedRow`)."""
    templates = {item.template, *(part.template for part in item.parts)}
    if (run.shown < run.book.config.preview_rows or not templates <= run.checked
            or templates & run.failing):
        run.checked |= templates
        return False
    return True


def _unrendered(
    run: _Run, item: Outgoing, problem: str, rendered: Rendered | None = None,
    template: str = "",
) -> DeliveryRow:
    """A template that fails to render is the user's to fix, never final: the notice
    waits `pendiente` (not claimed, not recorded; planned again next cycle, so it goes
    once fixed while still meaningful), with one Errores row per template and failure.
    A combined email leaves such a part out and goes with the rest."""
    failed = reason(ReasonCode.TEMPLATE_FAILED, detail=problem)
    run.failing.add(template or item.template)
    error = render_error(run.book, template or item.template, problem)
    first = error not in run.reported
    run.reported.add(error)
    return _row(run, item, SendState.PENDING, failed, rendered,
                input_error=error if first else None, standing=True)


def _send(run: _Run, item: Outgoing, rendered: Rendered) -> DeliveryRow:
    message_id = message_id_for(item)
    try:
        msg = build_message(
            run.book.config.sender, item.to, item.cc, rendered.subject, rendered.body,
            message_id, run.now, _attachments(run, item),
            notices=tuple(part.code for part in item.parts), html=_html(run, item, rendered),
            reply_to=collector.email if (collector := outgoing_collector(run.book, item)) else "",
        )
        data = run.transport.serialize(msg)  # the one serialization: sent and archived
    except PermanentSendError as exc:  # an address the mailer refuses: never a final error
        return _unbuildable(run, item, reason(ReasonCode.BAD_ADDRESS, detail=str(exc)),
                            rendered)
    except Exception as exc:  # noqa: BLE001 - nothing went out; the batch goes on
        failed = reason(ReasonCode.NOT_BUILT, detail=f"{type(exc).__name__}: {exc}")
        return _row(run, item, SendState.PENDING, failed, rendered)
    if requires_smtputf8(msg) and (held := _hold_smtputf8(run, item, rendered)):
        return held
    claimed, kept, unkept = _claim(run, item, message_id, rendered.subject, data)
    if not claimed:
        return _row(run, item, SendState.SKIPPED, TAKEN, rendered)
    try:
        state, why = _transmit(run, msg, data)
    except BaseException:
        run.ledger.record(message_id, SendState.UNCERTAIN, reason(ReasonCode.CRASHED), run.now,
                          archive=kept)
        raise
    went = state in WENT
    run.ledger.record(message_id, state, why, run.now, archive=kept if went else "")
    if went and run.pacer is not None:
        run.pacer.went(len(item.to) + len(item.cc), message_id)
    if kept and not went:  # it did not go: no copy of a message never sent
        run.archive.discard(kept)
    refused = _unkept(run, unkept) if went and unkept else None
    if state == SendState.ERROR and item.kind == Kind.NOTICE:
        to = "; ".join(item.to)
        problem = refused_problem(item.code, to, reason_text(why))
        refused = _email_error(run, item, "Email", problem)
    return _row(run, item, state, why, rendered, logged=True, input_error=refused)


def _claim(
    run: _Run, item: Outgoing, message_id: str, subject: str, data: bytes,
) -> tuple[bool, str, InputError | None]:
    """Claim the message in the ledger with its copy (`data`): the copy is written whole
    aside before the claim and named right after it, before the message goes, so a crash
    from the claim on leaves it `incierto` with its copy. Returns (claimed, the copy's
    archive name or "", the disk's refusal as an Errores row)."""
    name = archive_name(run.now, item.recipient, message_id) if run.archive else ""
    staged, unkept = _stage(run, name, data) if name else (None, None)
    try:
        claimed = run.ledger.claim(item, message_id, run.now, subject,
                                   archive=name if staged else "")
    except BaseException:
        _drop(staged)
        raise
    if not claimed:  # another process sends it, with its own copy
        _drop(staged)
        return False, "", None
    if staged is None:
        return True, "", unkept
    return (True, *_place(run, staged, name))


def _stage(run: _Run, name: str, data: bytes) -> tuple[Path | None, InputError | None]:
    """Write a message's copy aside: (the temp file, or None when the disk refused; the
    refusal as an Errores row). A message the archive refused still goes."""
    try:
        return run.archive.stage(name, data), None
    except OSError as exc:
        return None, _archive_error(name, exc)


def _place(run: _Run, staged: Path, name: str) -> tuple[str, InputError | None]:
    """Name a claimed message's copy: (its archive name, or "" when the disk refused)."""
    try:
        run.archive.place(staged, name)
    except OSError as exc:
        return "", _archive_error(name, exc)
    return name, None


def _drop(staged: Path | None) -> None:
    """Remove the copy of a message this run does not send."""
    if staged is not None:
        staged.unlink(missing_ok=True)


def _archive_error(name: str, exc: OSError) -> InputError:
    return InputError(
        "Envíos", None, "Archivo", name.rpartition("/")[0],
        f"no se pudo guardar ahí la copia de los mensajes enviados ({write_problem(exc)}); "
        "se enviaron igual y Envíos los muestra sin Archivo. Libere espacio en el disco o "
        "dé permiso de escritura en esa carpeta para que los próximos se archiven.")


def _unkept(run: _Run, error: InputError) -> InputError | None:
    """A sent message went without its copy: one Errores row and one log line per run
    and cause (a full disk refuses every message of the batch)."""
    if error in run.reported:
        return None
    run.reported.add(error)
    log.warning("%s", error.message())
    return error


def _unbuildable(run: _Run, item: Outgoing, why: Reason, rendered: Rendered) -> DeliveryRow:
    """The mailer refused an address that validation let through: the message waits
    (`pendiente`: not claimed, not recorded, planned again next cycle) with an Errores row
    on the cell to fix. A refused Remitente holds the rest of the batch the same way."""
    sender = run.book.config.sender
    if not _mailable(sender):
        run.down = why  # every message of the batch has this sender
        problem = ("no es válido para Remitente: el correo no se puede enviar con ese "
                   "remitente (use Nombre <cobranza@suempresa.com>; si el nombre lleva comas, "
                   "escríbalo entre comillas); los avisos quedan pendientes hasta corregirlo.")
        error = InputError("Configuración", None, "Valor", sender, problem)
        return _row(run, item, SendState.PENDING, why, rendered, input_error=error)
    for column, addresses in (("Email", item.to), ("Email CC", item.cc)):
        refused = next((a for a in addresses if not _mailable(a)), None)
        if refused is not None:
            shown = " ".join(refused.split())  # CR/LF shown as spaces
            problem = (f"el correo no se puede enviar a {shown}; el aviso {item.code} queda "
                       "pendiente hasta que corrija la dirección (use nombre@dominio.com)")
            error = _email_error(run, item, column, problem)
            return _row(run, item, SendState.PENDING, why, rendered, input_error=error)
    return _row(run, item, SendState.PENDING, why, rendered)


def _mailable(address: str) -> bool:
    """The mailer accepts `address` for a header."""
    try:
        parse_address(address)
    except PermanentSendError:
        return False
    return True


def _hold_smtputf8(run: _Run, item: Outgoing, rendered: Rendered) -> DeliveryRow | None:
    """A message to a non-ASCII local part waits, unclaimed, unless the server offers
    SMTPUTF8; the customer's Email (or Email CC) cell gets an Errores row."""
    try:
        if run.transport.supports_smtputf8():
            return None
    except TransportDown as exc:
        return _row(run, item, SendState.PENDING, _down(run, exc), rendered)
    to = [a for a in item.to if needs_smtputf8(a)]
    address = (to or [a for a in item.cc if needs_smtputf8(a)] or ["?"])[0]
    problem = smtputf8_problem(item.code, address)
    error = _email_error(run, item, "Email" if to else "Email CC", problem)
    held = reason(ReasonCode.NO_SMTPUTF8, address=address)
    return _row(run, item, SendState.PENDING, held, rendered, input_error=error)


def _email_error(run: _Run, item: Outgoing, column: str, problem: str) -> InputError | None:
    """An Errores row on a customer's Email cell (customer notices only)."""
    if item.kind != Kind.NOTICE:
        return None
    return email_cell_error(run.book.customers, item.recipient, column, problem)


def _down(run: _Run, exc: TransportDown) -> Reason:
    """The transport cannot be used: the rest of the batch waits with this reason."""
    if isinstance(exc, OAuthFailed):
        run.down = reason(ReasonCode.OAUTH_FAILED, detail=str(exc))
        return run.down
    text = str(exc) if SERVER_DOWN in str(exc) else f"{SERVER_DOWN}: {exc}"
    run.down = reason(ReasonCode.SMTP_DOWN, detail=text)
    return run.down


def _transmit(run: _Run, msg: EmailMessage, data: bytes) -> tuple[SendState, Reason | None]:
    """Send one claimed message as `data`; (ledger state, reason)."""
    try:
        note = run.transport.send(msg, data)
    except TransportDown as exc:
        return SendState.PENDING, _down(run, exc)
    except ThrottledError as exc:
        if run.pacer is None:
            return SendState.PENDING, reason(ReasonCode.SMTP_TEMPORARY, detail=str(exc))
        run.held = run.pacer.throttled(str(exc))  # the rest of the batch waits
        return SendState.PENDING, run.held
    except TransientSendError as exc:
        return SendState.PENDING, reason(ReasonCode.SMTP_TEMPORARY, detail=str(exc))
    except PermanentSendError as exc:
        return SendState.ERROR, reason(ReasonCode.SMTP_REFUSED, detail=str(exc))
    except UncertainSendError as exc:
        return SendState.UNCERTAIN, reason(ReasonCode.INTERRUPTED, detail=str(exc))
    return SendState.SENT, reason(ReasonCode.PARTLY_REFUSED, detail=note) if note else None


def _html(run: _Run, item: Outgoing, rendered: Rendered) -> str:
    """The HTML part of a customer email: its text, its invoices as a table and the
    payment link. Digests are internal mail: plain text only."""
    if item.kind != Kind.NOTICE:
        return ""
    from cobranza.rendering.html import email_html  # only for a real send: not a dry run's

    config = run.book.config
    link = payment_link(config.payment_link, item.recipient, item.lines)
    return email_html(rendered, item.lines, link, config.company)


def _attachments(run: _Run, item: Outgoing) -> list[tuple[str, bytes]]:
    """The statement (PDF and .xlsx) goes with a message carrying the monthly statement
    (the invoices its body lists) and with one about more invoices than a body lists
    (`BODY_INVOICES`: the body names the rest by count; the statement has every invoice
    the customer still owes)."""
    monthly = next((p for p in item.parts if p.code == NoticeCode.STATEMENT), None)
    if monthly is None and len(item.lines) <= BODY_INVOICES:
        return []
    from sync.statement import customer_statement, statement_files  # a real send only

    lines = monthly.lines if monthly is not None else None
    today = run.now.date()
    if run.paid is None:  # once per run: a statement day builds one per customer
        run.paid = recent_payments(run.book.payments, run.book.invoices, today)
    statement = customer_statement(run.book, run.invoices, item.recipient, today, lines,
                                   run.paid)
    return statement_files(statement)


def _row(
    run: _Run, item: Outgoing, state: SendState, why: Reason | None,
    rendered: Rendered | None = None, logged: bool = False,
    input_error: InputError | None = None, standing: bool = False,
) -> DeliveryRow:
    parts = part_texts(item)  # Envíos shows each code once: one entry per part will do
    name = outgoing_name(run.book, item)
    standing = standing or (input_error is not None and not logged)
    return DeliveryRow(
        when=_shown_time(run, item, state, standing=standing),
        kind=item.kind, code=codes_text(parts),
        recipient=item.recipient,
        to="; ".join(item.to), invoices=invoices_text(parts),
        subject=rendered.subject if rendered else "", state=state, reason=why,
        body=rendered.body if rendered else "", cc="; ".join(item.cc), name=name,
        logged=logged, input_error=input_error,
    )


def _shown_time(run: _Run, item: Outgoing, state: SendState,
                standing: bool = False) -> datetime:
    """A held-back notice shows when the rules next allow it, and a planner error (or
    something else the user must fix: an address the server cannot take, a template that
    fails: `standing`) the day, not the cycle's clock: Envíos
    (and the workbook) stay unchanged from one cycle to the next while nothing happens."""
    later = item.context.get("next_allowed") if state == SendState.PENDING else None
    if isinstance(later, datetime):
        return later
    if standing or (state in (SendState.PENDING, SendState.ERROR) and item.state == state):
        return run.now.replace(hour=0, minute=0, second=0, microsecond=0)
    return run.now


def envios_rows(ledger: Ledger, delivered: list[DeliveryRow]) -> list[SentRow]:
    """Rows for the Envíos sheet: the whole ledger plus this run's unrecorded pendientes."""
    waiting = [r.sent_row() for r in delivered
               if r.state in (SendState.PENDING, SendState.ERROR) and not r.logged]
    return ledger.rows() + waiting
