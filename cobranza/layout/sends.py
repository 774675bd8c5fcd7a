"""Output sheet layouts of messages: Envíos (the send history) and Vista previa.

Envíos rows are `SentRow`s, from the ledger (`sync.ledger.store.Ledger.rows`) and from
this run's messages that the ledger does not hold (`sync.mail.sending.envios_rows`);
Vista previa rows are `PreviewRow`s (`sync.mail.sending.DeliveryRow.preview_row`). Same
look as `cobranza.layout.reports`: title and Fecha de corte on top, the table at row 4.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from cobranza.layout.reports import sheet_header
from cobranza.layout.sheets import Cell, Sheet, Table
from cobranza.plural import count
from cobranza.vocabulary import SHOWN_STATES, Kind, SendState

TABLE_ROW = 4
# Envíos headers and the row fields they show (also how a copy's Envíos is read back).
ENVIOS_COLUMNS = {
    "Fecha": "when", "Tipo": "kind", "Código": "code", "Destinatario": "recipient",
    "Para": "to", "Facturas": "invoices", "Asunto": "subject", "Estado": "state",
    "Motivo": "reason",
}
# Shown after them, never read back: the archived message (`sync.mail.archive`).
ARCHIVE_COLUMN = "Archivo"
KIND_LABELS = {Kind.NOTICE: "Aviso", Kind.DIGEST: "Resumen"}
_OLDEST = datetime.min


@dataclass(frozen=True, slots=True)
class SentRow:
    """One message as Envíos shows it."""

    when: datetime | None  # aware: sent, recorded, or when a held-back one may go
    kind: Kind
    code: str
    recipient: str  # customer code (notices) or address (digests)
    to: str  # "; "-joined
    invoices: str  # ", "-joined
    subject: str
    state: SendState
    reason: str  # the Motivo as worded when it was recorded
    reason_code: str = ""  # its ReasonCode ("" for none): what `cobranza status` groups by
    archive: str = ""  # the archived .eml, relative to the workbook's folder ("" = none)


@dataclass(frozen=True, slots=True)
class PreviewRow:
    """One message as Vista previa shows it (what would go now, or why it waits)."""

    code: str
    recipient: str
    name: str  # the customer's name ("" for digests)
    to: str
    cc: str
    invoices: str
    subject: str
    body: str
    state: SendState
    reason: str


def codes_text(parts: Sequence[tuple[str, str]]) -> str:
    """Envíos Código of a message from its (code, invoices) parts: "MORA_45, VENCIDA_15"."""
    return ", ".join(dict.fromkeys(code for code, _ in parts))


def invoices_text(parts: Sequence[tuple[str, str]]) -> str:
    """Envíos Facturas of a message from its (code, invoices) parts: the invoices of a
    one-notice message; "MORA_45: F-1, F-2; VENCIDA_15: F-3" when it carries several (so
    a copy's Envíos gives each notice's invoices back: `cobranza.notices.seeding`)."""
    merged: dict[str, str] = {}
    for code, invoices in parts:
        merged.setdefault(code, invoices)  # the first invoices text of each code
    if len(merged) <= 1:
        return next(iter(merged.values()), "")
    return "; ".join(f"{code}: {invoices}" for code, invoices in merged.items())


def local_time(when: datetime | None, as_of: date | datetime) -> datetime | None:
    """Aware time -> naive wall time in as_of's zone (Excel cells carry no zone)."""
    if when is None:
        return None
    if when.tzinfo is not None and isinstance(as_of, datetime) and as_of.tzinfo is not None:
        when = when.astimezone(as_of.tzinfo)
    return when.replace(tzinfo=None, microsecond=0)


# How a count of messages in each state reads: "1 enviado", "441 enviados", "2 fallidos".
STATE_WORDS: dict[SendState, tuple[str, str]] = {
    SendState.SENT: ("enviado", "enviados"),
    SendState.PENDING: ("pendiente", "pendientes"),
    SendState.SKIPPED: ("omitido", "omitidos"),
    SendState.ERROR: ("fallido", "fallidos"),
    SendState.UNCERTAIN: ("incierto", "inciertos"),
    SendState.BOUNCED: ("rebotado", "rebotados"),
}
# Counted too when present (a bounce comes back after the cycle that sent it).
_COUNTED = (*SHOWN_STATES, SendState.BOUNCED)


def state_counts(counts: Mapping[str, int], separator: str = ", ", zeros: bool = False) -> str:
    """ "441 enviados, 1087 omitidos, 2 fallidos": the messages per state, in SHOWN_STATES
    order; states without messages only with `zeros` ("" when nothing is shown)."""
    return separator.join(
        count(counts.get(state, 0), *STATE_WORDS[state]) for state in _COUNTED
        if (zeros and state in SHOWN_STATES) or counts.get(state, 0)
    )


def state_summary(states: Sequence[str]) -> str:
    """ "3 enviados · 1 pendiente" over the states present."""
    return state_counts(Counter(states), " · ")


def envios_sheet(rows: list[SentRow], as_of: date | datetime) -> Sheet:
    """Envíos: tblEnvios, one row per notice or digest, newest first."""
    ordered = sorted(rows, key=lambda r: local_time(r.when, as_of) or _OLDEST, reverse=True)
    table = Table(
        name="tblEnvios",
        columns=(*ENVIOS_COLUMNS, ARCHIVE_COLUMN),
        rows=[
            (local_time(r.when, as_of), KIND_LABELS.get(r.kind, r.kind), r.code, r.recipient,
             r.to, r.invoices, r.subject, r.state, r.reason, r.archive)
            for r in ordered
        ],
        row=TABLE_ROW,
        formats={"Fecha": "datetime"},
        widths={"Fecha": 17, "Para": 30, "Facturas": 30, "Asunto": 45, "Motivo": 60,
                ARCHIVE_COLUMN: 70},
    )
    cells = sheet_header("Envíos de avisos y resúmenes", as_of)
    cells.append(Cell(2, 4, state_summary([r.state for r in ordered]), style="note"))
    return Sheet("Envíos", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)


def _customer(row: PreviewRow) -> str:
    return f"{row.recipient} - {row.name}" if row.name else row.recipient


# Decision: Vista previa shows what goes out now or is held back, not the omitido messages.
PREVIEW_STATES = (SendState.READY, SendState.SENT, SendState.PENDING, SendState.ERROR,
                  SendState.UNCERTAIN)


def preview_note(total: int, shown: int) -> str:
    """ "12 mensajes", or "4543 mensajes; se muestran los primeros 500 (Configuración:
    Filas en Vista previa)" when the rest are only counted."""
    if shown >= total:
        return count(total, "mensaje")
    return (f"{count(total, 'mensaje')}; se muestran los primeros {shown} "
            "(Configuración: Filas en Vista previa)")


def preview_sheet(
    rows: list[PreviewRow], as_of: date | datetime, limit: int | None = None,
    listed: int | None = None,
) -> Sheet:
    """Vista previa (tblVistaPrevia, plan order: most severe first): only PREVIEW_STATES,
    omitido stays in Envíos; the first `limit` rows (Configuración `Filas en Vista
    previa`), the rest counted in the note. `listed`: how many messages it lists in all,
    when `rows` are only the first of them (the rest were counted, never built)."""
    rows = [r for r in rows if r.state in PREVIEW_STATES]
    shown = rows if limit is None else rows[:limit]
    total = len(rows) if listed is None else listed
    table = Table(
        name="tblVistaPrevia",
        columns=("Código", "Cliente", "Para", "CC", "Facturas", "Asunto", "Cuerpo", "Estado",
                 "Motivo"),
        rows=[
            (r.code, _customer(r), r.to, r.cc, r.invoices, r.subject, r.body, r.state, r.reason)
            for r in shown
        ],
        row=TABLE_ROW,
        widths={"Cliente": 30, "Para": 30, "Asunto": 45, "Cuerpo": 80, "Motivo": 50},
    )
    cells = sheet_header("Vista previa de avisos", as_of)
    cells.append(Cell(2, 4, preview_note(total, len(shown)), style="note"))
    return Sheet("Vista previa", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)
