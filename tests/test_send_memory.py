"""Sending leaves nothing for the cyclic collector (issue 10, point 8).

The cycle pauses the cyclic GC around its bulk steps, delivery included, so whatever
reference cycles each sent message leaves stay in memory until the send ends: 16 572
real sends at 100 000 invoices peaked at 1.46 GB against the dry run's 376 MB. Here real
messages (customer notices and monthly statements with their .xlsx attachment) are
planned by the real planner and written by the real outbox transport, and every object
the cyclic collector frees meanwhile is counted: the count must not grow with the number
of messages (`benchmarks/send_memory.py` measures the peak at 100 000 invoices).
"""

from __future__ import annotations

import gc
from datetime import datetime
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

from book_factory import make_book

from sync import cycle
from sync.ledger.store import Ledger
from sync.mail.sending import deliver
from sync.mail.transport import OutboxTransport

# Tuesday 1 December: invoices due on 30 November get VENCIDA_1, every customer with an
# open invoice gets ESTADO_MENSUAL (first business day of the month) with its statement.
NOW = datetime(2026, 12, 1, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))
NOTICES = [("VENCIDA_1", "vencimiento", 1), ("ESTADO_MENSUAL", "mes", 1)]
TEMPLATES = [
    ("VENCIDA_1", "Factura vencida {{ cliente.codigo }}",
     "Estimado(a) {{ cliente.nombre }}:\n{% for f in facturas %}- {{ f.factura }}: "
     "{{ f.saldo }}\n{% endfor %}", True),
    ("ESTADO_MENSUAL", "Estado de cuenta {{ cliente.codigo }}",
     "Adjuntamos su estado de cuenta al {{ fecha_corte }}.\n", True),
]


def book_of(customers: int, notices=NOTICES):
    """`customers` customers, each with one invoice due yesterday and an older one."""
    invoices = []
    for i in range(customers):
        invoices.append((f"F-{i}-A", f"C{i:04d}", "2026-11-30", 1000 + i, "2026-10-31"))
        invoices.append((f"F-{i}-B", f"C{i:04d}", "2026-10-05", 250, "2026-09-05"))
    customers_rows = [{"customer": f"C{i:04d}", "name": f"Cliente Ñandú {i}",
                       "emails": f"pagos{i}@cliente{i}.mx"} for i in range(customers)]
    return make_book(customers=customers_rows, invoices=invoices, notices=notices,
                     templates=TEMPLATES)


def send_all(customers: int, folder: Path, notices=NOTICES) -> tuple[int, list]:
    """Deliver every planned message to the outbox in `folder`; (objects the final
    collection after the delivery freed: what its messages left piled up, rows). The
    PDF of each statement collects its own cycles at once (fontTools' fonts,
    `sync.pdf.statement`): those collections free them as they go and are not counted."""
    book = book_of(customers, notices)
    computed = cycle.compute(book, NOW)
    freed: list[int] = []

    def count(phase: str, info: dict) -> None:
        if phase == "stop":
            freed.append(info["collected"])

    with Ledger.open(folder / "ledger.sqlite", NOW, "libro-de-prueba") as ledger:
        planned = cycle.plan(computed, ledger.history(NOW))
        gc.collect()
        gc.callbacks.append(count)
        try:
            rows = deliver(planned.messages, book, computed.invoices, ledger,
                           OutboxTransport(folder / "salida"), NOW, skipped=planned.skipped)
            gc.collect()
        finally:
            gc.callbacks.remove(count)
    return freed[-1], rows


def outbox(folder: Path) -> dict[tuple[str, str], list[str]]:
    """(To, Subject) -> attachment file names, for every .eml written."""
    out = {}
    for path in (folder / "salida").glob("*.eml"):
        msg = message_from_bytes(path.read_bytes(), policy=policy.default)
        names = [a.get_filename() for a in msg.iter_attachments()]
        out[(str(msg["To"]), str(msg["Subject"]))] = names
    return out


def test_sending_leaves_no_cyclic_garbage_per_message(tmp_path: Path) -> None:
    """Reminders alone (nothing collects during the send: every collection counts), then
    with the monthly statement (its PDF collects as it goes; what is left must not grow)."""
    freed = {}
    for customers in (20, 80):
        folder = tmp_path / f"avisos-{customers}"
        freed[customers], rows = send_all(customers, folder, NOTICES[:1])
        assert {r.state for r in rows} == {"enviado"} and len(outbox(folder)) == customers
    assert freed[80] - freed[20] < 60, freed
    for customers in (20, 80):
        folder = tmp_path / str(customers)
        freed[customers], rows = send_all(customers, folder)
        assert len(rows) == customers  # one email each: the reminder and the statement
        assert {r.state for r in rows} == {"enviado"}
        sent = outbox(folder)
        assert len(sent) == customers
        assert sent[("pagos7@cliente7.mx", "Factura vencida C0007")] == [
            "estado-de-cuenta-C0007-2026-12.pdf", "estado-de-cuenta-C0007-2026-12.xlsx"]
    # 60 more emails (each with a statement) than the first run: before the fix each left
    # 60-130 objects (~50 KB) for the collector; now not even one.
    assert freed[80] - freed[20] < 60, freed
