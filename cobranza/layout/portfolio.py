"""Cartera: the invoices with a balance or recent activity, as values (what finance reads
without Python: the Facturas formula columns, computed by the sync)."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from cobranza.layout.reports import (
    TABLE_ROW,
    _coded,
    _money,
    _rows,
    categories,
    customer_columns,
    sheet_header,
)
from cobranza.layout.sheets import Cell, Sheet, Table
from cobranza.plural import count

CARTERA_COLUMNS = ("Factura", "Cliente", "Nombre", "Cobrador", "Emisión", "Vencimiento",
                   "Moneda", "Importe", "Saldo", "Días vencidos", "Tramo", "Estatus",
                   "Próximo aviso")
# The compute_invoices columns `cartera_sheet` reads
CARTERA_SOURCES = ("invoice", "customer", "name", "collector", "issued", "due", "currency",
                   "amount", "balance", "days_overdue", "bucket", "status")


def cartera_sheet(invoices: pd.DataFrame, next_notice: np.ndarray,
                  as_of: date | datetime, customers: pd.DataFrame | None = None,
                  customer_rows: np.ndarray | None = None) -> Sheet:
    """tblCartera, one row per row of `invoices` (compute_invoices' rows to list, in
    Facturas order); `next_notice`: PROXIMO_AVISO's text of each row. `customer_rows`:
    each row's row in `customers` (`Book.customer_rows`, where compute_invoices took
    Nombre and Cobrador from): those columns are then handed over as codes."""
    inv = invoices
    notice = pd.Series(np.asarray(next_notice, dtype=object), index=inv.index)
    currency = _coded(inv["currency"])  # one hash for Importe and Saldo
    table = Table(
        name="tblCartera",
        columns=CARTERA_COLUMNS,
        rows=_rows([inv["invoice"], *customer_columns(inv, customers, customer_rows),
                    inv["issued"], inv["due"], categories(currency),
                    _money(inv["amount"], currency),
                    _money(inv["balance"], currency), inv["days_overdue"],
                    inv["bucket"], inv["status"], notice]),
        row=TABLE_ROW,
        formats={"Factura": "text", "Cliente": "text", "Emisión": "date",
                 "Vencimiento": "date", "Importe": "money", "Saldo": "money",
                 "Días vencidos": "int"},
        widths={"Factura": 15, "Cliente": 16, "Nombre": 42, "Cobrador": 16, "Emisión": 11,
                "Días vencidos": 14, "Tramo": 12,
                "Vencimiento": 12, "Importe": 14, "Saldo": 14, "Estatus": 18,
                "Próximo aviso": 44},
    )
    cells = sheet_header("Cartera de facturas", as_of)
    cells.append(Cell(2, 4, count(len(inv), "factura"), style="note"))
    return Sheet("Cartera", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)
