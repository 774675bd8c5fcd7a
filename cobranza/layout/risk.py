"""Riesgo: each customer's risk score, level and reasons, as values, highest risk first."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd

from cobranza.layout.reports import NO_COLLECTOR, TABLE_ROW, _money, _rows, sheet_header
from cobranza.layout.sheets import Cell, Sheet, Table
from cobranza.plural import count
from cobranza.rules.risk import OVERDUE, risk_currencies

RIESGO_COLUMNS = ("Cliente", "Nombre", "Cobrador", "Riesgo", "Nivel", "Motivos",
                  "Atraso promedio")


def risk_sheet(risk: pd.DataFrame, as_of: date | datetime) -> Sheet:
    """tblRiesgo, one row per customer of `risk` (compute_risk's frame, in its order);
    the overdue balance in one "Saldo vencido <moneda>" column per currency."""
    r = risk
    currencies = risk_currencies(r)
    balances = tuple(f"Saldo vencido {c}" for c in currencies)
    collector = r["collector"].where(r["collector"] != "", NO_COLLECTOR)
    table = Table(
        name="tblRiesgo",
        columns=(*RIESGO_COLUMNS, *balances),
        rows=_rows([r["customer"], r["name"], collector, r["risk"], r["level"], r["reasons"],
                    r["late_days"],
                    *(_money(r[OVERDUE + c], pd.Series(c, index=r.index)) for c in currencies)]),
        row=TABLE_ROW,
        formats={"Cliente": "text", "Riesgo": "int", "Atraso promedio": "int",
                 **dict.fromkeys(balances, "money")},
        widths={"Cliente": 16, "Nombre": 42, "Cobrador": 16, "Riesgo": 8, "Nivel": 8,
                "Motivos": 90, "Atraso promedio": 16, **dict.fromkeys(balances, 20)},
    )
    cells = sheet_header("Riesgo de pago tardío", as_of)
    cells.append(Cell(2, 4, count(len(r), "cliente"), style="note"))
    return Sheet("Riesgo", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)
