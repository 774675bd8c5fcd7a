"""Riesgo: the score on constructed histories, time-honesty, the new-customer default, the
Agenda order, the Riesgo alto alert and the sheet a real `cobranza sync` writes."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from cobranza.rules.agenda import compute_agenda
from cobranza.rules.alerts import compute_alerts
from cobranza.rules.invoices import compute_invoices
from cobranza.rules.risk import compute_risk
from sync.workbook.init import create_workbook
from tests.book_factory import make_book
from tests.cli import sync, table
from tests.workbook_edit import append_rows

AS_OF = date(2026, 12, 1)


def day(offset: int) -> date:
    return AS_OF + timedelta(days=offset)


def history(late_by: dict[str, int]) -> tuple[list, list]:
    """Ten invoices of 1000 per customer, due 300, 275, ... 75 days before the cut-off,
    each paid in full `late_by[customer]` days after its due date; and one open invoice
    of 1000 per customer, 30 days overdue."""
    invoices, payments = [], []
    for customer, late in late_by.items():
        for i in range(10):
            due = day(-300 + 25 * i)
            invoices.append((f"{customer}{i}", customer, due, 1000, due - timedelta(days=30)))
            payments.append((due + timedelta(days=late), f"{customer}{i}", 1000))
        invoices.append((f"{customer}-open", customer, day(-30), 1000, day(-60)))
    return invoices, payments


INVOICES, PAYMENTS = history({"A": 30, "B": 0})
NEW = ("N1", "N", day(-10), 500, day(-40))  # a new customer: one open invoice, no payments


def risk_of(book, as_of=AS_OF) -> list[tuple]:
    risk = compute_risk(book, compute_invoices(book, as_of), as_of)
    values = risk.astype(object).where(risk.notna(), None)
    return [tuple(r) for r in values.itertuples(index=False)]


def test_late_payer_scores_above_punctual_one_and_says_why():
    # A: 40 (all late) + 20 (30 days late on average) + 15 x 30/60 (oldest open invoice)
    # = 67.5 -> 68, Alto. B: only the open invoice: 7.5 -> 8, Bajo.
    assert risk_of(make_book(invoices=INVOICES, payments=PAYMENTS)) == [
        ("A", "Cliente A", "Ana", 68, "Alto",
         "pagó tarde 10 de sus 10 facturas pagadas en 12 meses (promedio 30 días); "
         "saldo vencido de hasta 30 días", 30, 100000),
        ("B", "Cliente B", "Ana", 8, "Bajo", "saldo vencido de hasta 30 días", 0, 100000),
    ]


def test_new_customer_gets_the_portfolio_base_rate():
    # Base rate over A's and B's paid invoices (same weights): half late, 15 days late on
    # average -> 40 x 0.5 + 20 x 15/30 = 30; plus 15 x 10/60 = 2.5 -> 32.5 -> 33, Bajo.
    book = make_book(invoices=[*INVOICES, NEW], payments=PAYMENTS)
    assert risk_of(book)[1] == ("N", "Cliente N", "Ana", 33, "Bajo",
                                "sin historial de pagos; saldo vencido de hasta 10 días",
                                None, 50000)


def test_promises_disputes_and_credit_use_add_points():
    # 2 promises due unpaid in 90 days (8 each, up to 15), an open dispute (5), the open
    # balance at 100 % of a 1000 limit (5) and 30 days overdue (7.5): 32.5 -> 33.
    book = make_book(
        customers=[("B", "Cliente B", "Ana", 1000)], invoices=INVOICES, payments=PAYMENTS,
        contacts=[("2026-10-01", "B", "B-open", "Promesa de pago", "2026-10-05"),
                  ("2026-10-10", "B", "B-open", "Promesa de pago", "2026-10-20"),
                  ("2026-11-01", "B", "B-open", "Disputa", None, "Ventas")],
    )
    (b,) = [r for r in risk_of(book) if r[0] == "B"]
    assert b == ("B", "Cliente B", "Ana", 33, "Bajo",
                 "2 promesas incumplidas en 90 días; saldo vencido de hasta 30 días; "
                 "1 factura en disputa", 0, 100000)


def test_data_dated_after_the_cut_off_changes_nothing():
    """A payment after the cut-off does not exist yet (the invoice is open, its lateness
    unknown); nor do a later gestión or an invoice issued later."""
    before = make_book(invoices=[*INVOICES, NEW], payments=PAYMENTS)
    after = make_book(
        invoices=[*INVOICES, NEW, ("A-later", "A", day(20), 9000, day(5))],
        payments=[*PAYMENTS, (day(1), "A-open", 1000), (day(2), "N1", 500),
                  (day(3), "A-later", 9000)],
        contacts=[(day(1), "B", "B-open", "Promesa de pago", day(2)),
                  (day(1), "B", "B-open", "Disputa", None, "Ventas")],
    )
    assert risk_of(after) == risk_of(before)
    later = day(40)  # after those days, they count: A-open was paid 31 days late
    assert risk_of(after, later) != risk_of(before, later)


def test_agenda_orders_each_priority_by_risk_times_overdue_balance():
    """Three customers never called (priority 4, same date key): the punctual C1 owing
    100 000, the late payers C9 owing 2 000 and C5 owing 1 000. By code they would be C1,
    C5, C9; by Riesgo x Saldo vencido: C1 (8 x 100 000), C9 (68 x 2 000), C5 (68 x 1 000)."""
    invoices, payments = history({"C9": 30, "C1": 0, "C5": 30})
    invoices = [(f, c, d, 100000 if f == "C1-open" else 2000 if f == "C9-open" else a, i)
                for f, c, d, a, i in invoices]
    book = make_book(invoices=invoices, payments=payments)
    agenda = compute_agenda(book, compute_invoices(book, AS_OF), AS_OF)
    got = agenda[["priority", "customer", "risk"]].values.tolist()
    assert got == [[4, "C1", 8], [4, "C9", 68], [4, "C5", 68]]


def test_riesgo_alto_alert_for_high_customers_with_an_open_balance():
    book = make_book(invoices=[*INVOICES, NEW], payments=PAYMENTS)
    alerts = compute_alerts(book, compute_invoices(book, AS_OF), AS_OF)
    high = alerts[alerts["type"] == "Riesgo alto"]
    assert high[["customer", "currency", "balance", "detail"]].values.tolist() == [
        ["A", "MXN", 100000,
         "Riesgo 68 (Alto): pagó tarde 10 de sus 10 facturas pagadas en 12 meses "
         "(promedio 30 días); saldo vencido de hasta 30 días."]]
    paid = make_book(invoices=INVOICES, payments=[*PAYMENTS, (day(-1), "A-open", 1000)])
    alerts = compute_alerts(paid, compute_invoices(paid, AS_OF), AS_OF)
    assert "Riesgo alto" not in set(alerts["type"])  # Alto but owes nothing


def test_riesgo_sheet_written_by_sync(tmp_path: Path):
    path = create_workbook(tmp_path / "riesgo.xlsm")
    rows = {"Clientes": [], "Facturas": [], "Pagos": []}
    for code, name in (("A", "Alfa"), ("B", "Beta"), ("N", "Nueva")):
        rows["Clientes"].append({"Cliente": code, "Nombre": name, "Cobrador": "Ana",
                                 "Email": f"{code.lower()}@example.com",
                                 "Avisos automáticos": "No"})
    for invoice, customer, due, amount, issued in [*INVOICES, NEW]:
        rows["Facturas"].append({"Factura": invoice, "Cliente": customer, "Emisión": issued,
                                 "Vencimiento": due, "Moneda": "MXN", "Importe": amount})
    for when, invoice, amount in PAYMENTS:
        rows["Pagos"].append({"Fecha": when, "Factura": invoice, "Importe": amount})
    append_rows(path, rows)
    sync(path, "2026-12-01T10:00", None, "--dry-run")
    assert table(path, "Riesgo", "Cliente") == [
        ["A", "Alfa", "Ana", 68, "Alto",
         "pagó tarde 10 de sus 10 facturas pagadas en 12 meses (promedio 30 días); "
         "saldo vencido de hasta 30 días", 30, 1000],
        ["N", "Nueva", "Ana", 33, "Bajo",
         "sin historial de pagos; saldo vencido de hasta 10 días", "", 500],
        ["B", "Beta", "Ana", 8, "Bajo", "saldo vencido de hasta 30 días", 0, 1000],
    ]


def test_benchmark_auc_is_the_mann_whitney_statistic():
    from benchmarks.risk_auc import auc

    assert auc([1, 2, 3, 4], [False, False, True, True]) == 1.0
    assert auc([4, 3, 2, 1], [False, False, True, True]) == 0.0
    assert auc([1, 1, 1, 1], [False, True, False, True]) == 0.5  # ties count half
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
