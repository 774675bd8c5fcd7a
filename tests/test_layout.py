from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from cobranza.book.records import InputError
from cobranza.layout.portfolio import cartera_sheet
from cobranza.layout.reports import (
    ALERTS_TABLE_ROW,
    _py,
    agenda_sheet,
    alerts_sheet,
    dashboard_sheet,
    errors_sheet,
)
from cobranza.layout.sheets import CodedColumn, ColumnRows
from cobranza.rules.agenda import compute_agenda
from cobranza.rules.alerts import ALERT_TYPES, compute_alerts
from cobranza.rules.invoices import compute_invoices
from cobranza.rules.kpis import compute_kpis
from tests.book_factory import make_book

AS_OF = date(2026, 11, 25)
INPUT_TABLES = {"tblClientes", "tblFacturas", "tblPagos", "tblGestiones", "tblPlantillas",
                "tblParametros", "tblCobradores", "tblAreas", "tblAvisos"}

BOOK = make_book(
    customers=[("C1", "Uno", "Ana", 1000), ("C2", "Dos", "")],
    invoices=[("F1", "C1", "2026-08-01", 1000.5, "2026-07-01"),
              ("F2", "C2", "2026-11-20", 100, "2026-10-21", "USD")],
    contacts=[("2026-11-24", "C2", "F2", "Disputa", None, "Ventas")],
)
INVOICES = compute_invoices(BOOK, AS_OF)


def _cells(sheet):
    return {(c.row, c.col): c.value for c in sheet.cells}


def test_alerts_sheet_summary_and_table_at_fixed_row():
    sheet = alerts_sheet(compute_alerts(BOOK, INVOICES, AS_OF), datetime(2026, 11, 25, 9, 30))
    cells = _cells(sheet)
    assert (sheet.name, cells[(1, 1)], cells[(2, 2)]) == ("Alertas", "Alertas de cobranza", AS_OF)
    summary = [(cells[(r, 1)], cells[(r, 2)]) for r in range(5, 5 + len(ALERT_TYPES))]
    assert summary == [("Acción", 1), ("Promesa incumplida", 0),
                       ("Pago informado no acreditado", 0), ("Disputa abierta", 1),
                       ("Mora > 30", 1), ("Mora > 60", 1), ("Mora > 90", 1), ("Crédito", 1),
                       ("Sin gestión", 1), ("Candidata a terceros", 1), ("Correo rebotado", 0),
                       ("Riesgo alto", 0), ("Convenio incumplido", 0)]
    assert (cells[(18, 1)], cells[(18, 2)]) == ("Total", 8)
    (table,) = sheet.tables
    assert (table.name, table.row, ALERTS_TABLE_ROW) == ("tblAlertas", 20, 20)
    assert table.columns == ("Tipo", "Cliente", "Nombre", "Cobrador", "Factura", "Moneda",
                             "Saldo", "Días", "Detalle", "Área")
    assert table.rows[0] == ("Acción", "C1", "Uno", "Ana", "F1", "MXN", 1000.5, 116,
                             "Vencida hace 116 días: línea de crédito y servicio suspendidos "
                             "hasta que la cuenta se regularice.", "")
    assert table.rows[1][:8] == ("Disputa abierta", "C2", "Dos", "", "F2", "USD", 100.0, 1)
    assert table.rows[5][6:8] == (1000.5, None)  # Crédito: no day count
    assert table.formats == {"Saldo": "money", "Días": "int"}


def test_alerts_sheet_empty_lists_every_type():
    book = make_book()
    sheet = alerts_sheet(compute_alerts(book, compute_invoices(book, AS_OF), AS_OF), AS_OF)
    cells = _cells(sheet)
    assert [cells[(r, 2)] for r in range(5, 17)] == [0] * 12
    assert (sheet.tables[0].row, sheet.tables[0].rows) == (ALERTS_TABLE_ROW, [])


def test_agenda_sheet():
    sheet = agenda_sheet(compute_agenda(BOOK, INVOICES, AS_OF), AS_OF)
    (table,) = sheet.tables
    assert (sheet.name, table.name, table.row, sheet.freeze_row) == ("Agenda", "tblAgenda", 4, 5)
    assert table.columns == ("Cobrador", "Prioridad", "Motivo", "Cliente", "Nombre",
                             "Riesgo", "Teléfono", "Facturas", "Saldo MXN", "Vencimiento",
                             "Detalle")
    assert table.rows == [
        ("Ana", 4, "Sin gestión reciente", "C1", "Uno", 20, "", "", 1000.5, None,
         "Sin gestiones registradas; tiene saldo vencido.")]
    assert table.formats["Vencimiento"] == "date" and table.formats["Saldo MXN"] == "money"
    assert _cells(sheet)[(2, 4)] == "1 llamada"


def test_errors_sheet():
    errors = [InputError("Facturas", 14, "Vencimiento", "31/02/2026",
                         "no es una fecha válida (use dd/mm/aaaa)."),
              InputError("Configuración", None, "", "", "falta la tabla Parámetros.")]
    sheet = errors_sheet(errors, AS_OF)
    (table,) = sheet.tables
    assert (sheet.name, table.name, table.columns) == (
        "Errores", "tblErrores", ("Hoja", "Fila", "Columna", "Valor", "Problema"))
    assert table.rows == [
        ("Facturas", 14, "Vencimiento", "31/02/2026", "no es una fecha válida (use dd/mm/aaaa)."),
        ("Configuración", None, "", "", "falta la tabla Parámetros."),
    ]


def test_dashboard_sheet():
    sheet = dashboard_sheet(compute_kpis(BOOK, INVOICES, AS_OF), AS_OF)
    tables = {t.name: t for t in sheet.tables}
    assert list(tables) == ["tblTableroTotales", "tblTramos", "tblTableroIndicadores",
                            "tblTableroCobradores", "tblTableroConvenios",
                            "tblTableroProductividad"]
    assert tables["tblTableroTotales"].rows == [("MXN", 1, 1000.5, 1000.5, 1.0),
                                                ("USD", 1, 100.0, 100.0, 1.0)]
    assert tables["tblTramos"].columns == ("Tramo", "Facturas", "Saldo MXN", "Saldo USD")
    assert tables["tblTramos"].rows == [
        ("Por vencer", 0, 0.0, 0.0), ("1-30", 1, 0.0, 100.0), ("31-60", 0, 0.0, 0.0),
        ("61-90", 0, 0.0, 0.0), ("91+", 1, 1000.5, 0.0)]
    # No sales in the last 30 days and nothing collected: CEI 0; MXN has no sales in 90
    # days, so no DSO; USD: 10000 / 10000 * 90.
    assert tables["tblTableroIndicadores"].rows == [
        ("DSO (días)", None, 90.0), ("CEI (%)", 0.0, 0.0), ("Promesas cumplidas (%)", None,
                                                              None)]
    assert tables["tblTableroCobradores"].rows == [
        ("(sin cobrador)", "USD", 1, 100.0, 100.0, 90.0, 0.0, None),
        ("Ana", "MXN", 1, 1000.5, 1000.5, None, 0.0, None)]
    # One chart per currency, each with only its own series, stacked beside the first
    # tables (column F: within a laptop's first screen); the collectors start below them.
    assert [(c.title, c.table, c.category, c.series) for c in sheet.charts] == [
        ("Antigüedad de saldos MXN", "tblTramos", "Tramo", ("Saldo MXN",)),
        ("Antigüedad de saldos USD", "tblTramos", "Tramo", ("Saldo USD",))]
    assert [c.anchor for c in sheet.charts] == [(4, 6), (16, 6)]
    assert tables["tblTableroCobradores"].row > 16 + sheet.charts[1].size[0]
    header_rows = [t.row for t in sheet.tables]
    assert header_rows == sorted(header_rows)
    # Plans below the collectors (two rows + blank), productivity below the plans (none
    # here: one blank row + blank), in column A.
    productivity = tables["tblTableroProductividad"]
    assert tables["tblTableroConvenios"].row == tables["tblTableroCobradores"].row + 2 + 2 + 1
    assert productivity.row == tables["tblTableroConvenios"].row + 2 + 1 + 1
    assert productivity.columns == (
        "Cobrador", "Gestiones", "Contactos", "Promesas obtenidas", "Promesas vencidas",
        "Promesas cumplidas", "Promesas cumplidas (%)", "Días promedio de cobro")
    assert _cells(sheet)[(productivity.row - 1, 3)] == (
        "Últimos 30 días: del 27/10/2026 al 25/11/2026")


def test_table_names_unique_and_not_input_names():
    book = make_book()
    inv = compute_invoices(book, AS_OF)
    sheets = [alerts_sheet(compute_alerts(book, inv, AS_OF), AS_OF),
              dashboard_sheet(compute_kpis(book, inv, AS_OF), AS_OF),
              agenda_sheet(compute_agenda(book, inv, AS_OF), AS_OF), errors_sheet([], AS_OF)]
    names = [t.name for s in sheets for t in s.tables]
    assert len(names) == len(set(names)) and not set(names) & INPUT_TABLES


def test_columns_become_plain_python_scalars():
    """Whole-column conversion: blanks of every pandas kind -> None, numpy -> Python."""
    cases = [
        (pd.Series([1.5, np.nan, 2.0]), [1.5, None, 2.0], float),
        (pd.Series([1, 2], dtype="int64"), [1, 2], int),
        (pd.Series([1, None], dtype="Int64"), [1, None], int),
        (pd.Series(["a", None, ""], dtype="str"), ["a", None, ""], str),
        (pd.Series(["a", pd.NA], dtype="string"), ["a", None], str),
        (pd.Series(["x", None, float("nan")], dtype=object), ["x", None, None], str),
        (pd.Series(pd.to_datetime(["2026-01-02", None])), [date(2026, 1, 2), None], date),
        (pd.Series([True, False]), [True, False], bool),
    ]
    for series, expected, kind in cases:
        got = _py(series)
        assert got == expected, series.dtype
        assert all(type(v) is kind for v in got if v is not None), series.dtype


def test_column_rows_read_as_the_rows_they_hold() -> None:
    rows = ColumnRows([["a", "b", "c"], [1, 2, None]])
    assert len(rows) == 3 and rows[1] == ("b", 2) and rows[-1] == ("c", None)
    assert rows[:2] == [("a", 1), ("b", 2)] and list(rows) == [("a", 1), ("b", 2), ("c", None)]
    assert rows == [("a", 1), ("b", 2), ("c", None)] and rows != [("a", 1)]
    assert ColumnRows([]) == [] and not ColumnRows([[], []])
    with pytest.raises(ValueError):
        ColumnRows([["a"], [1, 2]])


def test_big_tables_are_kept_by_column() -> None:
    invoices = compute_invoices(BOOK, AS_OF)
    table = alerts_sheet(compute_alerts(BOOK, invoices, AS_OF), AS_OF).tables[0]
    assert isinstance(table.rows, ColumnRows) and len(table.rows.columns) == len(table.columns)


def test_cartera_by_customer_rows_reads_like_the_invoices_own_columns():
    """Cliente, Nombre and Cobrador handed over as codes by the customers rows read as the
    invoices' own columns; an invoice whose Cliente no row names keeps its own text."""
    book = make_book(customers=[("C1", "Uno & Cía", "Ana"), ("C2", "Dos", "")],
                     invoices=[("F1", "C1", "2026-08-01", 10, "2026-07-01"),
                               ("F2", "C2", "2026-11-20", 20, "2026-10-21", "USD"),
                               ("F3", "C1", "2026-11-20", 30, "2026-10-21")])
    invoices = compute_invoices(book, AS_OF).set_index("invoice", drop=False)
    notice = np.array(["", "x", ""], dtype=object)
    own = cartera_sheet(invoices, notice, AS_OF).tables[0].rows
    assert [r[1:4] for r in own] == [("C1", "Uno & Cía", "Ana"), ("C2", "Dos", ""),
                                     ("C1", "Uno & Cía", "Ana")]
    coded = cartera_sheet(invoices, notice, AS_OF, book.customers, book.customer_rows)
    assert all(isinstance(c, CodedColumn) for c in coded.tables[0].rows.columns[1:4])
    assert list(coded.tables[0].rows) == list(own)
    unnamed = cartera_sheet(invoices, notice, AS_OF, book.customers, np.array([0, -1, 0]))
    assert [r[1:4] for r in unnamed.tables[0].rows] == [
        ("C1", "Uno & Cía", "Ana"), ("C2", "", ""), ("C1", "Uno & Cía", "Ana")]


def test_alerts_by_customer_rows_read_like_the_alerts_own_columns():
    """Alertas' Cliente, Nombre and Cobrador handed over as codes by the alerts'
    customer_row (per-invoice and per-customer Tipos) read as the alerts' own columns."""
    alerts = compute_alerts(BOOK, INVOICES, AS_OF)
    assert len(set(alerts["type"])) > 1
    own = alerts_sheet(alerts, AS_OF).tables[0].rows
    coded = alerts_sheet(alerts, AS_OF, BOOK.customers).tables[0].rows
    assert all(isinstance(c, CodedColumn) for c in coded.columns[1:4])
    assert list(coded) == list(own)
    assert isinstance(own.columns[0], CodedColumn) and list(own.columns[0]) == list(alerts["type"])
    unnamed = alerts.assign(customer_row=-1)
    rows = alerts_sheet(unnamed, AS_OF, BOOK.customers).tables[0].rows
    assert [r[1:4] for r in rows] == [(r[1], "", "") for r in own]
