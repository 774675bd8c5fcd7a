"""Output sheet layouts: Alertas, Tablero, Agenda and Errores as `Sheet` values.

Money is shown in major units (format "money"), dates as `date` (format "date"); every
value is a plain Python scalar or None. Table names are unique in the workbook.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from cobranza.book.money import to_major
from cobranza.book.records import BUCKETS, InputError
from cobranza.layout.sheets import BarChart, Cell, CodedColumn, ColumnRows, Sheet, Table
from cobranza.plural import count
from cobranza.rules.agenda import BALANCE, balance_currencies
from cobranza.rules.alerts import ALERT_TYPES
from cobranza.rules.kpis import Kpis
from cobranza.rules.productivity import RECOVERED, WINDOW_DAYS, window_start

ALERTS_SUMMARY_ROW = 4  # "Tipo | Cantidad" header; one row per Tipo below, then Total
ALERTS_TABLE_ROW = ALERTS_SUMMARY_ROW + len(ALERT_TYPES) + 3  # fixed: 20
TABLE_ROW = 4  # header row of the single table on Agenda and Errores
NO_COLLECTOR = "(sin cobrador)"


def day_of(as_of: date | datetime) -> date:
    return as_of.date() if isinstance(as_of, datetime) else as_of


def sheet_header(title: str, as_of: date | datetime) -> list[Cell]:
    return [
        Cell(1, 1, title, style="title"),
        Cell(2, 1, "Fecha de corte", style="label"),
        Cell(2, 2, day_of(as_of), format="date"),
    ]


def _py(values: pd.Series) -> list[Any]:
    """A column as plain Python scalars: NaN/NA/NaT -> None, Timestamp -> date.

    Whole-column: astype(object) turns numpy scalars into Python ones, the column's own
    isna finds the blanks (a per-cell pd.isna was most of the layout time; pd.isna of
    the object array was 1.3 s of it at 1 000 000 rows, a text column's isna_string
    ~20 times less). Dates repeat (a few hundred distinct days): each becomes a `date`
    once.
    """
    if pd.api.types.is_datetime64_any_dtype(values):
        codes, days = pd.factorize(values)  # NaT: code -1, the trailing None
        return np.array([*(d.date() for d in days), None], dtype=object)[codes].tolist()
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iub":  # never blank
        return values.to_numpy().tolist()
    out = values.astype(object).to_numpy().tolist()
    for i in np.flatnonzero(values.isna().to_numpy()).tolist():
        out[i] = None
    return out


def _money(minor: pd.Series, currency: pd.Series) -> pd.Series:
    major = to_major(minor.fillna(0).astype("int64"), currency)
    return major.where(minor.notna().to_numpy())


def _coded(currency: pd.Series) -> pd.Series:
    """A Moneda column as a categorical: `_money` of several amount columns in the same
    currencies then hashes it once (decimals_of reads a categorical's codes)."""
    # an object ndarray factorizes about 3x faster than astype("category") of str
    codes, uniques = pd.factorize(currency.to_numpy(dtype=object))
    return pd.Series(pd.Categorical.from_codes(codes, uniques), index=currency.index)


def categories(values: pd.Series) -> CodedColumn:
    """A categorical column by its codes (NaN: None)."""
    return CodedColumn([*values.cat.categories.to_numpy(dtype=object).tolist(), None],
                       values.cat.codes.to_numpy())


def of_customers(customers: pd.DataFrame, rows: np.ndarray, column: str) -> CodedColumn:
    """`customers[column]` at `rows` (-1: no customer, ""), by the rows: for the texts
    compute_invoices took from the customers at `Book.customer_rows`."""
    return CodedColumn([*customers[column].to_numpy(dtype=object).tolist(), ""], rows)


def _rows(columns: Sequence[pd.Series | CodedColumn]) -> ColumnRows:
    return ColumnRows([c if isinstance(c, CodedColumn) else _py(c) for c in columns])


def alerts_sheet(alerts: pd.DataFrame, as_of: date | datetime,
                 customers: pd.DataFrame | None = None) -> Sheet:
    """Alertas: title, a count per Tipo (all listed), then tblAlertas at a fixed row.
    `customers`: the book's, which the alerts' customer_row number: Cliente, Nombre and
    Cobrador are then handed over as codes."""
    kinds = _kinds(alerts["type"])
    counts = dict(zip(kinds.values, np.bincount(kinds.codes, minlength=len(kinds.values)),
                      strict=True))
    cells = sheet_header("Alertas de cobranza", as_of)
    cells += [Cell(ALERTS_SUMMARY_ROW, 1, "Tipo", style="label"),
              Cell(ALERTS_SUMMARY_ROW, 2, "Cantidad", style="label")]
    for i, kind in enumerate(ALERT_TYPES, start=ALERTS_SUMMARY_ROW + 1):
        cells += [Cell(i, 1, kind), Cell(i, 2, int(counts.get(kind, 0)), format="int")]
    total_row = ALERTS_SUMMARY_ROW + len(ALERT_TYPES) + 1
    cells += [Cell(total_row, 1, "Total", style="label"),
              Cell(total_row, 2, len(alerts), format="int")]
    a = alerts
    rows = None if customers is None else a["customer_row"].to_numpy()
    table = Table(
        name="tblAlertas",
        columns=("Tipo", "Cliente", "Nombre", "Cobrador", "Factura", "Moneda", "Saldo", "Días",
                 "Detalle", "Área"),
        rows=_rows([kinds, *customer_columns(a, customers, rows), a["invoice"],
                    a["currency"], _money(a["balance"], a["currency"]), a["days"], a["detail"],
                    a["area"]]),
        row=ALERTS_TABLE_ROW,
        formats={"Saldo": "money", "Días": "int"},
        widths={"Tipo": 26, "Nombre": 42, "Días": 8, "Detalle": 70},
    )
    return Sheet("Alertas", cells=cells, tables=[table])


def _kinds(types: pd.Series) -> CodedColumn:
    """Tipo by its codes: the few Tipos are the same few text objects (one per alert
    function), so one hash pass numbers them for both the counts and the writer."""
    codes, kinds = pd.factorize(types.to_numpy(dtype=object))
    blank = len(kinds)  # NaN (code -1): the trailing None, counted there
    return CodedColumn([*kinds.tolist(), None], np.where(codes < 0, blank, codes))


def customer_columns(frame: pd.DataFrame, customers: pd.DataFrame | None,
                     rows: np.ndarray | None) -> list[pd.Series | CodedColumn]:
    """Cliente, Nombre and Cobrador of the rows of `frame`: by their `customers` rows when
    given, else the frame's own columns."""
    if customers is None or rows is None:
        return [frame["customer"], frame["name"], frame["collector"]]
    # a row without a customer (-1) has no Nombre or Cobrador, but its Cliente is its own
    named = bool((rows >= 0).all())
    return [of_customers(customers, rows, "customer") if named else frame["customer"],
            of_customers(customers, rows, "name"), of_customers(customers, rows, "collector")]


def agenda_sheet(agenda: pd.DataFrame, as_of: date | datetime) -> Sheet:
    """Agenda: tblAgenda, one row per call (customer and collector), already in priority
    order; the customer's open balance in one "Saldo <moneda>" column per currency."""
    a = agenda
    collector = a["collector"].where(a["collector"] != "", NO_COLLECTOR)
    currencies = balance_currencies(a)
    balances = tuple(f"Saldo {c}" for c in currencies)
    table = Table(
        name="tblAgenda",
        columns=("Cobrador", "Prioridad", "Motivo", "Cliente", "Nombre", "Riesgo", "Teléfono",
                 "Facturas", *balances, "Vencimiento", "Detalle"),
        rows=_rows([collector, a["priority"], a["reason"], a["customer"], a["name"], a["risk"],
                    a["phone"], a["invoices"],
                    *(_money(a[BALANCE + c], pd.Series(c, index=a.index)) for c in currencies),
                    a["due"], a["detail"]]),
        row=TABLE_ROW,
        formats={"Prioridad": "int", "Riesgo": "int", **dict.fromkeys(balances, "money"),
                 "Vencimiento": "date"},
        widths={"Motivo": 26, "Nombre": 30, "Riesgo": 8, "Facturas": 20, "Detalle": 90},
    )
    cells = sheet_header("Agenda de llamadas", as_of)
    cells.append(Cell(2, 4, count(len(a), "llamada"), style="note"))
    return Sheet("Agenda", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)


def errors_sheet(errors: Sequence[InputError], as_of: date | datetime) -> Sheet:
    """Errores: tblErrores, one row per bad input, in the order found."""
    table = Table(
        name="tblErrores",
        columns=("Hoja", "Fila", "Columna", "Valor", "Problema"),
        rows=[(e.sheet, e.row, e.column, e.value, e.problem) for e in errors],
        row=TABLE_ROW,
        formats={"Fila": "int", "Valor": "text"},
        widths={"Valor": 30, "Problema": 80},
    )
    cells = sheet_header("Errores en los datos", as_of)
    cells.append(Cell(2, 4, f"Problemas encontrados: {len(errors)}", style="note"))
    return Sheet("Errores", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)


# ---- Tablero ---------------------------------------------------------------------------

def _totals_table(k: Kpis, row: int) -> Table:
    t = k.totals
    share = (t["overdue"] / t["portfolio"].where(t["portfolio"] > 0)).round(4)
    return Table(
        name="tblTableroTotales",
        columns=("Moneda", "Facturas abiertas", "Cartera", "Vencido", "% vencido"),
        rows=_rows([t["currency"], t["open_invoices"], _money(t["portfolio"], t["currency"]),
                    _money(t["overdue"], t["currency"]), share]),
        row=row,
        formats={"Facturas abiertas": "int", "Cartera": "money", "Vencido": "money",
                 "% vencido": "percent"},
    )


def _aging_table(k: Kpis, row: int) -> Table:
    ag = k.aging
    currencies = sorted(ag["currency"].unique())
    counts = ag.groupby("bucket")["count"].sum().reindex(BUCKETS, fill_value=0)
    columns: list[pd.Series] = [pd.Series(BUCKETS), counts.reset_index(drop=True)]
    for cur in currencies:
        mine = ag[ag["currency"] == cur].set_index("bucket")["balance"].reindex(BUCKETS)
        columns.append(_money(mine.reset_index(drop=True), pd.Series([cur] * len(BUCKETS))))
    saldo = tuple(f"Saldo {c}" for c in currencies)
    return Table(
        name="tblTramos",
        columns=("Tramo", "Facturas", *saldo),
        rows=_rows(columns),
        row=row,
        formats={"Facturas": "int", **dict.fromkeys(saldo, "money")},
    )


def _indicators_table(k: Kpis, row: int) -> Table:
    t = k.totals
    labels = pd.Series(["DSO (días)", "CEI (%)", "Promesas cumplidas (%)"])
    columns = [labels] + [
        pd.Series([r.dso, r.cei, r.promises_kept_pct]) for r in t.itertuples()
    ]
    currencies = tuple(t["currency"])
    return Table(
        name="tblTableroIndicadores",
        columns=("Indicador", *currencies),
        rows=_rows(columns),
        row=row,
        formats=dict.fromkeys(currencies, "number"),
    )


def _collectors_table(k: Kpis, row: int) -> Table:
    c = k.collectors
    collector = c["collector"].where(c["collector"] != "", NO_COLLECTOR)
    return Table(
        name="tblTableroCobradores",
        columns=("Cobrador", "Moneda", "Facturas abiertas", "Cartera", "Vencido", "DSO (días)",
                 "CEI (%)", "Promesas cumplidas (%)"),
        rows=_rows([collector, c["currency"], c["open_invoices"],
                    _money(c["portfolio"], c["currency"]), _money(c["overdue"], c["currency"]),
                    c["dso"], c["cei"], c["promises_kept_pct"]]),
        row=row,
        formats={"Facturas abiertas": "int", "Cartera": "money", "Vencido": "money",
                 "DSO (días)": "number", "CEI (%)": "number", "Promesas cumplidas (%)": "number"},
    )


def _plans_table(k: Kpis, row: int) -> Table:
    p = k.plans
    return Table(
        name="tblTableroConvenios",
        columns=("Moneda", "Convenios activos", "Saldo activos", "Convenios incumplidos",
                 "Saldo incumplidos"),
        rows=_rows([p["currency"], p["active"], _money(p["active_balance"], p["currency"]),
                    p["broken"], _money(p["broken_balance"], p["currency"])]),
        row=row,
        formats={"Convenios activos": "int", "Saldo activos": "money",
                 "Convenios incumplidos": "int", "Saldo incumplidos": "money"},
    )


def _productivity_table(k: Kpis, row: int) -> Table:
    p = k.productivity
    collector = p["collector"].where(p["collector"] != "", NO_COLLECTOR)
    currencies = [c.removeprefix(RECOVERED) for c in p.columns if c.startswith(RECOVERED)]
    recovered = tuple(f"Recuperado {c}" for c in currencies)
    return Table(
        name="tblTableroProductividad",
        columns=("Cobrador", "Gestiones", "Contactos", "Promesas obtenidas", "Promesas vencidas",
                 "Promesas cumplidas", "Promesas cumplidas (%)", *recovered,
                 "Días promedio de cobro"),
        rows=_rows([collector, p["gestiones"], p["contacts"], p["promises"],
                    p["promises_due"], p["promises_kept"], p["promises_kept_pct"],
                    *(_money(p[RECOVERED + c], pd.Series(c, index=p.index)) for c in currencies),
                    p["days_to_collect"]]),
        row=row,
        formats={**dict.fromkeys(("Gestiones", "Contactos", "Promesas obtenidas",
                                  "Promesas vencidas", "Promesas cumplidas"), "int"),
                 "Promesas cumplidas (%)": "number", **dict.fromkeys(recovered, "money"),
                 "Días promedio de cobro": "number"},
    )


_SECTIONS = (
    ("Cartera por moneda", _totals_table),
    ("Antigüedad de saldos", _aging_table),
    ("Indicadores", _indicators_table),
    ("Por cobrador", _collectors_table),
)


CHART_SIZE = (12, 6)  # rows, columns: one currency's aging chart


def dashboard_sheet(kpis: Kpis, as_of: date | datetime) -> Sheet:
    """Tablero: totals, aging (tblTramos), indicators, per collector; one aging chart per
    currency (its own scale: MXN millions would flatten USD thousands).

    Sections are stacked: label row, table header, its rows (at least one), a blank row.
    The charts stack beside the first three sections (within the first screen); the
    per-collector section, as wide as them, starts below the last chart, and the
    productivity section (last 30 days, `rules.productivity`) below it.
    """
    cells, tables, row = sheet_header("Tablero de cobranza", as_of), [], 4
    *beside, last = _SECTIONS
    for label, build in beside:
        cells.append(Cell(row, 1, label, style="label"))
        table = build(kpis, row + 1)
        tables.append(table)
        row += 2 + max(len(table.rows), 1) + 1
    aging = tables[1]
    col = max(len(t.columns) for t in tables) + 1  # right beside the widest of them
    charts = [
        BarChart(title=f"Antigüedad de saldos {column.removeprefix('Saldo ')}",
                 table=aging.name, category="Tramo", series=(column,),
                 anchor=(4 + i * CHART_SIZE[0], col), size=CHART_SIZE)
        for i, column in enumerate(aging.columns[2:])
    ]
    row = max(row, 4 + len(charts) * CHART_SIZE[0] + 1)
    label, build = last
    cells.append(Cell(row, 1, label, style="label"))
    tables.append(build(kpis, row + 1))
    row += 2 + max(len(tables[-1].rows), 1) + 1
    cells.append(Cell(row, 1, "Convenios de pago", style="label"))
    tables.append(_plans_table(kpis, row + 1))
    row += 2 + max(len(tables[-1].rows), 1) + 1
    day = day_of(as_of)
    start = window_start(pd.Timestamp(day)).date()
    cells += [Cell(row, 1, "Productividad por cobrador", style="label"),
              Cell(row, 3, f"Últimos {WINDOW_DAYS} días: del {start:%d/%m/%Y} al "
                           f"{day:%d/%m/%Y}", style="note")]
    tables.append(_productivity_table(kpis, row + 1))
    return Sheet("Tablero", cells=cells, tables=tables, charts=charts)
