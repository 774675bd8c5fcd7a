"""Per-invoice rules: Saldo, Días vencidos, Tramo and Estatus, over whole columns.

Pure functions of a `Book` and an as-of date (SPEC "Rules"). Payments and gestiones
dated after `as_of` are ignored, so any past day can be recomputed exactly.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from cobranza.records import BUCKETS, Book

# Resultado -> Estatus it sets; None = "back to the date rule" (ends the previous state).
# Pago recibido is treated like Disputa resuelta: "Pagada" only ever comes from Pagos.
STATUS_RESULTS: dict[str, str | None] = {
    "Promesa de pago": "Promesa de pago",
    "Pago informado": "Pago informado",
    "Disputa": "Disputa",
    "Disputa resuelta": None,
    "Pago recibido": None,
    "Asignar a tercero": "Tercerizada",
    "Castigo": "Castigada",
}
PROMISE = "Promesa de pago"
BROKEN_PROMISE = "Promesa incumplida"
PAID = "Pagada"

_TOUCH_COLUMNS = [
    "date", "row", "customer", "invoice", "collector", "result", "promise_date", "area",
    "comment", "follow_up",
]


def as_day(as_of: date | datetime | pd.Timestamp) -> pd.Timestamp:
    """The as-of calendar day at midnight (a datetime keeps only its date)."""
    ts = pd.Timestamp(as_of)
    return pd.Timestamp(ts.year, ts.month, ts.day)


def days_overdue(due: pd.Series, as_of: date) -> pd.Series:
    """as_of − Vencimiento in calendar days (negative = days left); Int64 <NA> for blanks."""
    days = (as_day(as_of) - pd.to_datetime(due)).dt.days
    return days.astype("Int64") if days.isna().any() else days.astype("int64")


def bucket_of(days: pd.Series) -> pd.Series:
    """Tramo of each Días vencidos value; "" where the value is blank."""
    d = pd.to_numeric(days).astype("float64").to_numpy()
    conditions = [np.isnan(d), d <= 0, d <= 30, d <= 60, d <= 90]
    choices = ["", *BUCKETS[:4]]
    return pd.Series(np.select(conditions, choices, BUCKETS[4]), index=days.index, dtype="str")


def status_by_date(days: pd.Series, action_days: int) -> pd.Series:
    """The date rule: Por vencer (<= 0), Vencida (1 .. action_days-1), En acción."""
    d = days.to_numpy()
    labels = np.select([d <= 0, d < action_days], ["Por vencer", "Vencida"], "En acción")
    return pd.Series(labels, index=days.index, dtype="str")


def invoice_positions(invoices: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Row position in `invoices` of each Factura in `ids`; -1 when unknown.

    Integer keys make every later groupby a fast numeric one (no string sorting).
    """
    first = ~invoices["invoice"].duplicated().to_numpy()
    found = pd.Index(invoices["invoice"][first]).get_indexer(ids)
    return np.where(found >= 0, np.flatnonzero(first)[found], -1)


def paid_until(invoice: pd.Series, when: pd.Series, payments: pd.DataFrame) -> pd.Series:
    """Row by row: total payments to `invoice` dated on or before `when` (int64).

    `when` must have no NaT. One merge_asof over per-invoice cumulative daily totals.
    """
    if invoice.empty or payments.empty:
        return pd.Series(0, index=invoice.index, dtype="int64")
    keys = pd.Index(payments["invoice"].unique())
    daily = payments.groupby([keys.get_indexer(payments["invoice"]), "date"])["amount"].sum()
    daily = daily.rename_axis(["key", "date"]).reset_index()
    daily["cum"] = daily.groupby("key")["amount"].cumsum()
    daily["date"] = daily["date"].astype("datetime64[ns]")
    left = pd.DataFrame({
        "key": keys.get_indexer(invoice),
        "when": pd.to_datetime(when).to_numpy().astype("datetime64[ns]"),
        "pos": np.arange(len(invoice)),
    }).sort_values("when", kind="stable")
    merged = pd.merge_asof(
        left, daily.sort_values("date")[["key", "date", "cum"]],
        left_on="when", right_on="date", by="key", direction="backward",
    ).sort_values("pos")
    return pd.Series(merged["cum"].fillna(0).to_numpy(dtype="int64"), index=invoice.index)


def contact_touches(book: Book, as_of: date) -> pd.DataFrame:
    """One row per (gestión, invoice it applies to), for gestiones dated <= as_of.

    A gestión with blank Factura applies to every invoice of its customer open on its
    date: issued on or before it (or no Emisión) and not fully paid by payments dated
    on or before it. A Factura that names no known invoice touches nothing. Column
    `pos` is the invoice's row position in book.invoices.
    """
    con = book.contacts[book.contacts["date"] <= as_day(as_of)]
    direct = con[con["invoice"] != ""]
    direct = direct.assign(pos=invoice_positions(book.invoices, direct["invoice"]))
    inv = book.invoices[["invoice", "customer", "issued", "amount"]]
    inv = inv.assign(pos=np.arange(len(inv)))
    pairs = con[con["invoice"] == ""].drop(columns="invoice").merge(inv, on="customer")
    pairs = pairs[pairs["issued"].isna() | (pairs["issued"] <= pairs["date"])]
    still_open = pairs["amount"] > paid_until(pairs["invoice"], pairs["date"], book.payments)
    touches = pd.concat([direct[direct["pos"] >= 0], pairs[still_open]], ignore_index=True)
    return touches[[*_TOUCH_COLUMNS, "pos"]]


def _filled_promise(touches: pd.DataFrame) -> pd.Series:
    # A promise logged without Fecha compromiso is taken as a promise to pay that same day.
    return touches["promise_date"].fillna(touches["date"])


def _deciding(touches: pd.DataFrame, day: pd.Timestamp, n: int) -> pd.DataFrame:
    """Per invoice position 0..n-1: the status set by its latest status-bearing gestión."""
    sb = touches[touches["result"].isin(list(STATUS_RESULTS))]
    sb = sb.sort_values(["pos", "date", "row"], kind="stable")
    new_run = sb["result"].ne(sb.groupby("pos")["result"].shift())
    since = sb["date"].where(new_run).groupby(sb["pos"]).ffill()
    last = sb.assign(since=since).drop_duplicates("pos", keep="last").set_index("pos")
    promise = _filled_promise(last)
    is_promise = last["result"] == PROMISE
    status = last["result"].map(STATUS_RESULTS).fillna("")
    status = status.where(~is_promise | (promise >= day), BROKEN_PROMISE)
    sets = status != ""
    out = pd.DataFrame({
        "g_status": status.astype("str"),
        "status_date": last["date"].where(sets),
        "status_since": last["since"].where(sets),
        "promise_date": promise.where(is_promise),
        "area": last["area"].where(last["result"] == "Disputa", ""),
    }).reindex(pd.RangeIndex(n))
    broken = touches[(touches["result"] == PROMISE) & (_filled_promise(touches) < day)]
    out["broken_promises"] = broken.groupby("pos").size()
    resolved = touches.loc[touches["result"] == "Disputa resuelta", "pos"]
    out["dispute_resolved"] = out.index.isin(resolved)
    out["last_contact"] = touches.groupby("pos")["date"].max()
    return out


def compute_invoices(book: Book, as_of: date) -> pd.DataFrame:
    """One row per invoice: the columns of book.invoices plus the computed ones.

    Added: paid, balance, days_overdue, bucket, status, status_date, promise_date,
    last_contact, collector, area, name; and status_since (first gestión of the current
    run of the same Resultado), broken_promises (promises with Fecha compromiso before
    as_of), dispute_resolved (a Disputa resuelta touched the invoice).
    """
    day = as_day(as_of)
    inv = book.invoices.copy()
    pays = book.payments[book.payments["date"] <= day]
    pos = invoice_positions(inv, pays["invoice"])
    paid = pays["amount"].groupby(pos).sum().reindex(range(len(inv)), fill_value=0)
    inv["paid"] = paid.to_numpy(dtype="int64")
    inv["balance"] = inv["amount"] - inv["paid"]
    inv["days_overdue"] = days_overdue(inv["due"], day)
    inv["bucket"] = bucket_of(inv["days_overdue"])
    dec = _deciding(contact_touches(book, day), day, len(inv))
    g_status = dec["g_status"].fillna("").to_numpy()
    by_date = status_by_date(inv["days_overdue"], book.config.action_days).to_numpy()
    is_paid = (inv["balance"] <= 0).to_numpy()
    status = np.where(is_paid, PAID, np.where(g_status != "", g_status, by_date))
    inv["status"] = pd.Series(status, index=inv.index, dtype="str")
    keep = ~is_paid  # Pagada overrides: no deciding gestión, promise or area
    for col in ("status_date", "promise_date", "last_contact", "status_since"):
        values = dec[col] if col == "last_contact" else dec[col].where(keep)
        inv[col] = values.astype("datetime64[ns]").to_numpy()
    customers = book.customers.drop_duplicates("customer").set_index("customer")
    inv["collector"] = inv["customer"].map(customers["collector"]).fillna("").astype("str")
    inv["area"] = dec["area"].where(keep).fillna("").astype("str").to_numpy()
    inv["name"] = inv["customer"].map(customers["name"]).fillna("").astype("str")
    inv["broken_promises"] = dec["broken_promises"].fillna(0).astype("int64").to_numpy()
    inv["dispute_resolved"] = dec["dispute_resolved"].to_numpy(dtype=bool)
    order = [*book.invoices.columns, "paid", "balance", "days_overdue", "bucket", "status",
             "status_date", "promise_date", "last_contact", "collector", "area", "name",
             "status_since", "broken_promises", "dispute_resolved"]
    return inv[order]
