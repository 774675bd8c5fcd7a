"""Output sheet layouts of messages: Envíos (the send history) and Vista previa.

Rows are dicts as produced by `sync.ledger.store.Ledger.rows()` and
`sync.mail.sending.DeliveryRow.as_dict()` (keys: when, kind, code, recipient, to, invoices,
subject, state, reason; Vista previa also body, cc, name). Same look as `cobranza.layout.reports`:
title and Fecha de corte on top, the table at row 4.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from cobranza.layout.reports import sheet_header
from cobranza.layout.sheets import Cell, Sheet, Table

TABLE_ROW = 4
# Envíos headers and the row fields they show (also how a copy's Envíos is read back).
ENVIOS_COLUMNS = {
    "Fecha": "when", "Tipo": "kind", "Código": "code", "Destinatario": "recipient",
    "Para": "to", "Facturas": "invoices", "Asunto": "subject", "Estado": "state",
    "Motivo": "reason",
}
STATES = ("enviado", "pendiente", "omitido", "error", "incierto")
KIND_LABELS = {"aviso": "Aviso", "resumen": "Resumen"}
_OLDEST = datetime.min


def local_time(when: datetime | None, as_of: date | datetime) -> datetime | None:
    """Aware time -> naive wall time in as_of's zone (Excel cells carry no zone)."""
    if when is None:
        return None
    if when.tzinfo is not None and isinstance(as_of, datetime) and as_of.tzinfo is not None:
        when = when.astimezone(as_of.tzinfo)
    return when.replace(tzinfo=None, microsecond=0)


def state_summary(rows: Sequence[Mapping[str, Any]]) -> str:
    """ "3 enviado · 1 pendiente" over the states present, in STATES order."""
    counts = {s: sum(1 for r in rows if r.get("state") == s) for s in STATES}
    return " · ".join(f"{n} {s}" for s, n in counts.items() if n)


def envios_sheet(rows: list[dict], as_of: date | datetime) -> Sheet:
    """Envíos: tblEnvios, one row per notice or digest, newest first."""
    ordered = sorted(
        rows, key=lambda r: local_time(r.get("when"), as_of) or _OLDEST, reverse=True
    )
    table = Table(
        name="tblEnvios",
        columns=tuple(ENVIOS_COLUMNS),
        rows=[
            (local_time(r.get("when"), as_of), KIND_LABELS.get(r["kind"], r["kind"]), r["code"],
             r["recipient"], r.get("to", ""), r.get("invoices", ""), r.get("subject", ""),
             r["state"], r.get("reason", ""))
            for r in ordered
        ],
        row=TABLE_ROW,
        formats={"Fecha": "datetime"},
        widths={"Fecha": 17, "Para": 30, "Facturas": 30, "Asunto": 45, "Motivo": 60},
    )
    cells = sheet_header("Envíos de avisos y resúmenes", as_of)
    cells.append(Cell(2, 4, state_summary(ordered), style="note"))
    return Sheet("Envíos", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)


def _customer(row: Mapping[str, Any]) -> str:
    name = row.get("name", "")
    return f"{row['recipient']} - {name}" if name else str(row["recipient"])


# Decision: Vista previa shows what goes out now or is held back, not the omitido messages.
PREVIEW_STATES = ("listo", "enviado", "pendiente", "error", "incierto")


def preview_sheet(rows: list[dict], as_of: date | datetime) -> Sheet:
    """Vista previa (tblVistaPrevia, plan order): only PREVIEW_STATES; omitido stays in Envíos."""
    rows = [r for r in rows if r["state"] in PREVIEW_STATES]
    table = Table(
        name="tblVistaPrevia",
        columns=("Código", "Cliente", "Para", "CC", "Facturas", "Asunto", "Cuerpo", "Estado",
                 "Motivo"),
        rows=[
            (r["code"], _customer(r), r.get("to", ""), r.get("cc", ""), r.get("invoices", ""),
             r.get("subject", ""), r.get("body", ""), r["state"], r.get("reason", ""))
            for r in rows
        ],
        row=TABLE_ROW,
        widths={"Cliente": 30, "Para": 30, "Asunto": 45, "Cuerpo": 80, "Motivo": 50},
    )
    cells = sheet_header("Vista previa de avisos", as_of)
    cells.append(Cell(2, 4, f"{len(rows)} mensajes", style="note"))
    return Sheet("Vista previa", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)
