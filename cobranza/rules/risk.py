"""Riesgo: how likely each customer is to pay late, 0-100, from what is known at the cut-off.

A points model, so every point has a reason a collector can read (README "Riesgo"):

- history (up to 60): the invoices the customer fully paid in the 12 months before the
  cut-off, each weighted by how recent its Vencimiento is (half-life HALF_LIFE days):
  40 x weighted share paid late + 20 x min(weighted mean days late / 30, 1);
- promises (up to 15): 8 per promise of the last 90 days that came due unpaid;
- disputes (up to 5): 5 when an open invoice is in Disputa;
- overdue (up to 15): 15 x min(days overdue of its oldest open invoice / 60, 1);
- credit (up to 5): 5 x how far its open balance goes from 50 % to 100 % of its limit.

Time-honest: a payment dated after the cut-off does not exist yet (the invoice is open),
an invoice issued after it does not exist, and gestiones after it are ignored (the
`invoices` frame is compute_invoices at the same day). A customer with nothing paid in
the 12 months gets the portfolio's history points (its base rate) and the Motivo
"sin historial de pagos". Pure: records and an as-of day in, one row per customer out.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.positions import first_positions
from cobranza.book.records import Book
from cobranza.rules.invoices import as_day, contact_touches
from cobranza.rules.paid import paid_until
from cobranza.vocabulary import Result, Status

RISK_COLUMNS = ["customer", "name", "collector", "risk", "level", "reasons", "late_days"]
# Then OVERDUE + currency: the customer's overdue balance in it (Int64 minor units).
OVERDUE = "overdue "
HISTORY_DAYS = 365  # paid invoices looked at: paid in this many days up to the cut-off
HALF_LIFE = 90  # days: an invoice due 90 days earlier weighs half as much
PROMISE_DAYS = 90  # broken promises counted: Fecha compromiso in these days
LOW, HIGH = 34, 67  # Nivel: Bajo < LOW <= Medio < HIGH <= Alto
LEVELS = ("Bajo", "Medio", "Alto")
NO_HISTORY = "sin historial de pagos"
# Points per component: (name, maximum).
POINTS = {"late": 40.0, "days": 20.0, "promises": 15.0, "disputes": 5.0, "overdue": 15.0,
          "credit": 5.0}


def paid_dates(book: Book, day: pd.Timestamp) -> pd.Series:
    """Per row of book.invoices: the Fecha of the payment that completed it, counting
    only payments dated on or before `day` (NaT = open at `day`)."""
    inv, pay = book.invoices, book.payments
    pos = first_positions(inv["invoice"], pay["invoice"])[0]
    keep = (pay["date"] <= day).to_numpy() & (pos >= 0)
    pos, when = pos[keep], pay["date"].to_numpy()[keep]
    amount = pay["amount"].to_numpy(dtype="int64")[keep]
    order = np.lexsort((when, pos))
    pos, when, running = pos[order], when[order], np.cumsum(amount[order])
    starts = np.r_[True, pos[1:] != pos[:-1]] if len(pos) else np.zeros(0, bool)
    before = np.maximum.accumulate(np.where(starts, np.r_[0, running[:-1]], 0))
    reached = (running - before) >= inv["amount"].to_numpy(dtype="int64")[pos]
    first = pd.Series(when[reached]).groupby(pos[reached]).first()
    out = pd.Series(pd.NaT, index=range(len(inv)), dtype="datetime64[ns]")
    out.iloc[first.index.to_numpy()] = first.to_numpy()
    return out


def _history(book: Book, day: pd.Timestamp, exists: np.ndarray) -> pd.DataFrame:
    """Per paid invoice of the window: customer, weight, days late (>= 0), late."""
    inv = book.invoices
    paid = paid_dates(book, day)
    window = (exists & (paid > day - pd.Timedelta(days=HISTORY_DAYS)).to_numpy()
              & inv["due"].notna().to_numpy())
    due = inv["due"].to_numpy()[window]
    late = (paid.to_numpy()[window] - due).astype("timedelta64[D]").astype("int64")
    age = np.maximum((day.to_datetime64() - due).astype("timedelta64[D]").astype("int64"), 0)
    return pd.DataFrame({"customer": inv["customer"].to_numpy()[window],
                         "weight": 0.5 ** (age / HALF_LIFE), "days": np.maximum(late, 0),
                         "late": late > 0})


def _history_points(late_share: pd.Series, mean_days: pd.Series) -> pd.Series:
    return POINTS["late"] * late_share + POINTS["days"] * np.minimum(mean_days / 30, 1)


def _broken_promises(book: Book, day: pd.Timestamp) -> pd.Series:
    """Per customer: promises (gestión rows) with Fecha compromiso in the PROMISE_DAYS
    before the cut-off that some invoice they name was not fully paid by."""
    touches = contact_touches(book, day)
    due = touches["promise_date"]
    recent = ((touches["result"] == Result.PROMISE) & (due < day)
              & (due >= day - pd.Timedelta(days=PROMISE_DAYS)))
    t = touches[recent.to_numpy()]
    amount = book.invoices["amount"].to_numpy(dtype="int64")[t["pos"].to_numpy(dtype="int64")]
    unpaid = amount > paid_until(t["invoice"].reset_index(drop=True),
                                 t["promise_date"].reset_index(drop=True), book.payments)
    return t[unpaid].drop_duplicates("row").groupby("customer").size()


def _per_customer(values: np.ndarray, customers: np.ndarray, index: pd.Index,
                  how: str = "sum") -> pd.Series:
    out = pd.Series(values).groupby(customers).agg(how)
    return out.reindex(index, fill_value=0)


def _credit_use(book: Book, inv: pd.DataFrame, open_: np.ndarray, index: pd.Index
                ) -> pd.Series:
    """Open balance in the default currency / Límite de crédito (NaN without a limit)."""
    mine = open_ & (inv["currency"] == book.config.default_currency).to_numpy()
    balance = _per_customer(inv["balance"].to_numpy()[mine], inv["customer"].to_numpy()[mine],
                            index).astype("float64")
    limits = book.customers.drop_duplicates("customer").set_index("customer")["credit_limit"]
    limit = limits.reindex(index).astype("float64")
    return balance / limit.where(limit > 0)


def _motives(parts: pd.DataFrame, texts: pd.DataFrame) -> pd.Series:
    """The up to three texts with the most points (> 0), most first, joined by "; "."""
    points = parts.to_numpy()
    order = np.argsort(-points, axis=1, kind="stable")[:, :3]
    chosen = np.take_along_axis(texts.to_numpy(dtype=object), order, axis=1)
    shown = np.take_along_axis(points, order, axis=1) > 0
    columns = [pd.Series(np.where(shown[:, i], chosen[:, i], None)) for i in range(3)]
    joined = columns[0].str.cat(columns[1:], sep="; ", na_rep="").str.replace(
        r"(; )+$|^(; )+", "", regex=True).str.replace(r"(; ){2,}", "; ", regex=True)
    return joined.fillna("")


def _counted(n: pd.Series, one: str, many: str) -> pd.Series:
    return n.astype("int64").astype(str) + " " + np.where(n == 1, one, many)


def compute_risk(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """One row per customer with an invoice issued on or before `as_of`: RISK_COLUMNS
    (risk int 0-100, late_days Int64 <NA> without paid invoices in 12 months), then one
    OVERDUE + currency column per currency owed overdue (the default currency first),
    ordered by risk (highest first), then customer. `invoices`: compute_invoices(book,
    as_of)."""
    day = as_day(as_of)
    inv = invoices
    exists = (inv["issued"].isna() | (inv["issued"] <= day)).to_numpy()
    customers = pd.Index(sorted(set(inv["customer"].to_numpy()[exists])), dtype="str")
    hist = _history(book, day, exists)
    w = hist["weight"]
    grouped = pd.DataFrame({"w": w, "wl": w * hist["late"], "wd": w * hist["days"],
                            "n": 1, "nl": hist["late"].astype(int),
                            "dl": hist["days"].where(hist["late"], 0)}).groupby(
        hist["customer"].to_numpy()).sum().reindex(customers)
    known = grouped["w"].notna() & (grouped["w"] > 0)
    base = hist["late"].mul(w).sum() / w.sum() if w.sum() > 0 else 0.0
    base_days = hist["days"].mul(w).sum() / w.sum() if w.sum() > 0 else 0.0
    share = (grouped["wl"] / grouped["w"]).where(known, base)
    days = (grouped["wd"] / grouped["w"]).where(known, base_days)
    history = _history_points(share, days)

    open_ = (exists & (inv["balance"].to_numpy() > 0)
             & (inv["status"] != Status.WRITTEN_OFF).to_numpy())
    overdue_mask = open_ & (inv["days_overdue"].fillna(0).to_numpy() > 0)
    who = inv["customer"].to_numpy()
    oldest = _per_customer(inv["days_overdue"].to_numpy()[overdue_mask].astype("int64"),
                           who[overdue_mask], customers, "max")
    disputed = _per_customer(np.ones(int((open_ & (inv["status"] == Status.DISPUTED)
                                          .to_numpy()).sum()), dtype="int64"),
                             who[open_ & (inv["status"] == Status.DISPUTED).to_numpy()],
                             customers)
    promises = _broken_promises(book, day).reindex(customers, fill_value=0)
    usage = _credit_use(book, inv, open_, customers)

    parts = pd.DataFrame({
        "history": history.to_numpy(),
        "promises": np.minimum(promises * 8.0, POINTS["promises"]).to_numpy(),
        "disputes": np.where(disputed > 0, POINTS["disputes"], 0.0),
        "overdue": (POINTS["overdue"] * np.minimum(oldest / 60, 1)).to_numpy(),
        "credit": (POINTS["credit"] * ((usage.fillna(0) - 0.5) / 0.5).clip(0, 1)).to_numpy(),
    })
    risk = np.clip(np.floor(parts.sum(axis=1).to_numpy() + 0.5), 0, 100).astype("int64")

    late_mean = (grouped["dl"] / grouped["nl"]).where(grouped["nl"] > 0)
    texts = pd.DataFrame({
        "history": ("pagó tarde " + grouped["nl"].fillna(0).astype("int64").astype(str)
                    + " de sus " + grouped["n"].fillna(0).astype("int64").astype(str)
                    + " facturas pagadas en 12 meses (promedio "
                    + late_mean.round().fillna(0).astype("int64").astype(str)
                    + " días)").where(known, NO_HISTORY).to_numpy(),
        "promises": (_counted(promises, "promesa incumplida", "promesas incumplidas")
                     + f" en {PROMISE_DAYS} días").to_numpy(),
        "disputes": (_counted(disputed, "factura", "facturas") + " en disputa").to_numpy(),
        "overdue": ("saldo vencido de hasta " + oldest.astype(str) + " "
                    + np.where(oldest == 1, "día", "días")).to_numpy(),
        "credit": ("saldo abierto " + (usage.fillna(0) * 100).round().astype("int64")
                   .astype(str) + " % del límite de crédito").to_numpy(),
    })
    # a customer paying on time earns no history points and no such Motivo; one without
    # history always says so, first
    no_hist = ~known.to_numpy()
    parts.loc[no_hist, "history"] = 1000.0
    parts.loc[known.to_numpy() & (grouped["nl"].fillna(0) == 0).to_numpy(), "history"] = 0.0
    on_time = ("pagó a tiempo sus " + grouped["n"].fillna(0).astype("int64").astype(str)
               + " facturas pagadas en 12 meses")
    reasons = _motives(parts, texts)
    reasons = reasons.where(reasons != "", on_time.where(known, "").to_numpy())

    info = inv[["customer", "name", "collector"]][exists].drop_duplicates("customer")
    info = info.set_index("customer").reindex(customers)
    out = pd.DataFrame({
        "customer": customers.to_numpy(dtype=object),
        "name": info["name"].fillna("").to_numpy(dtype=object),
        "collector": info["collector"].fillna("").to_numpy(dtype=object),
        "risk": risk,
        "level": np.array(LEVELS, dtype=object)[np.searchsorted([LOW, HIGH], risk, "right")],
        "reasons": reasons.to_numpy(dtype=object),
        "late_days": _mean_late(hist, customers),
    })
    out = pd.concat([out, _overdue_balances(book, inv, overdue_mask, customers)], axis=1)
    order = np.lexsort((np.arange(len(out)), -risk))
    return out.take(order).reset_index(drop=True)


def _mean_late(hist: pd.DataFrame, customers: pd.Index) -> pd.Series:
    """Atraso promedio: mean days late (0 when on time) of the window's paid invoices."""
    mean = hist.groupby("customer")["days"].mean().reindex(customers)
    return pd.Series(mean.round().to_numpy(), dtype="Int64")


def _overdue_balances(book: Book, inv: pd.DataFrame, mask: np.ndarray, customers: pd.Index
                      ) -> pd.DataFrame:
    """OVERDUE + currency columns (the default currency's always, first)."""
    owed = pd.DataFrame({"customer": inv["customer"].to_numpy()[mask],
                         "currency": inv["currency"].to_numpy()[mask],
                         "balance": inv["balance"].to_numpy()[mask]})
    wide = owed.groupby(["customer", "currency"])["balance"].sum().unstack()
    default = book.config.default_currency
    currencies = [default, *sorted(set(owed["currency"]) - {default})]
    wide = wide.reindex(index=customers, columns=currencies)
    return pd.DataFrame({OVERDUE + c: wide[c].to_numpy() for c in currencies}).astype("Int64")


def risk_currencies(risk: pd.DataFrame) -> list[str]:
    """The currencies of the OVERDUE columns, in column order."""
    return [c.removeprefix(OVERDUE) for c in risk.columns if c.startswith(OVERDUE)]
