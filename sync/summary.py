"""Short human summary of a cycle, printed by `cobranza sync` and `cobranza demo`."""

from __future__ import annotations

import pandas as pd

from cobranza.book.records import STATUSES
from cobranza.layout.sends import PREVIEW_STATES, state_counts
from cobranza.plural import count
from cobranza.vocabulary import ReasonCode, SendState


def summary_lines(result) -> list[str]:
    computed = result.computed
    lines = [f"Corte: {result.now:%d/%m/%Y %H:%M} ({result.now.tzinfo})"]
    statuses = tally(computed.invoices["status"])
    lines.append(f"Facturas: {len(computed.invoices)}")
    lines += [f"  {s}: {statuses[s]}" for s in STATUSES if statuses.get(s)]
    alerts = tally(computed.alerts["type"]) if len(computed.alerts) else {}
    lines.append(f"Alertas: {sum(alerts.values())}")
    lines += [f"  {t}: {n}" for t, n in sorted(alerts.items())]
    lines.append(f"Agenda: {count(len(computed.agenda), 'llamada')}")
    lines.append("Envíos: " + (state_counts(result.counts()) or "ninguno"))
    lines += _ready(result)
    lines.append(f"{count(len(computed.errors), 'error')} en los datos (vea la hoja Errores)")
    lines += [f"Aviso: el envío se detuvo: {text}" for text in _stopped(result)]
    lines += inbox_lines(result)
    if result.write_error:
        lines.append(f"Aviso: {result.write_error}")
    elif result.deferred:
        lines.append(f"Aviso: {result.deferred}")
    elif result.written and result.changed:
        lines.append(f"Hojas de salida actualizadas en {result.path}: {', '.join(result.changed)}")
    elif result.written:
        lines.append("Hojas de salida sin cambios desde la última sincronización.")
    return lines


def tally(column: pd.Series) -> dict[str, int]:
    """How often each value occurs (pandas' count: a third of a Counter's time over
    100 000 invoices)."""
    return {value: int(n) for value, n in column.value_counts(dropna=False).items() if n}


def _ready(result) -> list[str]:
    """What a dry run would send now (`listo` appears in no other run), and how much of
    it Vista previa shows."""
    counts = result.counts()
    ready = counts.get(SendState.READY, 0)
    if not ready:
        return []
    line = f"Listos para enviar: {count(ready, 'mensaje')}"
    listed = sum(counts.get(state, 0) for state in PREVIEW_STATES)
    limit = result.computed.book.config.preview_rows
    if listed > limit:
        line += f" (Vista previa muestra {limit} de {listed}, lo más grave primero)"
    return [line]


def _stopped(result) -> list[str]:
    """Why sending stopped this cycle (server down, TLS, login, OAuth2), once each: the
    person running `cobranza sync` sees it without opening Envíos."""
    codes = (ReasonCode.SMTP_DOWN, ReasonCode.OAUTH_FAILED)
    texts = (r.reason_text for r in result.deliveries if r.reason and r.reason.code in codes)
    return list(dict.fromkeys(texts))


def inbox_lines(result) -> list[str]:
    """What the IMAP inbox gave this cycle, or why it was not read."""
    if result.inbox_error:
        return [f"Aviso: no se leyó el buzón IMAP: {result.inbox_error}"]
    read = result.inbox
    if read is None:
        return []
    line = (f"Correo entrante: {count(read.handled, 'mensaje nuevo', 'mensajes nuevos')} "
            f"({count(read.bounces, 'rebote')}, {count(read.replies, 'respuesta')})")
    if read.unmoved:
        line += (f"; {count(read.unmoved, 'mensaje')} no se pudo mover a Cobranza/Procesados "
                 "(se reintenta)")
    return [line]


def print_summary(result) -> None:
    print("\n".join(summary_lines(result)))
