"""Short human summary of a cycle, printed by `cobranza sync` and `cobranza demo`."""

from __future__ import annotations

from collections import Counter

from cobranza.book.records import STATUSES


def summary_lines(result) -> list[str]:
    computed = result.computed
    lines = [f"Corte: {result.now:%d/%m/%Y %H:%M} ({result.now.tzinfo})"]
    statuses = Counter(computed.invoices["status"])
    lines.append(f"Facturas: {len(computed.invoices)}")
    lines += [f"  {s}: {statuses[s]}" for s in STATUSES if statuses.get(s)]
    alerts = Counter(computed.alerts["type"]) if len(computed.alerts) else Counter()
    lines.append(f"Alertas: {sum(alerts.values())}")
    lines += [f"  {t}: {n}" for t, n in sorted(alerts.items())]
    lines.append(f"Agenda: {len(computed.agenda)} llamadas")
    sends = result.counts()
    shown = ", ".join(f"{k} {v}" for k, v in sorted(sends.items()))
    lines.append("Envíos: " + (shown or "ninguno"))
    lines.append(f"Errores en los datos: {len(computed.errors)} (vea la hoja Errores)")
    if result.write_error:
        lines.append(f"Aviso: {result.write_error}")
    elif result.deferred:
        lines.append(f"Aviso: {result.deferred}")
    elif result.written and result.changed:
        lines.append(f"Hojas de salida actualizadas en {result.path}: {', '.join(result.changed)}")
    elif result.written:
        lines.append("Hojas de salida sin cambios desde la última sincronización.")
    return lines


def print_summary(result) -> None:
    print("\n".join(summary_lines(result)))
