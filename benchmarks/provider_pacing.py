"""Messages per minute actually sent under Configuración `Correos por minuto` = 30 (issue 15).

    python -m benchmarks.provider_pacing [--minutes 5] [--limit 30]

Makes a workbook (`cobranza init` + one overdue invoice for each of more customers than
the run can send), then runs one real sync cycle (`sync.cycle.run_cycle`: plan, render,
ledger, archive) through `SmtpTransport` to a local aiosmtpd server for --minutes: the
cycle paces itself under the limit, sleeping as it must, and is stopped (as SIGTERM
would) when the time is up. Prints, from the instants the server accepted each message,
the messages of each whole minute, the most in any rolling 60 s and the overall rate.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from smtp_server import SmtpTestServer, _Handler  # noqa: E402
from workbook_edit import append_rows, set_cells  # noqa: E402

from sync.cycle import run_cycle  # noqa: E402
from sync.mail.pacing import WAIT_ENV  # noqa: E402
from sync.mail.transport import SmtpSettings, SmtpTransport  # noqa: E402
from sync.workbook.init import create_workbook  # noqa: E402

AT = datetime(2026, 12, 2, 10, 0)  # a Wednesday: a business day, no monthly statement


class _Timed(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        reply = await super().handle_DATA(server, session, envelope)
        self.server.times.append(time.monotonic())
        return reply


class TimedServer(SmtpTestServer):
    """Records when it accepted each message (monotonic seconds)."""

    def __init__(self) -> None:
        super().__init__()
        self.times: list[float] = []

    def _handler(self) -> _Handler:
        return _Timed(self)


def workbook(folder: Path, customers: int, limit: int) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    due = AT - timedelta(days=15)
    append_rows(book, {
        "Clientes": [{"Cliente": f"C{i:05d}", "Nombre": f"Cliente {i}",
                      "Email": f"c{i:05d}@cliente.mx"} for i in range(customers)],
        "Facturas": [{"Factura": f"F{i:05d}", "Cliente": f"C{i:05d}",
                      "Emisión": due - timedelta(days=30), "Vencimiento": due,
                      "Moneda": "MXN", "Importe": 1000.0} for i in range(customers)],
    })
    set_cells(book, "Configuración", ("Parámetro", "Correos por minuto"), {"Valor": str(limit)})
    set_cells(book, "Configuración", ("Parámetro", "Hora resumen diario"), {"Valor": "19:00"})
    return book


def per_minute(times: list[float], start: float, minutes: int) -> list[int]:
    counts = [0] * minutes
    for t in times:
        minute = int((t - start) // 60)
        if 0 <= minute < minutes:
            counts[minute] += 1
    return counts


def most_in_60s(times: list[float]) -> int:
    """The most messages accepted in any rolling 60 s."""
    ordered, most, first = sorted(times), 0, 0
    for last, t in enumerate(ordered):
        while t - ordered[first] >= 60:
            first += 1
        most = max(most, last - first + 1)
    return most


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--limit", type=int, default=30)
    args = parser.parse_args()
    seconds = args.minutes * 60
    customers = int(args.limit * (args.minutes + 2)) + 10  # always more than can go
    os.environ[WAIT_ENV] = str(seconds + 120)  # the cycle may pace for the whole run
    with tempfile.TemporaryDirectory() as tmp, TimedServer() as server:
        book = workbook(Path(tmp), customers, args.limit)
        print(f"{customers} avisos vencidos, Correos por minuto = {args.limit}, "
              f"{args.minutes:g} min de envío real a aiosmtpd", file=sys.stderr)
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none"))
        start = time.monotonic()
        deadline = start + seconds
        result = run_cycle(book, AT, transport=transport,
                           stop=lambda: time.monotonic() >= deadline)
        elapsed = time.monotonic() - start
        times = list(server.times)
    counts = per_minute(times, times[0] if times else start, int(args.minutes))
    sent = sum(1 for d in result.deliveries if d.state == "enviado")
    print("| minuto | mensajes |")
    print("|---|---|")
    for i, n in enumerate(counts, 1):
        print(f"| {i} | {n} |")
    print(f"\nenviados: {len(times)} (Envíos: {sent}) en {elapsed / 60:.2f} min; "
          f"{len(times) / (elapsed / 60):.1f} mensajes/min en total; "
          f"máximo en 60 s móviles: {most_in_60s(times)} (límite {args.limit})")


if __name__ == "__main__":
    main()
