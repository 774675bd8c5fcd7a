"""What a customer's statement of account (estado de cuenta) says: its open invoices
and the total per currency.

Used by the ESTADO_MENSUAL notice (its body and attachment) and the ribbon's "Estado de
cuenta" button; the file itself is laid out at the edge (`sync.xlsx.statement_file`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from cobranza.notices.messages import Line
from cobranza.notices.stages import STATEMENT_STATUSES


def _date(value: object) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def statement_lines(invoices: pd.DataFrame, customer: str) -> tuple[Line, ...]:
    """What `customer` still owes (from `compute_invoices`), by due date: every invoice
    with a balance in STATEMENT_STATUSES (disputed and promised ones included)."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return ()
    rows = invoices[(invoices["customer"] == customer) & _owed(invoices)]
    return tuple(_lines(rows.sort_values(["due", "invoice"], kind="stable")))


def _owed(invoices: pd.DataFrame) -> pd.Series:
    return (invoices["balance"] > 0) & invoices["status"].isin(STATEMENT_STATUSES)


def _lines(rows: pd.DataFrame) -> list[Line]:
    return [  # records, not itertuples: that makes a namedtuple class (a cycle) per call
        Line(
            invoice=str(r["invoice"]),
            customer=str(r["customer"]),
            due=_date(r["due"]),
            days_overdue=int(r["days_overdue"]),
            balance=int(r["balance"]),
            currency=str(r["currency"]),
            issued=_date(r.get("issued")),
            status=str(r.get("status", "")),
        )
        for r in rows.to_dict("records")
    ]


def statement_totals(lines: Sequence[Line]) -> dict[str, int]:
    """Open balance per currency (int64 minor units), in order of first appearance: the
    statement's Total rows."""
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, 0) + int(line.balance)
    return sums
