"""Deliver step end to end: real aiosmtpd server, real SQLite ledger, real .xlsx files."""

from __future__ import annotations

import io
import os
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import openpyxl
import pytest
from book_factory import make_book
from smtp_server import SmtpTestServer

from cobranza.book.records import InputError
from cobranza.layout.sends import PreviewRow, envios_sheet, preview_sheet
from cobranza.notices.messages import Outgoing, Part, Skipped, notice_key, with_parts
from cobranza.notices.planner import Refusal
from cobranza.notices.statement import statement_lines
from cobranza.rules.invoices import compute_invoices
from cobranza.vocabulary import Reason, ReasonCode, SendState, reason
from sync.ledger.store import Ledger
from sync.mail.sending import TAKEN, deliver, envios_rows
from sync.mail.transport import OutboxTransport, SmtpSettings, SmtpTransport, UncertainSendError

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))
BOOK = "libro-de-prueba"  # the workbook id the ledger handles belong to
LATE = reason(ReasonCode.LATE)
WINDOW = reason(ReasonCode.WINDOW, window="08:00-20:00")
NO_EMAIL = reason(ReasonCode.NO_EMAIL)
PASSWORD = "Fake-Pw-7c1b9e!"
TESTS = Path(__file__).parent

TEMPLATES = [
    ("VENCIDA_1", "{{ empresa }}: factura vencida, {{ cliente.nombre }}",
     "Estimado(a) {{ cliente.nombre }}:\n"
     "{% for f in facturas %}- Factura {{ f.factura }}, vencida el {{ f.vencimiento }}: "
     "{{ f.saldo }}\n{% endfor %}"
     "Total: {% for t in totales %}{{ t.saldo }}{% endfor %}\n{{ remitente }}\n", True),
    ("ESTADO_MENSUAL", "Estado de cuenta {{ cliente.codigo }}",
     "Adjuntamos su estado de cuenta al {{ fecha_corte }}.\n", True),
]
CUSTOMERS = [
    {"customer": "C1", "name": "Ferretería López", "emails": "pagos@lopez.mx",
     "cc": "conta@lopez.mx"},
    {"customer": "C2", "name": "Abarrotes Ruiz", "emails": "ruiz@ruiz.mx"},
    {"customer": "C3", "name": "Papelería Sol", "emails": "sol@sol.mx"},
]
INVOICES = [
    ("F-1", "C1", "2026-11-24", "1500.00"),
    ("F-2", "C1", "2026-11-24", "250.50"),
    ("F-3", "C2", "2026-11-24", "99.90"),
    ("F-4", "C3", "2026-10-01", "1000.00", "2026-09-01"),
    ("F-5", "C3", "2026-12-10", "20", "2026-11-10", "USD"),
]


def make_test_book(customers=CUSTOMERS, templates=TEMPLATES):
    return make_book(customers=customers, invoices=INVOICES, templates=templates)


def notice(invoices, customer: str, code: str = "VENCIDA_1", **kw) -> Outgoing:
    """An Outgoing as the planner would build it, lines from compute_invoices."""
    lines = statement_lines(invoices, customer)
    row = next(c for c in CUSTOMERS if c["customer"] == customer)
    base = dict(
        kind="aviso", code=code, recipient=customer, to=(row["emails"],),
        cc=tuple(filter(None, [row.get("cc", "")])), template=code, lines=lines,
        keys=tuple(notice_key(customer, ln.invoice, code) for ln in lines),
    )
    return as_message(Outgoing(**{**base, **kw}))


def as_message(item: Outgoing) -> Outgoing:
    """A customer email carrying `item` as its one notice (as the planner makes them)."""
    return with_parts(item, (Part(item.code, item.template, item.lines, item.keys),))


def batch(invoices) -> list[Outgoing]:
    monthly = notice(invoices, "C3", "ESTADO_MENSUAL")
    monthly = as_message(replace(monthly, keys=(notice_key("C3", "", "ESTADO_MENSUAL"),)))
    return [notice(invoices, "C1"), notice(invoices, "C2"), monthly]


def due(items: list[Outgoing], ledger: Ledger, now: datetime) -> list[Outgoing]:
    """What the planner would plan again: messages with no final ledger key."""
    history = ledger.history(now)
    to = lambda o: "; ".join(o.to)  # noqa: E731
    return [o for o in items if not set(o.keys) & history.final_keys
            and not any(k in history.refused and history.refused[k].to == to(o) for k in o.keys)]


@pytest.fixture
def server():
    with SmtpTestServer() as srv:
        yield srv


@pytest.fixture
def setup(ledger_backend):
    """The test book, its invoices and an empty ledger (SQLite, then PostgreSQL)."""
    book = make_test_book()
    invoices = compute_invoices(book, NOW.date())
    with ledger_backend.open(NOW, BOOK) as ledger:
        yield book, invoices, ledger


def smtp(server: SmtpTestServer, **kw) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none", timeout=5, **kw))


def states(rows) -> list[tuple[str, str, str]]:
    return [(r.recipient, r.state, r.reason_text) for r in rows]


def test_three_messages_arrive_with_exact_content(server, setup) -> None:
    book, invoices, ledger = setup
    rows = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW)
    assert states(rows) == [("C1", "enviado", ""), ("C2", "enviado", ""), ("C3", "enviado", "")]
    got = server.by_recipient()
    assert sorted(got) == ["conta@lopez.mx", "pagos@lopez.mx", "ruiz@ruiz.mx", "sol@sol.mx"]
    c1 = got["pagos@lopez.mx"][0]
    assert c1.rcpt_tos == ("pagos@lopez.mx", "conta@lopez.mx")
    assert c1.mail_from == "cobranza@miempresa.com"
    assert str(c1.message["From"]) == "Cobranza <cobranza@miempresa.com>"
    assert str(c1.message["Cc"]) == "conta@lopez.mx"
    assert c1.subject == "Mi Empresa S.A. de C.V.: factura vencida, Ferretería López"
    assert c1.body() == (
        "Estimado(a) Ferretería López:\n"
        "- Factura F-1, vencida el 24/11/2026: $1,500.00 MXN\n"
        "- Factura F-2, vencida el 24/11/2026: $250.50 MXN\n"
        "Total: $1,750.50 MXN\nCobranza\n"
    )
    assert c1.attachments() == {}
    c2 = got["ruiz@ruiz.mx"][0]
    assert "- Factura F-3, vencida el 24/11/2026: $99.90 MXN\n" in c2.body()
    key = c2.message["X-Cobranza-Clave"]
    assert str(c2.message["Message-ID"]) == f"<cobranza.{key}@miempresa.com>"


def test_monthly_statement_attachment_lists_open_invoices(server, setup) -> None:
    book, invoices, ledger = setup
    deliver(batch(invoices)[2:], book, invoices, ledger, smtp(server), NOW)
    [received] = server.received()
    assert received.subject == "Estado de cuenta C3"
    files = received.attachments()
    assert list(files) == ["estado-de-cuenta-C3-2026-11.pdf", "estado-de-cuenta-C3-2026-11.xlsx"]
    assert [a.get_content_type() for a in received.message.iter_attachments()] == [
        "application/pdf", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
    sheet = openpyxl.load_workbook(io.BytesIO(files["estado-de-cuenta-C3-2026-11.xlsx"])).active
    values = [tuple(c.value for c in row) for row in sheet.iter_rows()]
    assert values[0][0] == "Mi Empresa S.A. de C.V."
    assert values[2][0] == "Cliente: C3 - Papelería Sol"
    assert values[3][:2] == ("Fecha de corte:", datetime(2026, 11, 25))
    assert values[5] == ("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda", "Saldo",
                         "Estatus")
    assert values[6] == ("F-4", datetime(2026, 9, 1), datetime(2026, 10, 1), 55, "MXN", 1000,
                         "Vencida")
    assert values[7] == ("F-5", datetime(2026, 11, 10), datetime(2026, 12, 10), -15, "USD", 20,
                         "Por vencer")
    assert values[9][0] == "Total" and values[9][4:6] == ("MXN", 1000)
    assert values[10][4:6] == ("USD", 20)


def test_second_delivery_sends_nothing(server, setup) -> None:
    book, invoices, ledger = setup
    deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW)
    again = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW + timedelta(hours=1))
    assert [r.state for r in again] == ["omitido"] * 3
    assert {r.reason for r in again} == {TAKEN}
    assert len(server.received()) == 3
    assert [r.state for r in ledger.rows()] == ["enviado"] * 3


def test_one_refused_recipient_is_error_the_others_are_sent(server, setup) -> None:
    book, invoices, ledger = setup
    server.reject = {"ruiz@ruiz.mx"}
    rows = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW)
    reason = ("ruiz@ruiz.mx: el servidor respondió 550 5.1.1 <ruiz@ruiz.mx>: Recipient address "
              "rejected: User unknown")
    assert states(rows) == [("C1", "enviado", ""), ("C2", "error", reason), ("C3", "enviado", "")]
    assert sorted(server.by_recipient()) == ["conta@lopez.mx", "pagos@lopez.mx", "sol@sol.mx"]
    envios = {r.recipient: (r.state, r.reason) for r in ledger.rows()}
    assert envios["C2"] == ("error", reason)
    assert ledger.history(NOW).refused == {
        notice_key("C2", "F-3", "VENCIDA_1"): Refusal("ruiz@ruiz.mx", reason)}
    assert rows[1].input_error == InputError(
        "Clientes", 3, "Email", "ruiz@ruiz.mx",
        f"el servidor de correo rechazó el aviso VENCIDA_1 para ruiz@ruiz.mx ({reason}); "
        "corrija el Email y los avisos vigentes se enviarán a la nueva dirección")
    assert due(batch(invoices), ledger, NOW + timedelta(days=1)) == []


def test_server_down_waits_then_delivers_once_after_backoff(server, setup) -> None:
    book, invoices, ledger = setup
    server.stop()
    rows = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW)
    assert [r.state for r in rows] == ["pendiente"] * 3
    assert all(r.reason_text.startswith("servidor SMTP no disponible (127.0.0.1:") for r in rows)
    assert [(r.recipient, r.state) for r in envios_rows(ledger, rows)] == [
        ("C1", "pendiente"), ("C2", "pendiente"), ("C3", "pendiente")
    ]
    server.start()
    later = NOW + timedelta(minutes=1)  # C1 waits for its backoff; C2 and C3 were never tried
    rows = deliver(due(batch(invoices), ledger, later), book, invoices, ledger, smtp(server), later)
    assert states(rows) == [("C2", "enviado", ""), ("C3", "enviado", "")]
    retry = NOW + timedelta(minutes=5)
    rows = deliver(due(batch(invoices), ledger, retry), book, invoices, ledger, smtp(server), retry)
    assert states(rows) == [("C1", "enviado", "")]
    assert sorted((r.rcpt_tos[0], r.subject) for r in server.received()) == [
        ("pagos@lopez.mx", "Mi Empresa S.A. de C.V.: factura vencida, Ferretería López"),
        ("ruiz@ruiz.mx", "Mi Empresa S.A. de C.V.: factura vencida, Abarrotes Ruiz"),
        ("sol@sol.mx", "Estado de cuenta C3"),
    ]
    c1 = next(r for r in ledger.rows() if r.recipient == "C1")
    assert c1.state == "enviado"
    # the C1 message took two attempts
    assert [tuple(r) for r in ledger._read(  # noqa: SLF001
        "SELECT DISTINCT attempts FROM sends WHERE recipient = 'C1'")] == [(2,)]


def test_transient_451_is_retried_later(server, setup) -> None:
    book, invoices, ledger = setup
    server.transient = True
    rows = deliver(batch(invoices)[:2], book, invoices, ledger, smtp(server), NOW)
    assert [r.state for r in rows] == ["pendiente", "pendiente"]  # 451 does not stop the batch
    assert all("451 4.3.0" in r.reason_text for r in rows)
    server.transient = False
    retry = NOW + timedelta(minutes=5)
    deliver(due(batch(invoices)[:2], ledger, retry), book, invoices, ledger, smtp(server), retry)
    assert sorted(server.by_recipient()) == ["conta@lopez.mx", "pagos@lopez.mx", "ruiz@ruiz.mx"]


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_row_left_enviando_by_a_dead_process_is_incierto_and_not_resent(server, tmp_path):
    book = make_test_book()
    invoices = compute_invoices(book, NOW.date())
    path = tmp_path / "ledger.sqlite"
    with Ledger.open(path, NOW, BOOK) as crashed:
        crashed.claim(batch(invoices)[0], "m-crash", NOW)
    db = sqlite3.connect(path)
    db.execute("UPDATE sends SET pid = ?, host = ?", (_dead_pid(), socket.gethostname()))
    db.commit()
    db.close()
    later = NOW + timedelta(minutes=2)
    with Ledger.open(path, later, BOOK) as ledger:
        rows = deliver(due(batch(invoices), ledger, later), book, invoices, ledger,
                       smtp(server), later)
        assert states(rows) == [("C2", "enviado", ""), ("C3", "enviado", "")]
        c1 = next(r for r in ledger.rows() if r.recipient == "C1")
        assert c1.state == "incierto"
        again = deliver(batch(invoices)[:1], book, invoices, ledger, smtp(server), later)
        assert [r.state for r in again] == ["omitido"]
    assert "pagos@lopez.mx" not in server.by_recipient()


WORKER = """
import sys, time
from pathlib import Path
sys.path[:0] = [{root!r}, {tests!r}]
import test_sending as t
t.worker({ledger!r}, {port}, {go!r})
"""


def worker(ledger_path: str, port: int, go: str) -> None:
    """One of two processes delivering the same batch against one ledger."""
    book = make_test_book()
    invoices = compute_invoices(book, NOW.date())
    transport = SmtpTransport(SmtpSettings("127.0.0.1", port, "none", timeout=10))
    with Ledger.open(Path(ledger_path), NOW, BOOK) as ledger:
        Path(f"{go}.ready-{os.getpid()}").touch()
        while not Path(go).exists():
            time.sleep(0.002)
        rows = deliver(batch(invoices), book, invoices, ledger, transport, NOW)
    Path(f"{go}.result-{os.getpid()}").write_text(" ".join(r.state for r in rows))


def test_two_processes_deliver_each_message_exactly_once(server, tmp_path) -> None:
    go = tmp_path / "go"
    code = WORKER.format(root=str(TESTS.parent), tests=str(TESTS),
                         ledger=str(tmp_path / "ledger.sqlite"), port=server.port, go=str(go))
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]
    deadline = time.monotonic() + 30
    while len(list(tmp_path.glob("go.ready-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    go.touch()  # both are ready: they race for the same three messages
    assert [p.wait(timeout=30) for p in procs] == [0, 0]
    assert sorted(r.rcpt_tos for r in server.received()) == [
        ("pagos@lopez.mx", "conta@lopez.mx"), ("ruiz@ruiz.mx",), ("sol@sol.mx",)
    ]
    with Ledger(tmp_path / "ledger.sqlite", BOOK) as ledger:
        assert [r.state for r in ledger.rows()] == ["enviado"] * 3
    outcomes = " ".join(p.read_text() for p in tmp_path.glob("go.result-*")).split()
    assert sorted(outcomes) == ["enviado"] * 3 + ["omitido"] * 3  # each lost race is reported


def test_password_never_reaches_ledger_envios_or_errors(tmp_path) -> None:
    book = make_test_book()
    invoices = compute_invoices(book, NOW.date())
    path = tmp_path / "ledger.sqlite"
    with SmtpTestServer(credentials=("cobranza@miempresa.com", PASSWORD)) as server:
        server.reject = {"ruiz@ruiz.mx"}
        server.reject_text = f"buzon inexistente {PASSWORD}"
        with Ledger.open(path, NOW, BOOK) as ledger:
            wrong = smtp(server, user="cobranza@miempresa.com", password=PASSWORD + "x")
            down = deliver(batch(invoices), book, invoices, ledger, wrong, NOW)
            assert [r.state for r in down] == ["pendiente"] * 3
            assert down[0].reason_text.startswith("servidor SMTP no disponible: el servidor SMTP "
                                             "rechazó el usuario o la contraseña (")
            retry = NOW + timedelta(minutes=5)
            right = smtp(server, user="cobranza@miempresa.com", password=PASSWORD)
            rows = deliver(batch(invoices), book, invoices, ledger, right, retry)
            assert [r.state for r in rows] == ["enviado", "error", "enviado"]
            assert rows[1].reason_text.endswith("buzon inexistente ********")
            sheet = envios_sheet(ledger.rows(), retry)
    texts = [repr(down), repr(rows), repr(sheet), repr(right), path.read_bytes().decode("latin-1")]
    assert [PASSWORD in t for t in texts] == [False] * 5


def test_customer_name_cannot_inject_a_header(server, tmp_path) -> None:
    evil = [{**CUSTOMERS[0], "name": "Malo\r\nBcc: x@evil.com"}, *CUSTOMERS[1:]]
    book = make_test_book(customers=evil)
    invoices = compute_invoices(book, NOW.date())
    with Ledger.open(tmp_path / "l.sqlite", NOW, BOOK) as ledger:
        deliver(batch(invoices)[:1], book, invoices, ledger, smtp(server), NOW)
    [received] = server.received()
    assert received.rcpt_tos == ("pagos@lopez.mx", "conta@lopez.mx")
    assert received.message["Bcc"] is None
    assert received.subject == "Mi Empresa S.A. de C.V.: factura vencida, Malo Bcc: x@evil.com"


def test_injected_address_is_never_a_recipient_and_the_notice_waits(server, setup) -> None:
    """An address the mailer refuses is not a final error: the notice waits, unrecorded,
    with an Errores row on the customer's Email cell, and goes once the Email is fixed."""
    book, invoices, ledger = setup
    item = notice(invoices, "C2", to=("ruiz@ruiz.mx\r\nBcc: x@evil.com",))
    rows = deliver([item], book, invoices, ledger, smtp(server), NOW)
    assert states(rows) == [("C2", "pendiente", '"ruiz@ruiz.mx Bcc: x@evil.com" no es una '
                             "dirección de correo válida (use nombre@dominio.com).")]
    assert rows[0].input_error == InputError(
        "Clientes", 3, "Email", "ruiz@ruiz.mx",
        "el correo no se puede enviar a ruiz@ruiz.mx Bcc: x@evil.com; el aviso VENCIDA_1 "
        "queda pendiente hasta que corrija la dirección (use nombre@dominio.com)")
    assert server.received() == []
    assert ledger.rows() == []
    later = NOW + timedelta(minutes=1)
    rows = deliver([notice(invoices, "C2")], book, invoices, ledger, smtp(server), later)
    assert states(rows) == [("C2", "enviado", "")]
    assert [r.rcpt_tos for r in server.received()] == [("ruiz@ruiz.mx",)]


def test_sandbox_violation_waits_pendiente_with_an_errores_row(server, tmp_path) -> None:
    """A template the user can fix is never final: nothing recorded, one Errores row on
    its Plantillas row (not one per message), the day as the Envíos time."""
    templates = [("VENCIDA_1", "{{ cycler.__init__.__globals__ }}", "x", True)]
    book = make_test_book(templates=templates)
    invoices = compute_invoices(book, NOW.date())
    with Ledger.open(tmp_path / "l.sqlite", NOW, BOOK) as ledger:
        rows = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW)
        explained = ('Plantilla "VENCIDA_1", Asunto: la plantilla intenta una operación no '
                     'permitida (el acceso a "__init__"); use solo las variables del aviso.')
        assert [(r.state, r.reason_text, r.logged) for r in rows[:2]] == [
            ("pendiente", explained, False)] * 2
        assert [r.when for r in rows[:2]] == [NOW.replace(hour=0)] * 2
        assert [r.input_error for r in rows[:2]] == [InputError(
            "Plantillas", 2, "Código", "VENCIDA_1",
            explained + " Los mensajes que usan esta plantilla quedan pendientes; se enviarán "
            "una vez corregida, mientras sigan vigentes."), None]
        assert ledger.rows() == []
        assert ledger.history(NOW).final_keys == frozenset()
    assert server.received() == []


def as_skipped(item: Outgoing, reason: Reason) -> Skipped:
    """`item` as the planner's `omitido` batch of one message."""
    strings = lambda *values: np.array(values, dtype=object)  # noqa: E731
    return Skipped(
        code=strings(item.code), recipient=strings(item.recipient),
        to=strings("; ".join(item.to)), template=strings(item.template),
        reason=strings(reason), start=np.array([0]),
        invoice=strings(*(line.invoice for line in item.lines)), key=strings(*item.keys),
    )


def test_planner_omitidos_are_recorded_errors_and_pendientes_only_reported(
    server, setup
) -> None:
    """A planner error (no valid email) is not final: fixed data lets the notice go."""
    book, invoices, ledger = setup
    c1, c2, c3 = batch(invoices)
    items = [
        Outgoing(**{**c2.__dict__, "state": "pendiente", "reason": WINDOW}),
        Outgoing(**{**c3.__dict__, "state": "error", "to": (), "reason": NO_EMAIL}),
    ]
    skipped = as_skipped(c1, LATE)
    rows = deliver(items, book, invoices, ledger, smtp(server), NOW, skipped=skipped)
    window = "fuera de la ventana de envío 08:00-20:00 (hora del cliente)"
    no_email = "el cliente no tiene un email válido en la hoja Clientes"
    assert states(rows) == [("C2", "pendiente", window),
                            ("C3", "error", no_email)]  # the batch is counted apart
    assert [(r.recipient, r.state) for r in ledger.rows()] == [("C1", "omitido")]
    assert ledger.state_of(c3.keys[0]) is None
    assert server.received() == []
    sheet = envios_sheet(envios_rows(ledger, rows), NOW)
    assert sorted((r[3], r[7], r[8]) for r in sheet.tables[0].rows) == [
        ("C1", "omitido", "fuera de plazo"), ("C2", "pendiente", window),
        ("C3", "error", no_email),
    ]


def test_stop_is_checked_between_messages(server, setup) -> None:
    book, invoices, ledger = setup
    calls = []
    rows = deliver(batch(invoices), book, invoices, ledger, smtp(server), NOW,
                   stop=lambda: calls.append(1) or len(calls) > 1)
    assert states(rows) == [("C1", "enviado", "")]
    assert len(server.received()) == 1


def test_dry_run_renders_without_claiming_or_sending(server, setup) -> None:
    book, invoices, ledger = setup
    rows = deliver(batch(invoices), book, invoices, ledger, None, NOW, dry_run=True)
    assert [r.state for r in rows] == ["listo"] * 3
    assert rows[0].body.startswith("Estimado(a) Ferretería López:\n- Factura F-1")
    assert ledger.rows() == [] and server.received() == []
    sheet = preview_sheet([r.preview_row() for r in rows], NOW)
    assert sheet.tables[0].rows[0][:6] == (
        "VENCIDA_1", "C1 - Ferretería López", "pagos@lopez.mx", "conta@lopez.mx", "F-1, F-2",
        "Mi Empresa S.A. de C.V.: factura vencida, Ferretería López",
    )


def test_preview_sheet_leaves_out_omitido_messages() -> None:
    rows = [
        PreviewRow(f"C{i}", f"R{i}", "", "", "", "", "", "", SendState(state), "")
        for i, state in enumerate(("listo", "omitido", "pendiente", "enviado", "omitido",
                                   "error", "incierto"))
    ]
    sheet = preview_sheet(rows, NOW)
    table = sheet.tables[0]
    assert [(r[0], r[7]) for r in table.rows] == [
        ("C0", "listo"), ("C2", "pendiente"), ("C3", "enviado"), ("C5", "error"),
        ("C6", "incierto"),
    ]
    assert [c.value for c in sheet.cells if c.row == 2 and c.col == 4] == ["5 mensajes"]


def test_outbox_transport_through_deliver(setup, tmp_path) -> None:
    book, invoices, ledger = setup
    rows = deliver(batch(invoices), book, invoices, ledger, OutboxTransport(tmp_path / "salida"),
                   NOW)
    assert [r.state for r in rows] == ["enviado"] * 3
    names = sorted(os.listdir(tmp_path / "salida"))
    assert len(names) == 3 and all(n.startswith("20261125-100000-") for n in names)
    assert {n.endswith(".eml") for n in names} == {True}


def test_envios_sheet_newest_first_with_local_times(server, setup) -> None:
    book, invoices, ledger = setup
    deliver(batch(invoices)[:1], book, invoices, ledger, smtp(server), NOW)
    later = NOW + timedelta(hours=2)
    deliver(batch(invoices)[1:2], book, invoices, ledger, smtp(server), later)
    sheet = envios_sheet(ledger.rows(), later)
    table = sheet.tables[0]
    assert table.name == "tblEnvios"
    assert table.columns == ("Fecha", "Tipo", "Código", "Destinatario", "Para", "Facturas",
                             "Asunto", "Estado", "Motivo", "Archivo")
    assert [r[:6] + r[7:] for r in table.rows] == [  # delivered with no archive: Archivo ""
        (datetime(2026, 11, 25, 12, 0), "Aviso", "VENCIDA_1", "C2", "ruiz@ruiz.mx", "F-3",
         "enviado", "", ""),
        (datetime(2026, 11, 25, 10, 0), "Aviso", "VENCIDA_1", "C1", "pagos@lopez.mx",
         "F-1, F-2", "enviado", "", ""),
    ]
    assert sheet.cells[-1].value == "2 enviados"


class _Failing:
    """A transport whose send fails with a given exception (outcomes not reachable safely
    with a real server: a connection cut after the data was sent, a programming error)."""

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def serialize(self, msg) -> bytes:
        return msg.as_bytes()

    def send(self, msg, data: bytes | None = None) -> str:
        raise self.exc

    def supports_smtputf8(self) -> bool:
        return True

    def close(self) -> None:
        return None


def test_connection_lost_during_data_is_incierto(setup) -> None:
    book, invoices, ledger = setup
    lost = UncertainSendError("se perdió la conexión; el mensaje pudo haberse entregado.")
    rows = deliver(batch(invoices)[:1], book, invoices, ledger, _Failing(lost), NOW)
    assert states(rows) == [("C1", "incierto", str(lost))]
    assert ledger.rows()[0].state == "incierto"


def test_unexpected_failure_is_recorded_incierto_and_raised(setup) -> None:
    book, invoices, ledger = setup
    with pytest.raises(RuntimeError):
        deliver(batch(invoices)[:1], book, invoices, ledger, _Failing(RuntimeError("x")), NOW)
    assert [(r.state, r.reason, r.reason_code) for r in ledger.rows()] == [
        ("incierto", "error interno durante el envío", "error_interno")
    ]


def test_skipped_batch_is_recorded_in_a_real_run_only(server, setup) -> None:
    book, invoices, ledger = setup
    keys = [notice_key("C1", f, "VENCIDA_1") for f in ("F-1", "F-2")]
    strings = lambda *values: np.array(values, dtype=object)  # noqa: E731
    skipped = Skipped(
        code=strings("VENCIDA_1"), recipient=strings("C1"), to=strings("pagos@lopez.mx"),
        template=strings("VENCIDA_1"), reason=strings(LATE),
        start=np.array([0]), invoice=strings("F-1", "F-2"), key=strings(*keys),
    )
    assert deliver([], book, invoices, ledger, None, NOW, dry_run=True, skipped=skipped) == []
    assert ledger.rows() == []
    assert deliver([], book, invoices, ledger, smtp(server), NOW, skipped=skipped) == []
    assert [(r.recipient, r.to, r.invoices, r.state, r.reason)
            for r in ledger.rows()] == [
        ("C1", "pagos@lopez.mx", "F-1, F-2", "omitido", "fuera de plazo")]
    assert [ledger.state_of(k) for k in keys] == ["omitido", "omitido"]
    assert server.received() == []


