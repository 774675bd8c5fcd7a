"""Payment plans day by day, as a user meets them: a real workbook (`cobranza init` + rows
typed under the tables, Convenios included), one real `cobranza sync` per day against a
real aiosmtpd server, the emails read back by recipient and subject.

The customer C1 owes F1 (due 01/10/2026, $3,000.00) and agreed on 02/11/2026 to pay it in
three instalments of $1,000.00 due 12/11, 26/11 and 10/12. It pays the first on 12/11
and never the second, so with 5 days of grace the plan breaks on 02/12:

| sync   | C1 receives                         | why                                          |
|--------|-------------------------------------|----------------------------------------------|
| 09/11  | CUOTA_PREVIA cuota 1                | 3 days before 12/11; VENCIDA_30 held back     |
| 10/11  | nothing                             | once per instalment                          |
| 23/11  | CUOTA_PREVIA cuota 2                | 3 days before 26/11; cuota 1 paid: no VENCIDA |
| 27/11  | CUOTA_VENCIDA cuota 2               | the day after 26/11, unpaid                  |
| 30/11  | nothing                             | SUSPENSION_60 is due but the plan is current |
| 02/12  | SUSPENSION_60                       | the plan broke: reminders resume             |

On 02/12 the collector's daily digest has the plan's line and Alertas its row.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import append_rows, save_atomically

CUSTOMER = "c1@cliente.mx"
COLLECTOR = "ana@miempresa.com"
OWNER = "tesoreria@miempresa.com"  # the template's Responsable de acciones
DAYS = ("2026-11-09", "2026-11-10", "2026-11-23", "2026-11-27", "2026-11-30", "2026-12-02")


def make_workbook(folder: Path) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": "C1", "Nombre": "Cliente Uno", "Email": CUSTOMER,
                      "Cobrador": "Ana"}],
        "Facturas": [{"Factura": "F1", "Cliente": "C1", "Emisión": datetime(2026, 9, 1),
                      "Vencimiento": datetime(2026, 10, 1), "Moneda": "MXN",
                      "Importe": 3000.0}],
        "Pagos": [{"Fecha": datetime(2026, 11, 12), "Cliente": "C1", "Factura": "F1",
                   "Importe": 1000.0}],
        "Convenios": [
            {"Convenio": "CV1", "Cliente": "C1", "Facturas": "F1",
             "Fecha": datetime(2026, 11, 2), "Cuota": n, "Vencimiento cuota": due,
             "Importe cuota": 1000.0, "Estado": "Activo"}
            for n, due in ((1, datetime(2026, 11, 12)), (2, datetime(2026, 11, 26)),
                           (3, datetime(2026, 12, 10)))
        ],
    })
    wb = openpyxl.load_workbook(book, keep_vba=True)
    config = wb["Configuración"]
    config["D2"], config["E2"] = "Ana", COLLECTOR
    for row in config.iter_rows(min_col=12, max_col=16):
        if row[0].value == "ESTADO_MENSUAL":  # keep the monthly statement out of the story
            row[4].value = "No"
    save_atomically(wb, book)
    return book


@pytest.fixture(scope="module")
def days(tmp_path_factory) -> tuple[Path, dict[str, list[Received]]]:
    book = make_workbook(tmp_path_factory.mktemp("convenio"))
    out = {}
    with SmtpTestServer() as server:
        for day in DAYS:
            sync(book, f"{day}T10:00", server)
            out[day] = server.received()
            server.clear()
    return book, out


def subjects(messages: list[Received], address: str) -> list[str]:
    return [m.subject for m in messages if address in m.rcpt_tos]


def test_each_instalment_notice_goes_once_on_its_day_and_reminders_wait(days):
    _, received = days
    assert {day: subjects(received[day], CUSTOMER) for day in DAYS} == {
        "2026-11-09": ["Recordatorio: cuota 1 de su convenio CV1 vence el 12/11/2026"],
        "2026-11-10": [],
        "2026-11-23": ["Recordatorio: cuota 2 de su convenio CV1 vence el 26/11/2026"],
        "2026-11-27": ["Cuota 2 de su convenio CV1 vencida"],
        "2026-11-30": [],
        "2026-12-02": ["Aviso de suspensión de crédito y servicio: factura F1"],
    }


def test_the_instalment_notice_names_the_instalment_and_its_balance(days):
    _, received = days
    (late,) = [m for m in received["2026-11-27"] if CUSTOMER in m.rcpt_tos]
    assert ("La cuota 2 de su convenio de pago CV1, por $1,000.00 MXN, venció el 26/11/2026 "
            "y a la fecha tiene un saldo pendiente de $1,000.00 MXN.") in late.body()


def test_no_action_digest_while_the_plan_is_current(days):
    _, received = days
    # F1 is 60 days overdue on 30/11 (Días acción): a current plan keeps it out of Acciones
    assert subjects(received["2026-11-30"], OWNER) == []
    assert subjects(received["2026-12-02"], OWNER) != []


def test_the_day_the_plan_breaks_the_collector_digest_has_its_line(days):
    _, received = days
    for day in DAYS[:-1]:
        assert subjects(received[day], COLLECTOR) == []
    (digest,) = [m for m in received["2026-12-02"] if COLLECTOR in m.rcpt_tos]
    assert digest.subject == "Resumen diario de cobranza al 02/12/2026"
    lines = [ln for ln in digest.body().splitlines() if ln.startswith("- ")]
    assert lines == [
        "- C1: Convenio CV1: la cuota 2 de $1,000.00 MXN venció el 26/11/2026 y quedan "
        "$1,000.00 MXN sin pagar (6 días de atraso). Saldo del convenio: $2,000.00 MXN."]


def test_alertas_and_estatus_on_the_day_it_breaks(days):
    book, _ = days
    rows = table(book, "Alertas", "Tipo")  # the summary by Tipo, then tblAlertas
    alerts = [r for r in rows if r[0] == "Convenio incumplido" and r[1] == "C1"]
    assert alerts == [[
        "Convenio incumplido", "C1", "Cliente Uno", "Ana", "F1", "MXN", 2000.0, 6.0,
        "Convenio CV1: la cuota 2 de $1,000.00 MXN venció el 26/11/2026 y quedan $1,000.00 "
        "MXN sin pagar (6 días de atraso).", ""]]
    sent = [r[2] for r in table(book, "Envíos", "Fecha") if r[3] == "C1" and r[7] == "enviado"]
    # Envíos lists the newest first
    assert sent == ["SUSPENSION_60", "CUOTA_VENCIDA", "CUOTA_PREVIA", "CUOTA_PREVIA"]
