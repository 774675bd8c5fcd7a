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

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.records import Book
from cobranza.plural import count
from cobranza.rules.invoices import as_day, contact_touches
from cobranza.rules.rollups import InvoiceRollups, group_sum, kept_codes, run_starts
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
    pos = book.paid.rows
    keep = (pay["date"] <= day).to_numpy() & (pos >= 0)
    pos, when = pos[keep], pay["date"].to_numpy()[keep]
    amount = pay["amount"].to_numpy(dtype="int64")[keep]
    order = np.lexsort((when, pos))
    pos, when, running = pos[order], when[order], np.cumsum(amount[order])
    starts = np.r_[True, pos[1:] != pos[:-1]] if len(pos) else np.zeros(0, bool)
    before = np.maximum.accumulate(np.where(starts, np.r_[0, running[:-1]], 0))
    reached = (running - before) >= inv["amount"].to_numpy(dtype="int64")[pos]
    pos, when = pos[reached], when[reached]
    first = run_starts(pos)  # sorted by invoice, then date: each one's first is the day
    out = np.full(len(inv), np.datetime64("NaT"), dtype="datetime64[ns]")
    out[pos[first]] = when[first]
    return pd.Series(out)


class _Codes:
    """Per row of the invoices frame: its customer's number 0..k-1 in text order among
    the customers with an invoice issued by the cut-off (-1 for a row issued later).
    Every per-customer figure is then an integer bincount, no text grouping."""

    def __init__(self, rollups: InvoiceRollups, exists: np.ndarray) -> None:
        # renumber the rollups' text-order codes (shared with the alerts) to the customers
        # of existing invoices: the order of the text stays
        codes, names = rollups.customer_codes
        number, self.customers = kept_codes(codes, names, exists)
        self.row = np.where(exists, number[codes], -1).astype("int64")
        self.k = len(self.customers)

    def total(self, mask: np.ndarray, values: np.ndarray | float = 1.0) -> np.ndarray:
        """Per customer: the float sum of `values` (one per row, or a constant) in `mask`."""
        weights = values[mask] if isinstance(values, np.ndarray) else None
        counts = np.bincount(self.row[mask], weights, minlength=self.k)
        return counts if weights is not None else counts * values

    def largest(self, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        out = np.zeros(self.k, dtype="int64")
        np.maximum.at(out, self.row[mask], values[mask].astype("int64"))
        return out


def _history(book: Book, day: pd.Timestamp, exists: np.ndarray) -> pd.DataFrame:
    """Per invoice row: in the window (paid in full in the HISTORY_DAYS up to `day`),
    weight, days late (>= 0) and late; rows outside the window weigh 0."""
    inv = book.invoices
    paid = paid_dates(book, day).to_numpy()
    due = inv["due"].to_numpy()
    window = exists & (paid > (day - pd.Timedelta(days=HISTORY_DAYS)).to_datetime64()) & \
        ~np.isnat(due)
    late = np.where(window, (paid - due).astype("timedelta64[D]").astype("int64"), 0)
    age = np.maximum((day.to_datetime64() - due).astype("timedelta64[D]").astype("int64"), 0)
    return pd.DataFrame({"window": window, "weight": np.where(window, 0.5 ** (age / HALF_LIFE),
                                                                0.0),
                         "days": np.maximum(late, 0), "late": late > 0})


def _history_points(late_share: np.ndarray, mean_days: np.ndarray) -> np.ndarray:
    return POINTS["late"] * late_share + POINTS["days"] * np.minimum(mean_days / 30, 1)


class _Past:
    """The window's per-customer figures: weighted late share and days, counts."""

    def __init__(self, codes: _Codes, hist: pd.DataFrame) -> None:
        inside, w = hist["window"].to_numpy(), hist["weight"].to_numpy()
        late, days = hist["late"].to_numpy(), hist["days"].to_numpy().astype("float64")
        total = w.sum()
        base = (w * late).sum() / total if total > 0 else 0.0
        base_days = (w * days).sum() / total if total > 0 else 0.0
        # the window's rows taken once (the per-customer sums add them in the same order),
        # not seven masks over every invoice
        row, w, late, days = codes.row[inside], w[inside], late[inside], days[inside]
        k = codes.k
        self.weight = np.bincount(row, w, minlength=k)
        self.known = self.weight > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.known, np.bincount(row, w * late, minlength=k) / self.weight,
                             base)
            mean = np.where(self.known, np.bincount(row, w * days, minlength=k) / self.weight,
                            base_days)
            self.paid = np.bincount(row, minlength=k).astype("int64")
            self.late = np.bincount(row[late], minlength=k).astype("int64")
            self.late_mean = (np.bincount(row[late], days[late], minlength=k)
                              / np.maximum(self.late, 1))
            self.mean_days = np.where(self.paid > 0, np.bincount(row, days, minlength=k)
                                      / np.maximum(self.paid, 1), np.nan)
        self.points = _history_points(share, mean)


def _broken_promises(book: Book, day: pd.Timestamp) -> pd.Series:
    """Per customer: promises (gestión rows) with Fecha compromiso in the PROMISE_DAYS
    before the cut-off that some invoice they name was not fully paid by."""
    con = book.contacts
    due = con["promise_date"]
    recent = ((con["result"] == Result.PROMISE) & (due < day)
              & (due >= day - pd.Timedelta(days=PROMISE_DAYS)))
    t = contact_touches(book, day, only=recent.to_numpy())
    amount = book.invoices["amount"].to_numpy(dtype="int64")[t["pos"].to_numpy(dtype="int64")]
    unpaid = amount > book.paid.until(t["promise_date"], t["pos"])
    return t[unpaid].drop_duplicates("row").groupby("customer").size()


def _credit_use(book: Book, rollups: InvoiceRollups, codes: _Codes, open_: np.ndarray
                ) -> np.ndarray:
    """Open balance in the default currency / Límite de crédito (NaN without a limit)."""
    inv = rollups.invoices
    mine = open_ & rollups.has_currency(book.config.default_currency)
    balance = codes.total(mine, inv["balance"].to_numpy().astype("float64"))
    limits = book.customers.drop_duplicates("customer").set_index("customer")["credit_limit"]
    limit = limits.reindex(codes.customers).astype("float64").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(limit > 0, balance / limit, np.nan)


def _motives(parts: pd.DataFrame, texts: np.ndarray) -> np.ndarray:
    """The up to three texts with the most points (> 0), most first, joined by "; "."""
    points = parts.to_numpy()
    order = np.argsort(-points, axis=1, kind="stable")[:, :3]
    chosen = np.take_along_axis(texts, order, axis=1).tolist()
    # points sorted high to low: the ones > 0 lead, so a row shows its first `shown` texts
    shown = (np.take_along_axis(points, order, axis=1) > 0).sum(axis=1).tolist()
    return np.array(["; ".join(row[:n]) for row, n in zip(chosen, shown, strict=True)],
                    dtype=object)


def _ints(n: np.ndarray) -> np.ndarray:
    return np.asarray(n).astype("int64")


def _per_value(n: np.ndarray, fmt: Callable[[int], str]) -> np.ndarray:
    """`fmt` of each integer of `n`, as an object array: formatted once per distinct value
    (a few hundred day counts, percentages, promise counts among ~50 000 customers)."""
    distinct, at = np.unique(_ints(n), return_inverse=True)
    return np.array([fmt(v) for v in distinct.tolist()], dtype=object)[at]


def _counted(n: np.ndarray, one: str, many: str, text: str = "{}") -> np.ndarray:
    """`text` with "1 <one>" / "<n> <many>" in it, per integer of `n`."""
    return _per_value(n, lambda v: text.format(count(v, one, many)))


# The Motivos are built with one f-string per customer or per distinct count: pandas' +
# on text columns is a Python loop per element too, once per piece (7 pieces for the
# history: 3x the time).
def _texts(past: _Past, promises: np.ndarray, disputed: np.ndarray, oldest: np.ndarray,
           usage: np.ndarray) -> np.ndarray:
    """Each component's Motivo, per customer: a column per component, in the order of
    compute_risk's `parts`."""
    history = [
        f"pagó tarde {late} de sus {paid} facturas pagadas en 12 meses (promedio {mean} días)"
        if known else NO_HISTORY
        for late, paid, mean, known in zip(_ints(past.late).tolist(), _ints(past.paid).tolist(),
                                           _ints(np.rint(past.late_mean)).tolist(),
                                           past.known.tolist(), strict=True)
    ]
    return np.stack([
        np.array(history, dtype=object),
        _counted(promises, "promesa incumplida", "promesas incumplidas",
                 f"{{}} en {PROMISE_DAYS} días"),
        _counted(disputed, "factura", "facturas", "{} en disputa"),
        _counted(oldest, "día", "días", "saldo vencido de hasta {}"),
        _per_value(np.rint(np.nan_to_num(usage) * 100),
                   "saldo abierto {} % del límite de crédito".format),
    ], axis=1)


def _reasons(past: _Past, parts: pd.DataFrame, texts: np.ndarray) -> np.ndarray:
    """Motivos: one without history says so first; one paying on time earns no history
    Motivo, and "pagó a tiempo" when nothing else applies."""
    ranked = parts.copy()
    ranked.loc[~past.known, "history"] = 1000.0
    ranked.loc[past.known & (past.late == 0), "history"] = 0.0
    reasons = _motives(ranked, texts)
    on_time = _per_value(past.paid, "pagó a tiempo sus {} facturas pagadas en 12 meses".format)
    return np.where(reasons != "", reasons, np.where(past.known, on_time, ""))


def compute_risk(book: Book, invoices: pd.DataFrame, as_of: date,
                 rollups: InvoiceRollups | None = None) -> pd.DataFrame:
    """One row per customer with an invoice issued on or before `as_of`: RISK_COLUMNS
    (risk int 0-100, late_days Int64 <NA> without paid invoices in 12 months), then one
    OVERDUE + currency column per currency owed overdue (the default currency first),
    ordered by risk (highest first), then customer. `invoices`: compute_invoices(book,
    as_of); `rollups`: those invoices' (the alerts' context shares its codes)."""
    day, inv = as_day(as_of), invoices
    rollups = rollups or InvoiceRollups(book, invoices)
    exists = (inv["issued"].isna() | (inv["issued"] <= day)).to_numpy()
    codes = _Codes(rollups, exists)
    past = _Past(codes, _history(book, day, exists))
    open_ = exists & (inv["balance"].to_numpy() > 0) & ~rollups.has_status(Status.WRITTEN_OFF)
    days = inv["days_overdue"].fillna(0).to_numpy().astype("int64")
    overdue = open_ & (days > 0)
    oldest = codes.largest(overdue, days)
    disputed = codes.total(open_ & rollups.has_status(Status.DISPUTED)).astype("int64")
    promises = _broken_promises(book, day).reindex(codes.customers, fill_value=0).to_numpy()
    usage = _credit_use(book, rollups, codes, open_)
    parts = pd.DataFrame({
        "history": past.points,
        "promises": np.minimum(promises * 8.0, POINTS["promises"]),
        "disputes": np.where(disputed > 0, POINTS["disputes"], 0.0),
        "overdue": POINTS["overdue"] * np.minimum(oldest / 60, 1),
        "credit": POINTS["credit"] * np.clip((np.nan_to_num(usage) - 0.5) / 0.5, 0, 1),
    })
    # half up, after dropping float noise (sums over more rows must not turn 32.5 into 32)
    total = np.round(parts.sum(axis=1).to_numpy(), 6)
    risk = np.clip(np.floor(total + 0.5), 0, 100).astype("int64")
    reasons = _reasons(past, parts, _texts(past, promises, disputed, oldest, usage))
    first = np.full(codes.k, len(inv), dtype="int64")
    np.minimum.at(first, codes.row[exists], np.flatnonzero(exists))
    out = pd.DataFrame({
        "customer": codes.customers.to_numpy(dtype=object),
        "name": inv["name"].to_numpy(dtype=object)[first],
        "collector": inv["collector"].to_numpy(dtype=object)[first],
        "risk": risk,
        "level": np.array(LEVELS, dtype=object)[np.searchsorted([LOW, HIGH], risk, "right")],
        "reasons": reasons,
        "late_days": pd.array(np.rint(past.mean_days), dtype="Int64"),
    })
    out = pd.concat([out, _overdue_balances(book, rollups, codes, overdue)], axis=1)
    return out.take(np.lexsort((np.arange(len(out)), -risk))).reset_index(drop=True)


def _overdue_balances(book: Book, rollups: InvoiceRollups, codes: _Codes, mask: np.ndarray
                      ) -> pd.DataFrame:
    """OVERDUE + currency columns (the default currency's always, first): exact int64
    sums, <NA> for a customer owing nothing overdue in that currency."""
    currency, currencies = rollups.currency_codes
    balance = rollups.invoices["balance"].to_numpy()
    default = book.config.default_currency
    out = {}
    for c in [default, *sorted(set(currencies[np.unique(currency[mask])]) - {default})]:
        mine = mask & rollups.has_currency(c)
        owed = group_sum(codes.row[mine], codes.k, balance[mine])
        out[OVERDUE + c] = pd.array(owed, dtype="Int64")
        out[OVERDUE + c][codes.total(mine) == 0] = pd.NA
    return pd.DataFrame(out)


def risk_currencies(risk: pd.DataFrame) -> list[str]:
    """The currencies of the OVERDUE columns, in column order."""
    return [c.removeprefix(OVERDUE) for c in risk.columns if c.startswith(OVERDUE)]
