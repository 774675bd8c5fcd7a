"""Tablero KPIs per currency and per collector: portfolio, overdue, aging, DSO, CEI and
share of promises kept. Money sums stay int64 minor units; ratios are floats rounded to
one decimal (display measures, never compared as money).

Receivable at day t: invoice issued on or before t (or with no Emisión), not Castigada
(as of `as_of`), with Importe − payments dated <= t greater than 0 (that amount counts).

    DSO = receivables(as_of) / sales(last 90 days) × 90
    CEI = (receivables(as_of−30) + sales(last 30 days) − receivables(as_of))
          / (receivables(as_of−30) + sales(last 30 days) − current receivables(as_of)) × 100

sales(last N days) = Importe of invoices with Emisión in (as_of − N, as_of]; current =
not yet due (Días vencidos <= 0). A promise came due when its Fecha compromiso < as_of;
it was kept when payments dated on or before Fecha compromiso cover the whole Importe.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from cobranza.records import BUCKETS, Book
from cobranza.rules import PROMISE, as_day, contact_touches, paid_until

SUMS = ["open_invoices", "portfolio", "overdue", "sales_90", "sales_30", "opening_30",
        "current", "promises_due", "promises_kept"]
RATIOS = ["dso", "cei", "promises_kept_pct"]


@dataclass(frozen=True)
class Kpis:
    """totals: per currency; collectors: per (collector, currency); aging: per currency
    and bucket (count, balance), every bucket listed. Columns: SUMS + RATIOS."""

    totals: pd.DataFrame
    aging: pd.DataFrame
    collectors: pd.DataFrame


def _receivable_at(invoices: pd.DataFrame, payments: pd.DataFrame, day: pd.Timestamp):
    """Per invoice: amount still owed at the end of `day` (0 when not receivable)."""
    pays = payments[payments["date"] <= day].groupby("invoice")["amount"].sum()
    paid = pays.reindex(invoices["invoice"]).fillna(0).to_numpy(dtype="int64")
    owed = np.maximum(invoices["amount"].to_numpy() - paid, 0)
    exists = (invoices["issued"].isna() | (invoices["issued"] <= day)).to_numpy()
    return np.where(exists & (invoices["status"] != "Castigada").to_numpy(), owed, 0)


def _measures(book: Book, invoices: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """Per-invoice amounts whose group sums are the KPI inputs."""
    issued, amount = invoices["issued"], invoices["amount"]
    now = _receivable_at(invoices, book.payments, day)
    due_now = (invoices["days_overdue"] > 0).to_numpy()
    return pd.DataFrame({
        "currency": invoices["currency"], "collector": invoices["collector"],
        "bucket": invoices["bucket"],
        "open_invoices": (now > 0).astype("int64"),
        "portfolio": now,
        "overdue": np.where(due_now, now, 0),
        "current": np.where(due_now, 0, now),
        "sales_90": amount.where((issued > day - pd.Timedelta(days=90)) & (issued <= day), 0),
        "sales_30": amount.where((issued > day - pd.Timedelta(days=30)) & (issued <= day), 0),
        "opening_30": _receivable_at(invoices, book.payments, day - pd.Timedelta(days=30)),
        "promises_due": 0, "promises_kept": 0,
    }, index=invoices.index)


def _promises(book: Book, invoices: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One row per (promise that came due, invoice it covered): kept 0/1."""
    t = contact_touches(book, day)
    t = t.assign(promise=t["promise_date"].fillna(t["date"]))
    t = t[(t["result"] == PROMISE) & (t["promise"] < day)]
    inv = invoices.iloc[t["pos"].to_numpy()]
    kept = paid_until(t["invoice"], t["promise"], book.payments).to_numpy() >= inv["amount"]
    return pd.DataFrame({
        "currency": inv["currency"].to_numpy(), "collector": inv["collector"].to_numpy(),
        "promises_due": 1, "promises_kept": kept.to_numpy().astype("int64"),
    })


def _ratio(num: pd.Series, den: pd.Series, scale: float) -> pd.Series:
    ok = den > 0
    value = num.astype("float64") / den.where(ok, 1).astype("float64") * scale
    return value.round(1).where(ok)


def _summary(rows: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = rows.groupby(keys, sort=True)[SUMS].sum().astype("int64")
    out["dso"] = _ratio(out["portfolio"], out["sales_90"], 90)
    collected = out["opening_30"] + out["sales_30"] - out["portfolio"]
    out["cei"] = _ratio(collected, out["opening_30"] + out["sales_30"] - out["current"], 100)
    out["promises_kept_pct"] = _ratio(out["promises_kept"], out["promises_due"], 100)
    return out.reset_index()


def _aging(measures: pd.DataFrame) -> pd.DataFrame:
    open_ = measures[measures["portfolio"] > 0]
    grid = pd.MultiIndex.from_product(
        [sorted(measures["currency"].unique()), BUCKETS], names=["currency", "bucket"]
    )
    agg = open_.groupby(["currency", "bucket"]).agg(
        count=("portfolio", "size"), balance=("portfolio", "sum")
    )
    return agg.reindex(grid, fill_value=0).astype("int64").reset_index()


def compute_kpis(book: Book, invoices: pd.DataFrame, as_of: date) -> Kpis:
    """KPIs of the compute_invoices frame at `as_of` (see module docstring)."""
    day = as_day(as_of)
    measures = _measures(book, invoices, day)
    rows = pd.concat([measures, _promises(book, invoices, day)], ignore_index=True)
    rows[SUMS] = rows[SUMS].fillna(0).astype("int64")
    return Kpis(
        totals=_summary(rows, ["currency"]),
        aging=_aging(measures),
        collectors=_summary(rows, ["collector", "currency"]),
    )
