"""Messages per second through SmtpTransport to a local aiosmtpd, over one connection.

    python benchmarks/smtp_throughput.py [N]      (default N = 500; target >= 50/s)

Each message is built with `sync.mail.transport.build_message` (as the deliver step does) and
sent with `SmtpTransport.send`; the figure includes building and the SMTP transaction.
"""

from __future__ import annotations

import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from smtp_server import SmtpTestServer  # noqa: E402

from sync.mail.transport import SmtpSettings, SmtpTransport, build_message  # noqa: E402

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))
BODY = "Estimado cliente:\n" + "- Factura F-1, vencida el 24/11/2026: $1,500.00 MXN\n" * 5


def run(n: int) -> float:
    with SmtpTestServer() as server:
        transport = SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none"))
        start = time.perf_counter()
        for i in range(n):
            msg = build_message(
                "Cobranza <cobranza@miempresa.com>", (f"cliente{i}@example.com",),
                ("conta@example.com",), f"Factura vencida {i}", BODY, f"bench-{i}", NOW,
            )
            transport.send(msg)
        transport.close()
        elapsed = time.perf_counter() - start
        received = len(server.received())
    if received != n:
        raise SystemExit(f"the server received {received} of {n} messages")
    return n / elapsed


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    rate = run(n)
    print(f"{n} mensajes en una conexión: {rate:.0f} mensajes/s (objetivo >= 50/s)")


if __name__ == "__main__":
    main()
