"""Spanish that agrees in number everywhere a count is read (issue 12): "1 llamada",
"2 llamadas", "441 enviados", "1 error en los datos", in the `cobranza sync` summary,
`cobranza status`, the output sheets' notes and the service's log line (test_service),
all through one helper (`cobranza.plural`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import python_calamine

from cobranza.layout.sends import state_counts
from cobranza.plural import count, counts, plural
from sync.workbook.init import create_workbook
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]


@pytest.mark.parametrize(("one", "many"), [
    ("llamada", "llamadas"), ("enviado", "enviados"), ("pendiente", "pendientes"),
    ("error", "errores"), ("mes", "meses"), ("acción", "acciones"), ("día", "días"),
    ("vez", "veces"), ("factura", "facturas"),
])
def test_regular_plurals(one, many):
    assert plural(one) == many


@pytest.mark.parametrize(("n", "expected"), [
    (0, "0 llamadas"), (1, "1 llamada"), (2, "2 llamadas"), (441, "441 llamadas")])
def test_count_agrees_with_its_number(n, expected):
    assert count(n, "llamada") == expected
    assert counts(pd.Series([n]), "llamada").tolist() == [expected]


def test_an_irregular_plural_is_given():
    assert [count(n, "resumen", "resúmenes") for n in (0, 1, 2)] == [
        "0 resúmenes", "1 resumen", "2 resúmenes"]


@pytest.mark.parametrize(("n", "expected"), [
    (0, "0 enviados, 0 pendientes, 0 omitidos, 0 fallidos, 0 inciertos"),
    (1, "1 enviado, 1 pendiente, 1 omitido, 1 fallido, 1 incierto"),
    (2, "2 enviados, 2 pendientes, 2 omitidos, 2 fallidos, 2 inciertos"),
])
def test_messages_per_state(n, expected):
    states = ("enviado", "pendiente", "omitido", "error", "incierto")
    assert state_counts(dict.fromkeys(states, n), zeros=True) == expected
    assert state_counts(dict.fromkeys(states, n)) == ("" if n == 0 else expected)


# ---------------------------------------------------------------- a real sync and status

def workbook(folder: Path, n: int) -> Path:
    """`n` customers with an invoice 15 days overdue and no gestión (VENCIDA_15 goes; NUEVA,
    PREVIO, VENCIDA_1 and December's ESTADO_MENSUAL are past: 4 omitidos; one call each),
    and `n` invoice rows with a bad Importe."""
    book = create_workbook(folder / "libro.xlsm")
    customers = [f"C{i}" for i in range(1, n + 1)]
    good = [{"Factura": f"F-{c}", "Cliente": c, "Emisión": datetime(2026, 10, 24),
             "Vencimiento": datetime(2026, 11, 23), "Moneda": "MXN", "Importe": 1500.0}
            for c in customers]
    bad = [{"Factura": f"F-MAL-{c}", "Cliente": c, "Vencimiento": datetime(2026, 11, 23),
            "Importe": "mil pesos"} for c in customers]
    if n:
        append_rows(book, {
            "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": f"{c}@c.mx"}
                         for c in customers],
            "Facturas": good + bad,
        })
    return book


def note(book: Path, sheet: str) -> str:
    """The count note beside Fecha de corte (cell D2)."""
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        sheet).to_python()
    return rows[1][3]


@pytest.mark.parametrize(("n", "summary", "status", "notes"), [
    (0, ["Agenda: 0 llamadas", "Envíos: ninguno", "0 errores en los datos (vea la hoja Errores)"],
     ["Envíos: 0 enviados, 0 pendientes, 0 omitidos, 0 fallidos, 0 inciertos",
      "0 errores en los datos (vea la hoja Errores)"],
     ("0 llamadas", "", "0 mensajes")),
    (1, ["Agenda: 1 llamada", "Envíos: 1 enviado, 4 omitidos",
         "1 error en los datos (vea la hoja Errores)"],
     ["Envíos: 1 enviado, 0 pendientes, 4 omitidos, 0 fallidos, 0 inciertos",
      "1 error en los datos (vea la hoja Errores)"],
     ("1 llamada", "1 enviado · 4 omitidos", "1 mensaje")),
    (2, ["Agenda: 2 llamadas", "Envíos: 2 enviados, 8 omitidos",
         "2 errores en los datos (vea la hoja Errores)"],
     ["Envíos: 2 enviados, 0 pendientes, 8 omitidos, 0 fallidos, 0 inciertos",
      "2 errores en los datos (vea la hoja Errores)"],
     ("2 llamadas", "2 enviados · 8 omitidos", "2 mensajes")),
])
def test_sync_status_and_sheets_agree_in_number(tmp_path, n, summary, status, notes):
    book = workbook(tmp_path, n)
    with SmtpTestServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
        env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}

        def cobranza(*args: str) -> str:
            done = subprocess.run([*CLI, *args], cwd=tmp_path, env=env, capture_output=True,
                                  text=True, timeout=120, check=False)
            assert done.returncode == 0, done.stderr
            return done.stdout

        out = cobranza("sync", str(book), "--as-of", "2026-12-08T10:00").splitlines()
        assert len(server.received()) == n
        report = cobranza("status", str(book)).splitlines()
    assert [line for line in out if line.startswith(("Agenda:", "Envíos:", f"{n} error"))] == (
        summary)
    assert [line for line in report if line.startswith(("Envíos:", f"{n} error"))] == status
    assert (note(book, "Agenda"), note(book, "Envíos"), note(book, "Vista previa")) == notes
