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


def _date(value: object) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def statement_lines(invoices: pd.DataFrame, customer: str) -> tuple[Line, ...]:
    """Open invoices (balance > 0) of `customer` from `compute_invoices`, by due date."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return ()
    rows = invoices[(invoices["customer"] == customer) & (invoices["balance"] > 0)]
    return tuple(_lines(rows.sort_values(["due", "invoice"], kind="stable")))


def all_statement_lines(invoices: pd.DataFrame) -> dict[str, tuple[Line, ...]]:
    """`statement_lines` of every customer in one pass: a monthly run has thousands of
    statements, and filtering the invoices once per customer grows with both."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return {}
    rows = invoices[invoices["balance"] > 0].sort_values(["customer", "due", "invoice"],
                                                         kind="stable")
    out: dict[str, list[Line]] = {}
    for line in _lines(rows):
        out.setdefault(line.customer, []).append(line)
    return {customer: tuple(lines) for customer, lines in out.items()}


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
