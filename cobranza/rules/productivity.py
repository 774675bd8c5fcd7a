"""Collector productivity for Tablero: what each Cobrador did and achieved in the last
30 days up to the cut-off.

Window: the 30 calendar days `as_of − 29 … as_of`, both included. Data dated after
`as_of` does not exist yet. Per collector:

- gestiones: Gestiones rows dated in the window. The collector of a gestión is its own
  Cobrador cell, or its customer's Cobrador (Clientes) when that cell is blank.
- contacts: those of them whose Resultado is not `Sin contacto`.
- promises: those of them whose Resultado is `Promesa de pago`.
- promises_due / promises_kept / promises_kept_pct: (promise, invoice) pairs whose
  Fecha compromiso fell in the window and came due (before `as_of`), kept by the Tablero
  rule (`kpis.promise_outcomes`, passed in: payments dated on or before Fecha compromiso cover the
  whole Importe); credited to the gestión's collector as above.
- recovered_<MONEDA>: payments dated in the window on invoices of the collector's
  customers, per currency (minor units; Tablero never converts currencies).
- days_to_collect: invoices that became fully paid in the window (paid by `as_of`, not
  by `as_of − 30`): days from Emisión to their last payment dated on or before `as_of`,
  averaged (one decimal); invoices without Emisión are left out.

Collectors listed: every Cobradores row, plus any other collector with something to
count ("" = no collector), in text order.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.records import Book
from cobranza.rules.invoices import as_day
from cobranza.vocabulary import Result

WINDOW_DAYS = 30
RECOVERED = "recovered_"  # + currency: one column per currency with payments
COUNTS = ["gestiones", "contacts", "promises", "promises_due", "promises_kept"]


def window_start(day: pd.Timestamp) -> pd.Timestamp:
    return day - pd.Timedelta(days=WINDOW_DAYS - 1)


def gestion_collectors(book: Book, contacts: pd.DataFrame) -> pd.Series:
    """The collector of each gestión: its Cobrador, else its customer's (first row)."""
    own = contacts["collector"].astype(object)
    customers = book.customers.drop_duplicates("customer")
    theirs = contacts["customer"].map(customers.set_index("customer")["collector"])
    return own.where(own != "", theirs.fillna("")).astype(object)


def _count(keys: pd.Series, mask: np.ndarray | pd.Series) -> pd.Series:
    return keys[np.asarray(mask)].value_counts()


def _gestion_counts(book: Book, start: pd.Timestamp, day: pd.Timestamp) -> pd.DataFrame:
    con = book.contacts
    con = con[((con["date"] >= start) & (con["date"] <= day)).to_numpy()]
    who = gestion_collectors(book, con)
    result = con["result"].to_numpy(dtype=object)
    return pd.DataFrame({
        "gestiones": who.value_counts(),
        "contacts": _count(who, result != Result.NO_CONTACT),
        "promises": _count(who, result == Result.PROMISE),
    })


def _promise_counts(book: Book, promises: pd.DataFrame, start: pd.Timestamp
                    ) -> pd.DataFrame:
    p = promises[(promises["promise_date"] >= start).to_numpy()]
    who = gestion_collectors(book, p)
    return pd.DataFrame({
        "promises_due": who.value_counts(),
        "promises_kept": who[p["kept"].to_numpy() == 1].value_counts(),
    })


def _recovered(book: Book, invoices: pd.DataFrame, start: pd.Timestamp,
               day: pd.Timestamp) -> pd.DataFrame:
    pay = book.payments
    window = ((pay["date"] >= start) & (pay["date"] <= day)).to_numpy()
    pay, pos = pay[window], book.paid.rows[window]
    known = pos >= 0
    pos = pos[known]
    frame = pd.DataFrame({
        "collector": invoices["collector"].to_numpy(dtype=object)[pos],
        "currency": invoices["currency"].to_numpy(dtype=object)[pos],
        "amount": pay["amount"].to_numpy(dtype="int64")[known],
    })
    wide = frame.pivot_table(index="collector", columns="currency", values="amount",
                             aggfunc="sum", fill_value=0)
    wide.columns = [RECOVERED + str(c) for c in wide.columns]
    return wide.astype("int64")


def _days_to_collect(book: Book, invoices: pd.DataFrame, start: pd.Timestamp,
                     day: pd.Timestamp) -> pd.Series:
    amount = invoices["amount"].to_numpy(dtype="int64")
    now = invoices["paid"].to_numpy()  # compute_invoices': paid by `day`, the cut-off
    before = book.paid.until(start - pd.Timedelta(days=1))
    issued = invoices["issued"].to_numpy(dtype="datetime64[ns]")
    done = (amount > 0) & (now >= amount) & (before < amount) & ~np.isnat(issued)
    # each done invoice's last payment dated <= day, by the payments' invoice rows
    rows, dates = book.paid.rows, book.payments["date"].to_numpy(dtype="datetime64[ns]")
    mine = (dates <= day.to_datetime64()) & (rows >= 0)
    mine[mine] = done[rows[mine]]
    last = np.full(len(invoices), np.datetime64("NaT", "ns"))
    np.maximum.at(last.view("int64"), rows[mine], dates[mine].view("int64"))  # NaT: the least
    days = last[done] - issued[done]
    days = pd.Series(days.astype("timedelta64[D]").astype("float64"))
    return days.groupby(invoices["collector"].to_numpy(dtype=object)[done]).mean().round(1)


def compute_productivity(book: Book, invoices: pd.DataFrame, promises: pd.DataFrame,
                         as_of: date) -> pd.DataFrame:
    """One row per collector (see module docstring): collector, COUNTS,
    promises_kept_pct, days_to_collect (NaN when nothing to average), RECOVERED columns.

    `invoices`: the compute_invoices frame; `promises`: kpis.promise_outcomes at as_of."""
    day = as_day(as_of)
    start = window_start(day)
    parts = [_gestion_counts(book, start, day), _promise_counts(book, promises, start)]
    recovered = _recovered(book, invoices, start, day)
    out = pd.concat([*parts, recovered], axis=1)
    out["days_to_collect"] = _days_to_collect(book, invoices, start, day)
    names = pd.Index(book.collectors["collector"].astype(object)).union(out.index)
    out = out.reindex(sorted(set(names)))
    counted = [*COUNTS, *recovered.columns]
    out[counted] = out[counted].fillna(0).astype("int64")
    due = out["promises_due"]
    out["promises_kept_pct"] = (out["promises_kept"] / due.where(due > 0) * 100).round(1)
    out = out.rename_axis("collector").reset_index()
    return out[["collector", *COUNTS, "promises_kept_pct", "days_to_collect",
                *sorted(recovered.columns)]]
