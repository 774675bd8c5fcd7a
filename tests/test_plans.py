"""Payment plans (Convenios): instalment allocation, plan status by day, Estatus, the
reminders that resume when a plan breaks, Tablero figures and the Errores of bad rows."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from cobranza.layout.reports import dashboard_sheet
from cobranza.notices.planner import History, plan_notices
from cobranza.rules.invoices import compute_invoices
from cobranza.rules.kpis import compute_kpis
from cobranza.rules.plans import compute_plans
from cobranza.vocabulary import SendState
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.book_factory import DEFAULT_NOTICES, make_book
from tests.workbook_edit import append_rows

# C1 agreed on 01/11 to pay F1 and F2 in three instalments of $300.00.
PAYMENTS = [
    ("2026-10-30", "F1", 100),  # before Fecha: pays F1, not the plan
    ("2026-11-05", "F1", 120),  # part of instalment 1
    ("2026-11-09", "F2", 250),  # completes instalment 1 (370): 70 go to instalment 2
    ("2026-11-30", "F1", 400),  # last day of instalment 2's grace: 2 paid, 170 to 3
    ("2026-12-05", "F2", 130),  # after 01/12: unknown on 01/12; pays the plan off
]
PLAN = [("CV1", "C1", "2026-11-01", n, due, 300, "F1;F2")
        for n, due in ((1, "2026-11-10"), (2, "2026-11-25"), (3, "2026-12-10"))]


def book(**extra):
    return make_book(
        invoices=[("F1", "C1", "2026-09-01", 1000), ("F2", "C1", "2026-09-15", 500),
                  ("F3", "C2", "2026-09-01", 800)],
        payments=PAYMENTS, plans=PLAN, **extra)


def instalments(day: str) -> list[tuple]:
    got = compute_plans(book(), day).instalments
    return [(r.instalment, r.paid, r.balance, None if pd.isna(r.paid_date) else
             r.paid_date.strftime("%d/%m")) for r in got.itertuples()]


def test_payments_fill_the_instalments_in_order_exactly():
    assert instalments("2026-12-01") == [
        (1, 300_00, 0, "09/11"), (2, 300_00, 0, "30/11"), (3, 170_00, 130_00, None)]
    assert instalments("2026-11-08") == [
        (1, 120_00, 180_00, None), (2, 0, 300_00, None), (3, 0, 300_00, None)]
    assert instalments("2026-12-06") == [
        (1, 300_00, 0, "09/11"), (2, 300_00, 0, "30/11"), (3, 300_00, 0, "05/12")]


def statuses(b, day: str) -> tuple[str, list[str]]:
    plans = compute_plans(b, day).plans
    invoices = compute_invoices(b, day)
    return plans["status"].tolist(), invoices["status"].tolist()


def test_plan_status_and_estatus_by_day():
    # paid on the last day of grace: current; paid off: the invoices' own Estatus again
    assert statuses(book(), "2026-12-01") == (
        ["Convenio"], ["Convenio", "Convenio", "En acción"])
    assert statuses(book(), "2026-12-06") == (["Pagada"], ["En acción", "En acción", "En acción"])


def test_a_plan_agreed_after_the_cut_off_does_not_exist_yet():
    """On 31/10 the plan of 01/11 is unknown: F1 and F2 are worked as usual (the demo
    replayed at an earlier date showed its plan invoices as Convenio before the plan)."""
    without = make_book(invoices=[("F1", "C1", "2026-09-01", 1000), ("F2", "C1", "2026-09-15", 500),
                                  ("F3", "C2", "2026-09-01", 800)], payments=PAYMENTS)
    own = compute_invoices(without, "2026-10-31")["status"].tolist()
    assert "Convenio" not in own
    assert statuses(book(), "2026-10-31") == ([], own)
    assert instalments("2026-10-31") == []


@pytest.mark.parametrize(("day", "status", "broken_on"), [
    ("2026-11-15", "Convenio", None),  # instalment 1 due 10/11 unpaid, 5 days of grace
    ("2026-11-16", "Convenio incumplido", "16/11/2026"),
    ("2026-12-20", "Convenio incumplido", "16/11/2026"),  # stays broken
])
def test_an_instalment_unpaid_after_the_grace_days_breaks_the_plan(day, status, broken_on):
    b = make_book(invoices=[("F1", "C1", "2026-09-01", 1000)], plans=PLAN)
    plan = compute_plans(b, day).plans.iloc[0]
    assert (plan["status"], plan["broken_instalment"] if broken_on else 0) == (
        status, 1 if broken_on else 0)
    shown = None if pd.isna(plan["broken_on"]) else plan["broken_on"].strftime("%d/%m/%Y")
    assert shown == broken_on
    assert compute_invoices(b, day)["status"].tolist() == [status]


def test_blank_facturas_covers_the_invoices_open_on_fecha_and_cancelado_is_ignored():
    b = make_book(
        invoices=[("F5", "C3", "2026-09-01", 100, "2026-08-01"),
                  ("F6", "C3", "2026-09-10", 200, "2026-08-10"),
                  ("F7", "C3", "2026-12-30", 300, "2026-11-20"),
                  ("F8", "C4", "2026-09-01", 400)],
        payments=[("2026-10-01", "F5", 100)],
        plans=[("CV5", "C3", "2026-11-01", 1, "2026-12-15", 50, ""),
               {"plan": "CV6", "customer": "C4", "date": "2026-11-01", "instalment": 1,
                "due": "2026-12-15", "amount": 50, "state": "Cancelado"}])
    plans = compute_plans(b, "2026-12-01")
    assert plans.plans[["plan", "invoices", "status"]].values.tolist() == [
        ["CV5", ("F6",), "Convenio"]]
    assert compute_invoices(b, "2026-12-01")["status"].tolist() == [
        "Pagada", "Convenio", "Por vencer", "En acción"]


def test_reminders_resume_at_the_current_stage_the_day_the_plan_breaks():
    """F1 is 77 days overdue on 17/11: SUSPENSION_60's own window (to day 67) has passed,
    but the plan broke on 16/11 (a holiday in MX), so it goes; without the plan it would
    be late."""
    templates = [(code, f"Asunto {code}", "Cuerpo", True) for code, *_ in DEFAULT_NOTICES]
    now = datetime(2026, 11, 17, 10, tzinfo=ZoneInfo("America/Mexico_City"))

    def planned(plans):
        b = make_book(invoices=[("F1", "C1", "2026-09-01", 1000)], plans=plans,
                      templates=templates)
        messages, skipped, _ = plan_notices(b, compute_invoices(b, now.date()), now, History())
        sent = [(m.code, m.state) for m in messages]
        late = sorted(m.code for m in skipped.messages())
        return sent, late

    stages = ["ESTADO_MENSUAL", "MORA_45", "PREVIO", "VENCIDA_1", "VENCIDA_15", "VENCIDA_30"]
    assert planned(PLAN) == ([("SUSPENSION_60", SendState.READY)], stages)
    assert planned([]) == ([], sorted([*stages, "SUSPENSION_60"]))
    # the day before the break the plan is current: no reminder, not even a record (the
    # November statement's window has passed)
    now = datetime(2026, 11, 15, 10, tzinfo=ZoneInfo("America/Mexico_City"))
    assert planned(PLAN) == ([], ["ESTADO_MENSUAL"])


def test_tablero_counts_plans_and_their_balance():
    b = make_book(
        invoices=[("F1", "C1", "2026-09-01", 1000), ("F2", "C2", "2026-09-01", 900),
                  ("F3", "C3", "2026-09-01", 50, None, "USD")],
        payments=[("2026-11-05", "F1", 300)],
        plans=[*PLAN,  # instalment 1 paid on time, 2 unpaid since 25/11: broken on 01/12
               ("CV2", "C2", "2026-11-01", 1, "2026-12-20", 450, "F2"),
               ("CV2", "C2", "2026-11-01", 2, "2027-01-20", 450, "F2"),
               ("CV3", "C3", "2026-11-01", 1, "2026-12-20", 50, "F3")])
    kpis = compute_kpis(b, compute_invoices(b, "2026-12-01"), "2026-12-01")
    assert kpis.plans.values.tolist() == [["MXN", 1, 900_00, 1, 600_00], ["USD", 1, 50_00, 0, 0]]
    table = next(t for t in dashboard_sheet(kpis, date(2026, 12, 1)).tables
                 if t.name == "tblTableroConvenios")
    assert table.rows == [("MXN", 1, 900.0, 1, 600.0), ("USD", 1, 50.0, 0, 0.0)]


def test_a_workbook_without_convenios_has_no_plans(tmp_path: Path):
    from tests.test_reader import write_book
    from tests.test_validate import good_sheets
    read = read_book(write_book(tmp_path / "sin_convenios.xlsx", good_sheets()))
    assert (read.errors, read.plans.empty) == ([], True)


ROW = {"Convenio": "CV1", "Cliente": "C1", "Facturas": "F1", "Fecha": datetime(2026, 11, 1),
       "Cuota": 1, "Vencimiento cuota": datetime(2026, 11, 10), "Importe cuota": 100.0,
       "Estado": "Activo"}
BAD_ROWS = [  # Excel rows 2.. of Convenios
    {},  # 2: good
    {"Vencimiento cuota": datetime(2026, 11, 20)},  # 3: Cuota 1 again
    {"Cuota": 2, "Fecha": datetime(2026, 11, 2), "Vencimiento cuota": datetime(2026, 11, 25)},
    {"Convenio": "CV2", "Cliente": "ZZ"},  # 5
    {"Convenio": "CV3", "Facturas": "F1; F9"},  # 6
    {"Convenio": "CV4", "Facturas": "F2"},  # 7: C2's invoice
    {"Convenio": "CV5", "Importe cuota": 0.0},  # 8
    {"Convenio": "CV6", "Vencimiento cuota": "31/02/2026"},  # 9
    {"Convenio": "CV7", "Vencimiento cuota": datetime(2026, 10, 20)},  # 10: before Fecha
    {"Convenio": "CV8", "Importe cuota": -5.0},  # 11
    {"Convenio": "CV9", "Cuota": "primera"},  # 12
    {"Convenio": "CV10", "Estado": "Pausado"},  # 13
    {"Convenio": "CV11", "Cuota": 2, "Vencimiento cuota": datetime(2026, 12, 10)},  # 14
    {"Convenio": "CV11", "Cuota": 3, "Vencimiento cuota": datetime(2026, 12, 5)},  # 15
    {"Convenio": "CV12", "Importe cuota": 10.005},  # 16
]


def test_every_bad_convenios_cell_is_one_errores_row(tmp_path: Path):
    path = create_workbook(tmp_path / "cobranza.xlsm")
    append_rows(path, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}"} for c in ("C1", "C2")],
        "Facturas": [{"Factura": f, "Cliente": c, "Vencimiento": datetime(2026, 10, 1),
                      "Importe": 1000.0} for f, c in (("F1", "C1"), ("F2", "C2"))],
        "Convenios": [ROW | bad for bad in BAD_ROWS],
    })
    read = read_book(path)
    assert [e.message() for e in read.errors if e.sheet == "Convenios"] == [
        'Convenios, fila 3, Cuota: "1" está repetida en este convenio; vale la fila 2 y esta '
        "se omite.",
        'Convenios, fila 4, Fecha: "02/11/2026" no coincide con la fila 2 del mismo convenio; '
        "un convenio tiene un solo Cliente, Fecha, Facturas y Estado (corrija una de las dos "
        "filas).",
        'Convenios, fila 5, Cliente: "ZZ" no existe en la hoja Clientes (agréguelo allí o '
        "corrija el código).",
        'Convenios, fila 6, Facturas: "F1; F9" la factura "F9" no existe en la hoja Facturas '
        "(corrija el código o quítela del convenio).",
        'Convenios, fila 7, Facturas: "F2" la factura "F2" es del cliente "C2", no de "C1" (un '
        "convenio cubre facturas de un solo cliente).",
        'Convenios, fila 8, Importe cuota: "0" debe ser mayor que cero (escriba el importe de '
        "la cuota).",
        'Convenios, fila 9, Vencimiento cuota: "31/02/2026" no es una fecha válida (use '
        "dd/mm/aaaa).",
        'Convenios, fila 10, Vencimiento cuota: "20/10/2026" es anterior a la Fecha del '
        "convenio (01/11/2026); revise ambas fechas.",
        'Convenios, fila 11, Importe cuota: "-5" no puede ser negativo (escriba el importe sin '
        "signo, por ejemplo 1,234.56).",
        'Convenios, fila 12, Cuota: "primera" no es un número de cuota válido (use 1, 2, 3...).',
        'Convenios, fila 13, Estado: "Pausado" no es un estado de convenio válido (use Activo o '
        "Cancelado).",
        'Convenios, fila 15, Vencimiento cuota: "05/12/2026" no es posterior al de la cuota 2 '
        "(10/12/2026); las cuotas vencen en orden.",
        'Convenios, fila 16, Importe cuota: "10.005" tiene más decimales de los que admite MXN '
        "(2 decimales); escriba el importe exacto, por ejemplo 10.00 o 10.01.",
    ]
    assert read.plans[["plan", "instalment", "row"]].values.tolist() == [
        ["CV1", 1, 2], ["CV11", 2, 14]]


def test_a_copys_envios_gives_back_the_key_of_each_instalment_notice():
    """A copy's Envíos row "CUOTA_PREVIA, ESTADO_MENSUAL" (the demo's) seeds the keys the
    planner uses: plan + Vencimiento cuota, so the instalment is never told twice."""
    from cobranza.notices.messages import notice_key
    from cobranza.notices.seeding import seeds_from_envios

    b = book(notices=[*DEFAULT_NOTICES, ("CUOTA_PREVIA", "cuota", -3),
                      ("CUOTA_VENCIDA", "cuota", 1)])
    sent = pd.DataFrame([
        {"when": pd.Timestamp("2026-11-22 10:00"), "kind": "Aviso",
         "code": "CUOTA_PREVIA", "recipient": "C1", "to": "c1@example.com",
         "invoices": "CV1", "subject": "s", "state": "enviado", "reason": ""},
        {"when": pd.Timestamp("2026-11-26 10:00"), "kind": "Aviso",
         "code": "CUOTA_VENCIDA, VENCIDA_1", "recipient": "C1", "to": "c1@example.com",
         "invoices": "CUOTA_VENCIDA: CV1; VENCIDA_1: F2", "subject": "s",
         "state": "enviado", "reason": ""},
    ])
    assert [m.keys for m in seeds_from_envios(sent, b)] == [
        (notice_key("C1", "CV1", "CUOTA_PREVIA", date(2026, 11, 25)),),
        (notice_key("C1", "CV1", "CUOTA_VENCIDA", date(2026, 11, 25)),
         notice_key("C1", "F2", "VENCIDA_1")),
    ]
