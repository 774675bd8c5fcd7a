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

Payment plans per currency: Activo plans current (`Convenio`) and broken (`Convenio
incumplido`) at as_of, each with the balance left of its instalments; plans paid off
and Cancelado ones are not counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.records import BUCKETS, Book
from cobranza.rules.invoices import as_day, bucket_codes, contact_touches
from cobranza.rules.plans import compute_plans
from cobranza.rules.productivity import compute_productivity
from cobranza.rules.rollups import InvoiceRollups, group_sum
from cobranza.vocabulary import Result, Status

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
    productivity: pd.DataFrame  # per collector, last 30 days (`rules.productivity`)
    # per currency: active, active_balance, broken, broken_balance (PLAN_SUMMARY)
    plans: pd.DataFrame = field(default_factory=lambda: plan_summary(pd.DataFrame(
        {"currency": [], "status": [], "balance": []})))


PLAN_SUMMARY = ["currency", "active", "active_balance", "broken", "broken_balance"]


def plan_summary(plans: pd.DataFrame) -> pd.DataFrame:
    """Per currency of `plans` (rows of `cobranza.rules.plans.Plans.plans`): how many are
    current and broken and the balance left of each kind (int64 minor units)."""
    out = []
    for currency, mine in plans.groupby("currency", sort=True):
        current = mine[mine["status"] == Status.PLAN]
        broken = mine[mine["status"] == Status.PLAN_BROKEN]
        if len(current) or len(broken):
            out.append((currency, len(current), int(current["balance"].sum()), len(broken),
                        int(broken["balance"].sum())))
    frame = pd.DataFrame(out, columns=PLAN_SUMMARY)
    return frame.astype({c: "int64" for c in PLAN_SUMMARY[1:]})


class _Keys:
    """Integer keys of one compute_kpis call: text keys become codes once (in text order,
    so code order is the groupby order)."""

    def __init__(self, rollups: InvoiceRollups) -> None:
        self.currency, self.currencies = rollups.currency_codes
        self.collector, self.collectors = rollups.collector_codes

    def text(self, values: pd.Index) -> pd.Series:
        """A group key column: str, or object when there are no invoices (as groupby)."""
        return pd.Series(values, dtype="str" if len(self.currency) else object)

    def pair(self, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        """(collector, currency) code of invoice rows, in the order of the text pair."""
        return self.collector[rows].astype("int64") * len(self.currencies) + self.currency[rows]


def _receivable_at(invoices: pd.DataFrame, live: np.ndarray, day: pd.Timestamp,
                   paid: np.ndarray) -> np.ndarray:
    """Per invoice: amount still owed at the end of `day` (0 when not receivable; `live`:
    not Castigada; `paid`: paid by `day`)."""
    owed = np.maximum(invoices["amount"].to_numpy() - paid, 0)
    exists = (invoices["issued"].isna() | (invoices["issued"] <= day)).to_numpy()
    return np.where(exists & live, owed, 0)


def _measures(book: Book, rollups: InvoiceRollups, day: pd.Timestamp
              ) -> dict[str, np.ndarray]:
    """Per-invoice amounts whose group sums are the KPI inputs."""
    invoices = rollups.invoices
    issued, amount = invoices["issued"], invoices["amount"]
    live = ~rollups.has_status(Status.WRITTEN_OFF)
    # compute_invoices' paid is by the cut-off, `day`
    now = _receivable_at(invoices, live, day, invoices["paid"].to_numpy())
    due_now = (invoices["days_overdue"] > 0).to_numpy()
    month_ago = day - pd.Timedelta(days=30)

    def sales(days: int) -> np.ndarray:
        window = (issued > day - pd.Timedelta(days=days)) & (issued <= day)
        return amount.where(window, 0).to_numpy(dtype="int64")

    return {
        "open_invoices": (now > 0).astype("int64"),
        "portfolio": now,
        "overdue": np.where(due_now, now, 0),
        "current": np.where(due_now, 0, now),
        "sales_90": sales(90),
        "sales_30": sales(30),
        "opening_30": _receivable_at(invoices, live, month_ago, book.paid.until(month_ago)),
    }


def _promise_touches(book: Book, day: pd.Timestamp) -> pd.DataFrame:
    """contact_touches of the promises that came due, with their Fecha compromiso."""
    con = book.contacts
    due = ((con["result"] == Result.PROMISE) & (con["promise_date"] < day)).to_numpy()
    return contact_touches(book, day, only=due)


def promise_outcomes(book: Book, invoices: pd.DataFrame, day: pd.Timestamp) -> pd.DataFrame:
    """One row per (promise that came due, invoice it covered): pos (invoice row), kept
    (0/1), and the gestión's promise_date, collector and customer."""
    t = _promise_touches(book, day)
    pos = t["pos"].to_numpy()
    paid = book.paid.until(t["promise_date"], pos)
    kept = paid >= invoices["amount"].to_numpy()[pos]
    return pd.DataFrame({"pos": pos, "kept": kept.astype("int64"),
                         "promise_date": t["promise_date"].to_numpy(),
                         "collector": t["collector"].to_numpy(dtype=object),
                         "customer": t["customer"].to_numpy(dtype=object)})


def _ratio(num: pd.Series, den: pd.Series, scale: float) -> pd.Series:
    ok = den > 0
    value = num.astype("float64") / den.where(ok, 1).astype("float64") * scale
    return value.round(1).where(ok)


def _summary(codes: np.ndarray, k: int, measures: dict[str, np.ndarray],
             promised: np.ndarray, kept: np.ndarray) -> pd.DataFrame:
    """SUMS and RATIOS per group code (ascending), for the codes some invoice has."""
    sums = {name: group_sum(codes, k, values) for name, values in measures.items()}
    sums["promises_due"] = np.bincount(promised, minlength=k).astype("int64")
    sums["promises_kept"] = group_sum(promised, k, kept)
    present = np.bincount(codes, minlength=k) > 0
    out = pd.DataFrame({name: sums[name][present] for name in SUMS})
    out["dso"] = _ratio(out["portfolio"], out["sales_90"], 90)
    collected = out["opening_30"] + out["sales_30"] - out["portfolio"]
    out["cei"] = _ratio(collected, out["opening_30"] + out["sales_30"] - out["current"], 100)
    out["promises_kept_pct"] = _ratio(out["promises_kept"], out["promises_due"], 100)
    out.index = np.flatnonzero(present)
    return out


def _totals(keys: _Keys, measures: dict[str, np.ndarray], promises: pd.DataFrame
            ) -> pd.DataFrame:
    pos = promises["pos"].to_numpy()
    k = len(keys.currencies)
    out = _summary(keys.currency, k, measures, keys.currency[pos], promises["kept"].to_numpy())
    currency = keys.text(keys.currencies[out.index])
    return out.reset_index(drop=True).assign(currency=currency)[["currency", *out.columns]]


def _by_collector(keys: _Keys, measures: dict[str, np.ndarray], promises: pd.DataFrame
                  ) -> pd.DataFrame:
    pos = promises["pos"].to_numpy()
    n = len(keys.currencies)
    k = len(keys.collectors) * n
    out = _summary(keys.pair(), k, measures, keys.pair(pos), promises["kept"].to_numpy())
    groups = out.index.to_numpy()
    collector = keys.text(keys.collectors[groups // n])
    currency = keys.text(keys.currencies[groups % n])
    out = out.reset_index(drop=True).assign(collector=collector, currency=currency)
    return out[["collector", "currency", *SUMS, *RATIOS]]


def _aging(invoices: pd.DataFrame, keys: _Keys, portfolio: np.ndarray) -> pd.DataFrame:
    """Open count and balance per currency and bucket, every bucket of every currency."""
    bucket = bucket_codes(invoices["days_overdue"])  # the Tramo column's, as numbers
    rows = (portfolio > 0) & (bucket >= 0)
    cell = keys.currency[rows].astype("int64") * len(BUCKETS) + bucket[rows]
    k = len(keys.currencies) * len(BUCKETS)
    return pd.DataFrame({
        "currency": pd.Series(np.repeat(keys.currencies.to_numpy(), len(BUCKETS)), dtype="str"),
        "bucket": pd.Series(np.tile(np.array(BUCKETS, dtype=object), len(keys.currencies)),
                            dtype="str"),
        "count": np.bincount(cell, minlength=k).astype("int64"),
        "balance": group_sum(cell, k, portfolio[rows]),
    })


def compute_kpis(book: Book, invoices: pd.DataFrame, as_of: date,
                 rollups: InvoiceRollups | None = None) -> Kpis:
    """KPIs of the compute_invoices frame at `as_of` (see module docstring). `rollups`:
    those invoices' (the cycle shares the alerts' context and its codes)."""
    day = as_day(as_of)
    rollups = rollups or InvoiceRollups(book, invoices)
    keys = _Keys(rollups)
    measures = _measures(book, rollups, day)
    promises = promise_outcomes(book, invoices, day)
    return Kpis(
        totals=_totals(keys, measures, promises),
        aging=_aging(invoices, keys, measures["portfolio"]),
        collectors=_by_collector(keys, measures, promises),
        productivity=compute_productivity(book, invoices, promises, as_of),
        plans=plan_summary(compute_plans(book, day).plans),
    )
