"""The demo workbook round trip, as a user runs it: `cobranza init --demo`, then
`cobranza sync` three times (twice at the same instant, once the next day) against a real
SMTP server, then the output sheets, the messages, the ledger and the package are read
back and checked against the demo data (sync.workbook.demo), computed here independently where
that is possible.

One module-scoped flow does the slow part once; each test reads its snapshots.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path, PurePosixPath

import openpyxl
import pytest
from lxml import etree

from cobranza.rules.invoices import compute_invoices
from sync.cycle import OUTPUT_SHEETS
from sync.ledger.store import ledger_path
from sync.workbook.demo import DemoData, generate
from sync.xlsx.reader import read_book
from tests.lo import convert_to_pdf
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import append_rows, lab_pace

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
DAY1, DAY2 = date(2026, 12, 1), date(2026, 12, 2)
AT1, AT2 = "2026-12-01T10:00", "2026-12-02T10:00"
OUTPUTS = OUTPUT_SHEETS
# The user's own customer whose name is a formula, and its invoice 35 days overdue.
EVIL = '=HYPERLINK("http://x","y")'
EVIL_ID, EVIL_INVOICE, EVIL_AMOUNT = "HIP010101AB1", "F-900001", 15000.0
EVIL_DUE = DAY1 - timedelta(days=35)
NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
      "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
      "rel": "http://schemas.openxmlformats.org/package/2006/relationships"}


# ============================================================== the flow, run once


@dataclass
class Flow:
    folder: Path
    book: Path
    data: DemoData
    snaps: dict[str, Path] = field(default_factory=dict)  # moment -> copy of the workbook
    sent: dict[str, list[Received]] = field(default_factory=dict)  # sync -> new messages
    ledger: dict[str, dict[str, str]] = field(default_factory=dict)  # sync -> id -> state
    stdout: dict[str, str] = field(default_factory=dict)

    def read(self, moment: str) -> bytes:
        return self.snaps[moment].read_bytes()


def cobranza(*args: object, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


def _key(text: object) -> str:
    return str(text or "").strip().lower()


def message_states(book: Path) -> dict[str, str]:
    """Ledger: message id -> state (every key of a message shares it)."""
    with sqlite3.connect(ledger_path(book)) as db:
        return dict(db.execute("SELECT DISTINCT message_id, state FROM sends"))


@pytest.fixture(scope="module")
def flow(tmp_path_factory) -> Flow:
    folder = tmp_path_factory.mktemp("cobranza")
    snaps = tmp_path_factory.mktemp("copias")
    book = folder / "libro.xlsm"
    flow = Flow(folder, book, generate(DAY1))
    with SmtpTestServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
        env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}

        def snap(moment: str) -> None:
            flow.snaps[moment] = snaps / f"{moment}.xlsm"
            shutil.copyfile(book, flow.snaps[moment])

        def sync(moment: str, at: str) -> None:
            seen = len(server.received())
            flow.stdout[moment] = cobranza("sync", book, "--as-of", at, cwd=folder,
                                           env=env).stdout
            flow.sent[moment] = server.received()[seen:]
            flow.ledger[moment] = message_states(book)
            snap(moment)

        cobranza("init", "--demo", "--as-of", DAY1.isoformat(), book, cwd=folder, env=env)
        snap("init")
        append_rows(book, {
            "Clientes": [{"Cliente": EVIL_ID, "Nombre": EVIL, "Email": "pagos@hipervinculo.mx",
                          "Segmento": "PyME", "Cobrador": "Ana López",
                          "Avisos automáticos": "Sí", "Zona horaria": "America/Mexico_City"}],
            "Facturas": [{"Factura": EVIL_INVOICE, "Cliente": EVIL_ID,
                          "Emisión": datetime(2026, 9, 26), "Moneda": "MXN",
                          "Vencimiento": datetime.combine(EVIL_DUE, datetime.min.time()),
                          "Importe": EVIL_AMOUNT}],
        })
        lab_pace(book)
        snap("before")
        sync("day1", AT1)
        sync("day1_again", AT1)
        sync("day2", AT2)
    return flow


# ============================================================== reading sheets back


def rows_of(path: Path, sheet: str, first_header: tuple[str, ...]) -> list[dict[str, object]]:
    """The table on `sheet` whose header row starts with `first_header`, as dicts."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        values = list(wb[sheet].iter_rows(values_only=True))
    finally:
        wb.close()
    start = next(i for i, r in enumerate(values) if r[: len(first_header)] == first_header)
    header = [h for h in values[start] if h is not None]
    out = []
    for r in values[start + 1:]:
        if all(v is None for v in r):
            break
        out.append(dict(zip(header, r, strict=False)))
    return out


def alertas(path: Path) -> list[dict]:
    return rows_of(path, "Alertas", ("Tipo", "Cliente"))


def envios(path: Path) -> list[dict]:
    return rows_of(path, "Envíos", ("Fecha", "Tipo", "Código"))


def invoice_rows(data: DemoData) -> dict[str, tuple]:
    """First demo row of each invoice id (what the reader keeps)."""
    out: dict[str, tuple] = {}
    for r in data.invoices:
        out.setdefault(r[0], r)
    return out


def money(amount: float | Decimal, currency: str) -> str:
    return f"${Decimal(str(amount)):,.2f} {currency}"


def clave(message: Received) -> str:
    return str(message.message["X-Cobranza-Clave"])


def codes_of(message: Received) -> list[str]:
    """The notices a customer email carries (most severe first), or a digest's code."""
    avisos = message.message["X-Cobranza-Avisos"]
    if avisos is not None:
        return str(avisos).split(", ")
    return [clave(message).rsplit("-", 1)[0].upper()]


def code_of(message: Received) -> str:
    return codes_of(message)[0]


def to_of(message: Received) -> set[str]:
    return {a.strip().lower() for a in str(message.message["To"]).split(",")}


def to_customer(messages: list[Received], email: str, code: str) -> list[Received]:
    """The emails to `email` that carry the notice `code`."""
    return [m for m in messages if email in to_of(m) and code in codes_of(m)]


def body_lines(message: Received) -> list[str]:
    return [ln for ln in message.body().splitlines() if ln.startswith("- Factura ")]


STATEMENT_LINE = re.compile(r"^- Factura (\S+), vence el [0-9/]+: .* \((.+)\)$")


def statement_lines_of(message: Received) -> list[tuple[str, str]]:
    """(invoice, Estatus) of the statement part of a customer email."""
    return [m.groups() for ln in body_lines(message) if (m := STATEMENT_LINE.match(ln))]


# ============================================================== Errores


def test_errores_lists_every_bad_demo_row_and_the_customer_without_email(flow):
    data, c = flow.data, flow.data.cases
    inv = [r[0] for r in data.invoices]
    row = {name: inv.index(c[name]) + 2 for name in
           ("fecha_invalida", "importe_negativo", "importe_texto", "vencimiento_antes")}
    unknown = next(i for i, r in enumerate(data.invoices) if r[1] == "ZZZ991231XX9") + 2
    duplicate = [i for i, n in enumerate(inv) if n == c["duplicada"]][1] + 2
    customer_row = [r[0] for r in data.customers].index(c["sin_email"]) + 2
    bad_email = data.customers[customer_row - 2][2]
    payment_row = next(i for i, p in enumerate(data.payments) if p[2] == "F-999999") + 2
    contact_row = next(i for i, g in enumerate(data.contacts)
                       if g[4] == "Llamar la próxima semana") + 2
    before = invoice_rows(data)[c["vencimiento_antes"]]

    got = rows_of(flow.snaps["day1"], "Errores", ("Hoja", "Fila"))
    assert Counter((r["Hoja"], r["Fila"], r["Columna"], r["Valor"]) for r in got) == Counter([
        ("Clientes", customer_row, "Email", bad_email),
        ("Clientes", customer_row, "Email", None),  # the planner: its notices cannot go
        ("Facturas", row["fecha_invalida"], "Vencimiento", "31/02/2026"),
        ("Facturas", row["importe_negativo"], "Importe", "-1500"),
        ("Facturas", row["importe_texto"], "Importe", "mil pesos"),
        ("Facturas", unknown, "Cliente", "ZZZ991231XX9"),
        ("Facturas", duplicate, "Factura", c["duplicada"]),
        ("Facturas", row["vencimiento_antes"], "Vencimiento", f"{before[3]:%d/%m/%Y}"),
        ("Pagos", payment_row, "Factura", "F-999999"),
        ("Gestiones", contact_row, "Resultado", "Llamar la próxima semana"),
    ])
    assert all(isinstance(r["Problema"], str) and len(r["Problema"]) > 20 for r in got)
    assert "10 errores en los datos (vea la hoja Errores)" in flow.stdout["day1"]


# ============================================================== statuses and alerts


def test_edge_case_statuses_through_the_rules(flow):
    book = read_book(flow.snaps["day1"])
    status = dict(zip(*(compute_invoices(book, DAY1)[k] for k in ("invoice", "status")),
                      strict=True))
    c = flow.data.cases
    assert {name: status[c[name]] for name in (
        "promesa_hoy", "promesa_ayer", "promesa_manana", "dos_parciales", "pagada", "parcial",
        "disputa_abierta", "disputa_resuelta", "tercero", "castigo", "pago_informado_viejo",
        "vencida_1", "suspension_60", "previo")} == {
        "promesa_hoy": "Promesa de pago",
        "promesa_ayer": "Promesa incumplida",
        "promesa_manana": "Promesa de pago",
        "dos_parciales": "Pagada",
        "pagada": "Pagada",
        "parcial": "Vencida",
        "disputa_abierta": "Disputa",
        "disputa_resuelta": "Vencida",  # 50 days overdue, back to the date rule
        "tercero": "Tercerizada",
        "castigo": "Castigada",
        "pago_informado_viejo": "Pago informado",
        "vencida_1": "Vencida",
        "suspension_60": "En acción",  # exactly Días acción
        "previo": "Por vencer",
    }
    assert status[EVIL_INVOICE] == "Vencida"
    for bad in ("fecha_invalida", "importe_negativo", "importe_texto", "vencimiento_antes"):
        assert c[bad] not in status


def test_alertas_name_the_edge_case_invoices_and_customers(flow):
    c = flow.data.cases
    rows = alertas(flow.snaps["day1"])
    by_invoice = Counter((r["Factura"], r["Tipo"]) for r in rows if r["Factura"])
    by_customer = {(r["Cliente"], r["Tipo"]) for r in rows}
    assert by_invoice[(c["promesa_ayer"], "Promesa incumplida")] == 1
    assert by_invoice[(c["suspension_60"], "Acción")] == 1
    assert by_invoice[(c["pago_informado_viejo"], "Pago informado no acreditado")] == 1
    assert by_invoice[(c["disputa_abierta"], "Disputa abierta")] == 1
    (dispute,) = [r for r in rows if r["Factura"] == c["disputa_abierta"]]
    assert (dispute["Área"], dispute["Saldo"], dispute["Cliente"]) == (
        "Calidad", 45800.0, c["cliente_disputas"])
    # Not alerted: a promise due today, a recent reported payment, a resolved dispute,
    # a paid invoice, a written-off one.
    for name in ("promesa_hoy", "pago_informado_reciente", "pagada", "dos_parciales",
                 "castigo"):
        assert not [r for r in rows if r["Factura"] == c[name]], name
    assert not [t for (i, t) in by_invoice if i == c["disputa_resuelta"] and t != "Acción"
                and t.startswith("Disputa")]
    assert (c["credito_95"], "Crédito") in by_customer
    assert (c["credito_120"], "Crédito") in by_customer
    assert (c["sin_gestion"], "Sin gestión") in by_customer
    assert (c["cliente_castigo"], "Mora > 30") not in by_customer
    # The count summary on top agrees with the table.
    summary = rows_of(flow.snaps["day1"], "Alertas", ("Tipo", "Cantidad"))
    counts = Counter(r["Tipo"] for r in rows)
    assert {r["Tipo"]: r["Cantidad"] for r in summary if r["Tipo"] != "Total"} == {
        t: counts[t] for t in counts} | {r["Tipo"]: 0 for r in summary
                                         if r["Tipo"] not in counts and r["Tipo"] != "Total"}
    assert {r["Tipo"]: r["Cantidad"] for r in summary}["Total"] == len(rows)


def test_a_customer_named_like_a_formula_stays_text(flow):
    rows = [r for r in alertas(flow.snaps["day1"]) if r["Cliente"] == EVIL_ID]
    assert ("Mora > 30", EVIL, 15000.0, 35) in {
        (r["Tipo"], r["Nombre"], r["Saldo"], r["Días"]) for r in rows}
    with zipfile.ZipFile(flow.snaps["day1"]) as z:
        part = sheet_parts(z)["Alertas"]
        xml = z.read(part).decode("utf-8")
    assert "<f>" not in xml and "<f " not in xml
    assert '=HYPERLINK(&quot;http://x&quot;,&quot;y&quot;)' in xml or EVIL in xml
    wb = openpyxl.load_workbook(flow.snaps["day1"], read_only=True)
    cells = [c for row in wb["Alertas"].iter_rows() for c in row if c.value == EVIL]
    assert cells and all(c.data_type == "s" for c in cells)
    wb.close()


# ============================================================== Tablero and Agenda


def test_tablero_totals_per_currency_equal_the_open_balances(flow):
    """Open balances computed here from the demo rows (valid ones), not by the rules."""
    data, c = flow.data, flow.data.cases
    bad = {c[n] for n in ("fecha_invalida", "importe_negativo", "importe_texto",
                          "vencimiento_antes")}
    invoices = {n: r for n, r in invoice_rows(data).items()
                if n not in bad and r[1] != "ZZZ991231XX9" and n != c["castigo"]}
    invoices[EVIL_INVOICE] = (EVIL_INVOICE, EVIL_ID, None, EVIL_DUE, "MXN", EVIL_AMOUNT, None)
    paid: Counter = Counter()
    for when, _customer, number, amount, _ref in data.payments:
        if when <= DAY1:
            paid[number] += Decimal(str(amount))
    expected: dict[str, list] = {}
    for number, _cust, _issued, due, currency, amount, _notes in invoices.values():
        balance = Decimal(str(amount)) - paid[number]
        if balance > 0:
            count, total, overdue = expected.setdefault(currency, [0, Decimal(0), Decimal(0)])
            expected[currency] = [count + 1, total + balance,
                                  overdue + (balance if due < DAY1 else 0)]
    got = rows_of(flow.snaps["day1"], "Tablero", ("Moneda", "Facturas abiertas"))
    assert {r["Moneda"]: [r["Facturas abiertas"], Decimal(str(r["Cartera"])),
                          Decimal(str(r["Vencido"]))] for r in got} == expected
    assert sorted(expected) == ["MXN", "USD"]


def test_agenda_lists_each_collectors_calls_in_priority_order(flow):
    c = flow.data.cases
    rows = rows_of(flow.snaps["day1"], "Agenda", ("Cobrador", "Prioridad"))
    collectors = [r["Cobrador"] for r in rows]
    blocks = list(dict.fromkeys(collectors))
    assert collectors == sorted(collectors, key=blocks.index)  # one block per collector
    assert set(blocks) <= {name for name, *_ in flow.data.collectors}
    for name in blocks:
        priorities = [r["Prioridad"] for r in rows if r["Cobrador"] == name]
        assert priorities == sorted(priorities), name
    calls = Counter((r["Cobrador"], r["Cliente"]) for r in rows)
    assert max(calls.values()) == 1  # one call per customer and collector
    reasons = {(r["Cobrador"], r["Prioridad"], r["Motivo"], r["Cliente"]): r for r in rows}
    promises = reasons[("Ana López", 2, "Promesa incumplida", c["cliente_promesas"])]
    assert c["promesa_ayer"] in promises["Facturas"].split(", ")
    large = reasons[("Ana López", 3, "Factura grande por vencer", c["cliente_llamada_previa"])]
    assert large["Facturas"] == c["llamada_previa"]
    assert reasons[("Carlos Méndez", 4, "Sin gestión reciente", c["sin_gestion"])][
        "Facturas"] is None
    # A promise due today is not a call yet; a written-off customer is not called.
    assert not [r for r in rows if c["promesa_hoy"] in (r["Facturas"] or "").split(", ")]
    assert not [r for r in rows if r["Cliente"] == c["cliente_castigo"]]


# ============================================================== the messages


def test_vencida_15_goes_to_that_customer_listing_that_invoice(flow):
    c, sent = flow.data.cases, flow.sent["day1"]
    customer = next(r for r in flow.data.customers if r[0] == c["cliente_vencida_15"])
    email, cc = customer[2], customer[3]
    invoice = invoice_rows(flow.data)[c["vencida_15"]]
    (msg,) = to_customer(sent, email, "VENCIDA_15")
    assert msg.rcpt_tos == (email, cc)
    assert str(msg.message["Cc"]) == cc
    # One email that day: the reminder (most severe: its subject) and the statement.
    assert [codes_of(m) for m in sent if email in to_of(m)] == [["VENCIDA_15", "ESTADO_MENSUAL"]]
    assert msg.subject == f"Segundo recordatorio de pago: factura {invoice[0]}"
    assert plantilla(flow, "VENCIDA_15") == "Segundo recordatorio de pago: {{ facturas_asunto }}"
    assert body_lines(msg) == [
        f"- Factura {invoice[0]}, vencida el {invoice[3]:%d/%m/%Y} (15 días): "
        f"{money(invoice[5], 'MXN')}",
        f"- Factura {invoice[0]}, vence el {invoice[3]:%d/%m/%Y}: {money(invoice[5], 'MXN')} "
        "(Vencida)"]
    assert customer[1] in msg.body()
    assert msg.body().index("15 días") < msg.body().index("estado de cuenta")


def test_monthly_statement_attaches_the_open_invoices(flow):
    """Transportes (two partial payments settle one invoice, a payment without Cliente
    another, one partly paid): the statement lists only what is still owed."""
    c, sent = flow.data.cases, flow.sent["day1"]
    customer = next(r for r in flow.data.customers if r[0] == c["cliente_pagos"])
    (msg,) = to_customer(sent, customer[2], "ESTADO_MENSUAL")
    assert codes_of(msg) == ["VENCIDA_15", "ESTADO_MENSUAL"]
    assert msg.subject == f"Segundo recordatorio de pago: factura {c['parcial']}"
    files = msg.attachments()
    name = f"estado-de-cuenta-{customer[0]}-2026-12"
    assert list(files) == [f"{name}.pdf", f"{name}.xlsx"]
    ws = openpyxl.load_workbook(io.BytesIO(files[f"{name}.xlsx"])).active
    values = [r for r in ws.iter_rows(values_only=True)]
    header = values.index(("Factura", "Emisión", "Vencimiento", "Días vencidos", "Moneda",
                           "Saldo", "Estatus"))
    partial = invoice_rows(flow.data)[c["parcial"]]
    paid = sum(p[3] for p in flow.data.payments if p[2] == c["parcial"])
    balance = partial[5] - paid
    assert values[header + 1:header + 4] == [
        (partial[0], datetime.combine(partial[2], datetime.min.time()),
         datetime.combine(partial[3], datetime.min.time()), (DAY1 - partial[3]).days,
         "MXN", balance, "Vencida"),
        (None,) * 7,
        ("Total", None, None, None, "MXN", balance, None),
    ]
    # The payments of the last 30 days, also the one typed without Cliente (its invoice
    # says whose it is), by date.
    mine = {r[0] for r in flow.data.invoices if r[1] == customer[0]}
    paid_in = sorted((p for p in flow.data.payments if p[2] in mine
                      and DAY1 - timedelta(days=30) <= p[0] <= DAY1), key=lambda p: p[0])
    assert len(paid_in) == 4 and any(p[1] is None for p in paid_in)
    start = values.index(("Fecha", "Factura", "Importe", "Moneda", "Referencia", None, None))
    assert values[start + 1:start + 5] == [
        (datetime.combine(p[0], datetime.min.time()), p[2], p[3], "MXN", p[4], None, None)
        for p in paid_in]
    assert statement_lines_of(msg) == [(partial[0], "Vencida")]
    assert f"{money(balance, 'MXN')} (Vencida)" in msg.body()


def test_promises_get_their_own_notices(flow):
    """One email for the customer with promises: the broken one's claim first, then the
    reminder of the promises still coming, then the statement."""
    c, sent = flow.data.cases, flow.sent["day1"]
    email = next(r for r in flow.data.customers if r[0] == c["cliente_promesas"])[2]
    (msg,) = to_customer(sent, email, "PROMESA_PREVIA")
    assert codes_of(msg) == ["PROMESA_INCUMPLIDA", "VENCIDA_15", "PROMESA_PREVIA",
                             "ESTADO_MENSUAL"]
    assert msg.subject == f"Compromiso de pago no cumplido: factura {c['promesa_ayer']}"
    promised = [ln for ln in body_lines(msg) if "fecha de pago acordada" in ln]
    assert promised == [
        f"- Factura {c['promesa_ayer']}: $22,450.30 MXN, fecha de pago acordada: "
        f"{DAY1 - timedelta(days=1):%d/%m/%Y}",
        f"- Factura {c['promesa_hoy']}: $18,900.00 MXN, fecha de pago acordada: "
        f"{DAY1:%d/%m/%Y}",
        f"- Factura {c['promesa_manana']}: $7,300.00 MXN, fecha de pago acordada: "
        f"{DAY1 + timedelta(days=1):%d/%m/%Y}"]
    # The next day the promise made for "today" is broken: its claim goes out then.
    (late,) = to_customer(flow.sent["day2"], email, "PROMESA_INCUMPLIDA")
    assert [ln for ln in body_lines(late) if "fecha de pago acordada" in ln] == [
        f"- Factura {c['promesa_hoy']}: $18,900.00 MXN, fecha de pago acordada: "
        f"{DAY1:%d/%m/%Y}"]


def test_one_email_per_customer_per_day(flow):
    """Every customer got at most one email each day, whatever was due (SPEC)."""
    for moment in ("day1", "day2"):
        per_customer = Counter(frozenset(to_of(m)) for m in flow.sent[moment]
                               if not code_of(m).startswith("RESUMEN"))
        assert per_customer and max(per_customer.values()) == 1, moment
    several = [m for m in flow.sent["day1"] if len(codes_of(m)) > 2]
    assert several  # the demo has customers with three or more notices due that day


def test_excluded_customers_get_nothing(flow):
    c, sent = flow.data.cases, flow.sent["day1"] + flow.sent["day2"]
    customers = {r[0]: r for r in flow.data.customers}
    everyone = Counter(a for m in sent for a in m.rcpt_tos)
    for name in ("sin_avisos", "vip", "cliente_tercero", "cliente_castigo"):
        for address in customers[c[name]][2].split(";"):
            assert everyone[address.strip()] == 0, name
    # No valid email: not a silent skip, an Errores row and an Envíos pendiente.
    rows = envios(flow.snaps["day1"])
    assert {(r["Código"], r["Estado"], r["Motivo"]) for r in rows
            if r["Destinatario"] == c["sin_email"] and r["Estado"] != "omitido"} == {
        (code, "pendiente", "el cliente no tiene un email válido en la hoja Clientes")
        for code in ("VENCIDA_1", "ESTADO_MENSUAL")}
    assert not [r for r in rows if r["Destinatario"] == c["sin_avisos"]
                and r["Estado"] == "enviado"]
    assert EVIL_ID in {r["Destinatario"] for r in rows if r["Estado"] == "enviado"}


def test_digests_print_the_due_and_promise_dates(flow):
    """The digests of the demo's first day: no blank date ("vencida el  (94 días)",
    "fecha de pago acordada: "); each date is the invoice's Vencimiento or promise."""
    digests = [m for m in flow.sent["day1"] if code_of(m).startswith("RESUMEN_")]
    book = read_book(flow.snaps["day1"])
    invoices = compute_invoices(book, DAY1).set_index("invoice")
    (actions,) = [m for m in digests if code_of(m) == "RESUMEN_ACCIONES"]
    lines = body_lines(actions)
    assert len(lines) == len(alertas_of_type(flow, "Acción")) > 100
    for line in lines:
        found = re.match(r"- Factura (\S+) \(\S+\), vencida el (\d\d/\d\d/\d{4}) \((\d+) días\)",
                         line)
        assert found, line
        due = invoices.loc[found[1], "due"]
        assert (found[2], int(found[3])) == (f"{due:%d/%m/%Y}", (DAY1 - due.date()).days)
    promised = [ln for m in digests if code_of(m) == "RESUMEN_COBRADOR_DIARIO"
                for ln in body_lines(m)]
    assert len(promised) == len(alertas_of_type(flow, "Promesa incumplida")) > 0
    for line in promised:
        found = re.match(r"- Factura (\S+) .*, fecha de pago acordada: (\d\d/\d\d/\d{4})$", line)
        assert found, line
        assert found[2] == f"{invoices.loc[found[1], 'promise_date']:%d/%m/%Y}"


def test_every_invoice_at_the_suspension_stage_is_in_the_actions_digest(flow):
    """What customers are told is suspended (60 days or more, not disputed, ...), the
    Responsable de acciones is told too: broken promises included."""
    sent = flow.sent["day1"]
    (actions,) = [m for m in sent if code_of(m) == "RESUMEN_ACCIONES"]
    listed = {line.split()[2] for line in body_lines(actions)}
    customers = [m for m in sent if not code_of(m).startswith("RESUMEN_")]
    told = {f[1] for m in customers for line in body_lines(m)
            if (f := re.match(r"- Factura (\S+), vencida el \S+ \((\d+) días\)", line))
            and int(f[2]) >= 60}
    assert len(told) > 10 and told <= listed
    broken = {r["Factura"] for r in alertas_of_type(flow, "Promesa incumplida")}
    assert broken & told and broken & told <= listed


def alertas_of_type(flow: Flow, kind: str) -> list[dict]:
    return [r for r in alertas(flow.snaps["day1"]) if r["Tipo"] == kind]


def plantilla(flow: Flow, code: str) -> str:
    rows = rows_of(flow.snaps["before"], "Plantillas", ("Código", "Asunto"))
    return next(r["Asunto"] for r in rows if r["Código"] == code)


# ============================================================== exactly once, Envíos = ledger


def test_envios_rows_match_the_ledger_and_the_server(flow):
    book = flow.snaps["day1"]
    sheet = envios(book)
    states = flow.ledger["day1"]
    # Every message the server accepted is `enviado` in the ledger, and the reverse.
    assert sorted(clave(m) for m in flow.sent["day1"]) == sorted(
        m for m, s in states.items() if s == "enviado")
    assert len(flow.sent["day1"]) == len({clave(m) for m in flow.sent["day1"]})
    # Each sent email's row names its notices and each one's invoices, as the ledger has
    # them and the email carries them.
    rows = Counter((r["Destinatario"], r["Código"], r["Facturas"]) for r in sheet
                   if r["Estado"] == "enviado" and r["Tipo"] == "Aviso")
    parts_of, recipient_of = ledger_parts(flow.book), ledger_recipients(flow.book)
    expected = Counter()
    for m in flow.sent["day1"]:
        if code_of(m).startswith("RESUMEN"):
            continue
        parts = parts_of[clave(m)]
        assert list(parts) == codes_of(m)
        listed = [", ".join(numbers) for numbers in parts.values()]
        shown = listed[0] if len(parts) == 1 else "; ".join(
            f"{code}: {text}" for code, text in zip(parts, listed, strict=True))
        expected[(recipient_of[clave(m)], ", ".join(parts), shown)] += 1
    assert rows == expected
    assert Counter(r["Estado"] for r in sheet)["enviado"] == len(flow.sent["day1"])
    # The customer without a valid email: its notices wait (the user can fix it).
    waiting = {(r["Código"], r["Destinatario"], r["Facturas"]) for r in sheet
               if r["Estado"] == "pendiente"}
    assert waiting == {("VENCIDA_1", flow.data.cases["sin_email"],
                       flow.data.cases["factura_sin_email"]),
                      ("ESTADO_MENSUAL", flow.data.cases["sin_email"],
                       flow.data.cases["factura_sin_email"])}


def test_second_sync_at_the_same_instant_sends_nothing_and_keeps_envios(flow):
    assert flow.sent["day1_again"] == []
    assert flow.ledger["day1_again"] == flow.ledger["day1"]
    assert envios(flow.snaps["day1_again"]) == envios(flow.snaps["day1"])
    assert "Envíos: 2 pendientes" in flow.stdout["day1_again"]


def test_next_day_sends_only_what_became_due(flow):
    c = flow.data.cases
    day1 = {clave(m) for m in flow.sent["day1"]}
    day2 = flow.sent["day2"]
    assert day2 and not {clave(m) for m in day2} & day1
    assert all(Counter(clave(m) for m in day2).values()) == 1
    assert all(flow.ledger["day2"][clave(m)] == "enviado" for m in day2)

    # What each notice waits for (the workbook's own Avisos table).
    avisos = avisos_table(flow.snaps["before"])
    book = read_book(flow.snaps["day2"])
    before = compute_invoices(book, DAY1).set_index("invoice")
    today = compute_invoices(book, DAY2).set_index("invoice")
    parts_of = ledger_parts(flow.book)
    codes = Counter(code for m in day2 for code in codes_of(m))
    assert "ESTADO_MENSUAL" not in codes and "NUEVA" not in codes
    assert {k for k in codes if k.startswith("RESUMEN")} == {
        "RESUMEN_ACCIONES", "RESUMEN_COBRADOR_DIARIO"}  # daily digests only, new day
    for m in day2:
        if code_of(m).startswith("RESUMEN"):
            continue
        for code, numbers in parts_of[clave(m)].items():
            reference, days = avisos[code]
            for number in numbers:
                row = today.loc[number]
                if reference == "vencimiento":
                    due_day = row["due"].date() + timedelta(days=days)
                    held = before.loc[number, "status"] == "Promesa de pago"
                    assert due_day == DAY2 or (held and due_day <= DAY2), (code, number)
                elif reference == "compromiso":
                    assert row["promise_date"].date() + timedelta(days=days) == DAY2, number
                else:
                    raise AssertionError(f"{code} no debía salir el segundo día")
    assert c["promesa_hoy"] in {n for m in day2 for ns in parts_of[clave(m)].values()
                                for n in ns}


def avisos_table(path: Path) -> dict[str, tuple[str, int]]:
    wb = openpyxl.load_workbook(path)
    ws = wb["Configuración"]
    ref = ws.tables["tblAvisos"].ref
    values = [[c.value for c in row] for row in ws[ref]]
    header = values[0]
    return {r[header.index("Código")]: (_key(r[header.index("Referencia")]),
                                        int(r[header.index("Días")])) for r in values[1:]}


def ledger_recipients(book: Path) -> dict[str, str]:
    with sqlite3.connect(ledger_path(book)) as db:
        return dict(db.execute("SELECT DISTINCT message_id, recipient FROM sends"))


def ledger_parts(book: Path) -> dict[str, dict[str, list[str]]]:
    """Message id -> {notice code: its invoices}, in the order the message carries them."""
    with sqlite3.connect(ledger_path(book)) as db:
        rows = db.execute("SELECT message_id, code, invoices FROM sends ORDER BY rowid")
        out: dict[str, dict[str, list[str]]] = {}
        for message, code, invoices in rows:
            out.setdefault(message, {})[code] = [i for i in invoices.split(", ") if i]
    return out


# ============================================================== the package


def sheet_parts(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> its worksheet part."""
    wb = etree.fromstring(z.read("xl/workbook.xml"))
    rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target") for r in rels.iterfind("rel:Relationship", NS)}
    out = {}
    for s in wb.iterfind("m:sheets/m:sheet", NS):
        t = target[s.get(f"{{{NS['r']}}}id")]
        out[s.get("name")] = t.lstrip("/") if t.startswith("/") else f"xl/{t}"
    return out


def owned_parts(z: zipfile.ZipFile, part: str) -> set[str]:
    """`part`, its rels and every part reachable through them (tables, drawings, charts)."""
    out, todo = set(), [part]
    names = set(z.namelist())
    while todo:
        p = todo.pop()
        if p in out or p not in names:
            continue
        out.add(p)
        path = PurePosixPath(p)
        rels = str(path.parent / "_rels" / f"{path.name}.rels")
        if rels in names:
            out.add(rels)
            for r in etree.fromstring(z.read(rels)).iterfind("rel:Relationship", NS):
                if r.get("TargetMode") == "External":
                    continue
                target = os.path.normpath(str(path.parent / r.get("Target"))).lstrip("/")
                todo.append(target)
    return out


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


SHARED = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
          "xl/styles.xml", "xl/calcChain.xml", "docProps/app.xml"}


@pytest.mark.parametrize("old, new", [("before", "day1"), ("day1", "day2")])
def test_only_the_output_sheets_parts_change(flow, old, new):
    a, b = members(flow.read(old)), members(flow.read(new))
    owned: set[str] = set()
    for data in (flow.read(old), flow.read(new)):
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            parts = sheet_parts(z)
            assert set(OUTPUTS) <= set(parts)
            for sheet in OUTPUTS:
                owned |= owned_parts(z, parts[sheet])
    changed = {n for n in set(a) | set(b) if a.get(n) != b.get(n)}
    assert changed - owned - SHARED == set()
    assert any(n.startswith("xl/worksheets/") for n in changed & owned)
    for part in ("xl/vbaProject.bin", "customUI/customUI14.xml"):
        assert a[part] == b[part] == members(flow.read("init"))[part], part
    # The workbook keeps its sheet order and defined names.
    assert workbook_entries(a) == workbook_entries(b)


def workbook_entries(parts: dict[str, bytes]) -> tuple[list, list]:
    wb = etree.fromstring(parts["xl/workbook.xml"])
    sheets = [s.get("name") for s in wb.iterfind("m:sheets/m:sheet", NS)]
    names = [(d.get("name"), d.text) for d in wb.iterfind("m:definedNames/m:definedName", NS)]
    return sheets, names


def test_backups_hold_the_previous_versions(flow):
    folder = flow.folder / ".cobranza" / "backups"
    kept = {p.name: p.read_bytes() for p in folder.iterdir()}
    contents = list(kept.values())
    assert flow.read("before") in contents  # the user's workbook before the first sync
    assert flow.read("day1_again") in contents  # the version the next day replaced
    assert flow.read("day2") not in contents  # the current one is the workbook itself
    assert flow.book.read_bytes() == flow.read("day2")
    assert all(name.startswith("libro-") and name.endswith(".xlsm") for name in kept)


def test_libreoffice_opens_the_synced_workbook(flow, tmp_path):
    pdf = convert_to_pdf(flow.snaps["day2"], tmp_path)
    assert pdf.read_bytes().startswith(b"%PDF")


def test_monthly_statement_body_lists_what_its_attachment_lists(flow):
    """Comercializadora Tepeyac owes three invoices (one broken promise, one promise due
    today, one promise due tomorrow): the email's list and total must be the statement's,
    each invoice marked with its Estatus."""
    c, sent = flow.data.cases, flow.sent["day1"]
    email = next(r for r in flow.data.customers if r[0] == c["cliente_promesas"])[2]
    (msg,) = to_customer(sent, email, "ESTADO_MENSUAL")
    data = next(d for n, d in msg.attachments().items() if n.endswith(".xlsx"))
    rows = list(openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == "Factura") + 1
    end = rows.index((None,) * 7, start)  # the invoices end at the blank row before Total
    attached = [(r[0], r[6]) for r in rows[start:end]]
    assert attached == [(c["promesa_ayer"], "Promesa incumplida"),
                        (c["promesa_hoy"], "Promesa de pago"),
                        (c["promesa_manana"], "Promesa de pago")]
    assert statement_lines_of(msg) == attached
    assert "Saldo total en MXN: $48,650.30 MXN" in msg.body()
