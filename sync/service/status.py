"""The last cycle's state, kept as JSON beside each workbook.

`<workbook dir>/.cobranza/<stem>.status.json` holds what `cobranza status` shows: who ran
the last cycle and when, the counts per delivery state, what is pending and why, the
errors, and, while a service looks after the workbook, its pid and next scheduled jobs.
Every run that completes a cycle records it with `record_cycle` (the service, `cobranza
sync`, the ribbon's Enviar recordatorios); the service block and its jobs are kept when
another source records. Written atomically; anyone may read it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cobranza.layout.sends import SentRow, state_counts
from cobranza.plural import count
from cobranza.vocabulary import SHOWN_STATES, ReasonCode, SendState
from sync.jsonfile import write_json

if TYPE_CHECKING:  # sync.cycle imports this module's callers; annotations only
    from sync.cycle import CycleResult

log = logging.getLogger("cobranza")

MAX_ERRORS = 10  # last errors kept in the file
# Who ran a cycle, as `cobranza status` names it.
SERVICE = "servicio"
SYNC = "cobranza sync"
DEMO = "cobranza demo"
RIBBON = "cinta de Excel"
STATES = tuple(SHOWN_STATES)

_R = ReasonCode
# Why a message waits, grouped for people, by reason code (never by reading the text).
PENDING_GROUPS: dict[str, tuple[ReasonCode, ...]] = {
    "SMTP caído": (_R.SMTP_DOWN,),
    "autenticación OAuth2 rechazada": (_R.OAUTH_FAILED,),
    "rechazo temporal del servidor": (_R.SMTP_TEMPORARY,),
    "dirección con acentos sin SMTPUTF8": (_R.NO_SMTPUTF8,),
    "feriado o fin de semana": (_R.NOT_BUSINESS_DAY, _R.HOLIDAY, _R.LEGAL_DAY,
                                _R.LEGAL_HOLIDAY),
    "ventana cerrada": (_R.WINDOW, _R.LEGAL_HOURS),
    "límite legal de frecuencia": (_R.DAILY_LIMIT, _R.WEEKLY_LIMIT, _R.DAYS_APART),
    "un aviso por día (ya se envió hoy)": (_R.ALREADY_TODAY,),
    "mensaje sin preparar": (_R.NOT_BUILT,),
    "límite del proveedor": (_R.PROVIDER_LIMIT,),
    "el proveedor pidió esperar": (_R.PROVIDER_THROTTLED,),
    "libro abierto": (_R.WORKBOOK_OPEN,),
    "libro guardado durante la escritura": (_R.WORKBOOK_CHANGED,),
}
_GROUP_OF = {code: group for group, codes in PENDING_GROUPS.items() for code in codes}
_STATE_GROUPS = {
    SendState.ERROR: "error de envío",
    SendState.UNCERTAIN: "incierto (no se reenvía solo; revise la hoja Envíos)",
}


def status_path(workbook: Path) -> Path:
    workbook = Path(workbook)
    return workbook.parent / ".cobranza" / f"{workbook.stem}.status.json"


def reason_group(code: str) -> str:
    """The short Spanish heading a waiting message (or the sheets) is listed under."""
    return _GROUP_OF.get(code, "otro motivo")


def load(workbook: Path) -> dict[str, Any] | None:
    """The last saved state, or None when no cycle was recorded for this workbook."""
    try:
        return json.loads(status_path(workbook).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("No se pudo leer el estado de %s: %s", Path(workbook).name, exc)
        return None


def save(workbook: Path, state: dict[str, Any]) -> bool:
    """Write the state atomically; False (with a log line) when the disk refuses."""
    target = status_path(workbook)
    try:
        write_json(target, state, ensure_ascii=False, indent=2, default=str)
    except OSError as exc:
        log.warning("No se pudo guardar el estado en %s: %s", target, exc.strerror or exc)
        return False
    return True


def _base(workbook: Path, previous: dict[str, Any] | None) -> dict[str, Any]:
    state = dict(previous or {})
    state["workbook"] = str(Path(workbook).resolve())
    state.setdefault("cycles", 0)
    state.setdefault("errors", [])
    return state


def record_cycle(
    workbook: Path,
    result: CycleResult,
    *,
    at: datetime,
    source: str,
    next_jobs: Iterable[dict[str, str]] | None = None,
    service: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save what one completed cycle did (`result` is a sync.cycle.CycleResult), who ran
    it (`source`: SERVICE, SYNC, DEMO, RIBBON) and when (`at`). The service passes its
    block (pid, schedule); `next_jobs` None keeps the jobs recorded before."""
    state = _base(workbook, load(workbook))
    counts = {s: 0 for s in STATES}
    for row in result.deliveries:
        counts[row.state] = counts.get(row.state, 0) + 1
    counts[SendState.SKIPPED] += result.skipped  # recorded in bulk, not in deliveries
    counts[SendState.PENDING] += len(result.waiting)
    pending = [_pending_row(r) for r in result.waiting] + [
        _pending_row(row.sent_row()) for row in result.deliveries
        if row.state in (SendState.PENDING, SendState.UNCERTAIN, SendState.ERROR)]
    state.update(
        book_id=result.computed.book.config.workbook_id,
        cycles=state["cycles"] + 1,
        last_cycle=at.isoformat(timespec="seconds"),
        source=source,
        as_of=result.now.isoformat(timespec="seconds"),
        ok=not result.write_error,
        counts=counts,
        data_errors=len(result.computed.errors),
        written=bool(result.written),
        deferred=result.deferred or "",
        pending=pending,
    )
    if next_jobs is not None:
        state["next_jobs"] = list(next_jobs)
    if result.deferred:
        pending.append({"code": "", "recipient": "", "state": "hojas",
                        "reason": result.deferred, "reason_code": result.deferred_code,
                        "group": reason_group(result.deferred_code)})
    if result.write_error:
        _push_error(state, at, result.write_error)
    if service is not None:
        state["service"] = service
    save(workbook, state)
    return state


def record_error(
    workbook: Path,
    message: str,
    *,
    at: datetime,
    source: str,
    next_jobs: Iterable[dict[str, str]] | None = None,
    service: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Save a cycle that could not run (or could not finish): the Spanish message."""
    state = _base(workbook, load(workbook))
    state.update(
        cycles=state["cycles"] + 1,
        last_cycle=at.isoformat(timespec="seconds"),
        source=source,
        ok=False,
    )
    if next_jobs is not None:
        state["next_jobs"] = list(next_jobs)
    _push_error(state, at, message)
    if service is not None:
        state["service"] = service
    save(workbook, state)
    return state


def record_service(workbook: Path, service: dict[str, Any],
                   next_jobs: Iterable[dict[str, str]] | None = None) -> None:
    """Update only the service block (started, stopped) and optionally the next jobs."""
    state = _base(workbook, load(workbook))
    state["service"] = service
    if next_jobs is not None:
        state["next_jobs"] = list(next_jobs)
    save(workbook, state)


def _push_error(state: dict[str, Any], at: datetime, message: str) -> None:
    state["last_error"] = {"at": at.isoformat(timespec="seconds"), "message": message}
    state["errors"] = ([state["last_error"]] + list(state.get("errors", [])))[:MAX_ERRORS]


def _pending_row(row: SentRow) -> dict[str, str]:
    group = (reason_group(row.reason_code) if row.state == SendState.PENDING
             else _STATE_GROUPS.get(row.state, str(row.state)))
    return {"code": row.code, "recipient": row.recipient, "state": str(row.state),
            "reason": row.reason, "reason_code": row.reason_code, "group": group}


# ---------------------------------------------------------------- rendering (Spanish)


def render(state: dict[str, Any] | None, workbook: Path, *, now: datetime | None = None) -> str:
    """What `cobranza status` prints."""
    name = Path(workbook).name
    if not state:
        return (f"{name}: todavía no se ha ejecutado ningún ciclo sobre este libro (ni "
                f"cobranza sync, ni la cinta de Excel, ni el servicio; no existe "
                f"{status_path(workbook)}).")
    lines = [f"Libro: {state.get('workbook', name)}"]
    service = state.get("service") or {}
    if not service:
        lines.append("Servicio: no se ha ejecutado sobre este libro")
    elif service.get("running"):
        lines.append(f"Servicio: en marcha (pid {service.get('pid')}, "
                     f"desde {_when(service.get('started'))})")
    else:
        lines.append(f"Servicio: detenido ({_when(service.get('stopped'))})")
    if state.get("last_cycle"):
        outcome = "correcto" if state.get("ok") else "con error"
        by = f", por {state['source']}" if state.get("source") else ""
        lines.append(f"Último ciclo: {_when(state['last_cycle'])}{by} ({outcome}; "
                     f"ciclos registrados: {state.get('cycles', 0)})")
    counts = state.get("counts")
    if counts:
        lines.append("Envíos: " + state_counts(counts, zeros=True))
        errors = count(state.get("data_errors", 0), "error")
        lines.append(f"{errors} en los datos (vea la hoja Errores)")
        if state.get("written"):
            lines.append("Hojas de salida: escritas")
        elif state.get("deferred"):
            lines.append(f"Hojas de salida: pendientes — {state['deferred']}")
    lines += _ledger_lines(state.get("ledger"))
    lines += _pending_lines(state.get("pending") or [])
    errors = state.get("errors") or []
    if errors:
        lines.append("Últimos errores:")
        lines += [f"  {_when(e.get('at'))}  {e.get('message')}" for e in errors[:5]]
    jobs = state.get("next_jobs") or []
    if jobs:
        lines.append("Próximas tareas:")
        lines += [f"  {_when(j.get('at'))}  {j.get('job')}" for j in jobs]
    return "\n".join(lines)


def _ledger_lines(ledger: dict[str, Any] | None) -> list[str]:
    """The ledger as `cobranza status` read it just now (SQLite file or PostgreSQL)."""
    if not ledger:
        return []
    if ledger.get("error"):
        return [f"Registro de envíos: {ledger['error']}"]
    totals = state_counts(ledger.get("messages") or {}, zeros=False) or "sin mensajes"
    return [f"Registro de envíos: {ledger['where']}", f"  En el registro (todos los ciclos): "
            f"{totals}"]


def _pending_lines(pending: list[dict[str, str]]) -> list[str]:
    if not pending:
        return ["Pendiente: nada"]
    groups: dict[str, list[dict[str, str]]] = {}
    for row in pending:
        groups.setdefault(row.get("group") or "otro motivo", []).append(row)
    lines = ["Pendiente:"]
    for group, rows in groups.items():
        lines.append(f"  {group}: {len(rows)}")
        for row in rows[:5]:
            who = " ".join(x for x in (row.get("code"), row.get("recipient")) if x)
            lines.append(f"    {who + ' — ' if who else ''}{row.get('reason')}")
        if len(rows) > 5:
            lines.append(f"    … y {len(rows) - 5} más")
    return lines


def _when(text: str | None) -> str:
    if not text:
        return "—"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return text
    return f"{value:%d/%m/%Y %H:%M:%S}"
