"""Payment plans (Convenios): which invoices a plan covers, how its payments pay the
instalments, and whether it is current, broken or paid off on a given day.

Pure functions of a `Book` and an as-of date (SPEC "Beyond the anchors"):

- A plan covers its Facturas, or, when blank, every invoice of its customer open on its
  Fecha (issued on or before it and not fully paid by payments dated on or before it).
- The payments to the covered invoices dated on or after Fecha and on or before as-of
  pay the instalments in Cuota order, exactly (int64 minor units): each payment fills
  the first instalment not yet paid and what is left over goes to the next.
- An instalment is paid on the day the running total of those payments first reaches
  the instalments up to it. One not paid by Vencimiento cuota + Días gracia convenio
  breaks the plan on the next day (`broken_on`), and the plan stays broken; a plan whose
  instalments are all paid is paid off (its invoices take their ordinary Estatus).
- Cancelado plans are ignored.

A workbook has few plans (one row per instalment), so the allocation loops over plans;
the invoices are handled as whole columns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd

from cobranza.book.records import Book
from cobranza.vocabulary import Status

ACTIVE = "Activo"
INSTALMENT_COLUMNS = ["plan", "customer", "currency", "date", "instalment", "due", "amount",
                      "paid", "balance", "paid_date"]
PLAN_COLUMNS = ["plan", "customer", "currency", "date", "invoices", "status", "amount",
                "balance", "broken_on", "broken_instalment", "instalments"]


@dataclass(frozen=True)
class Plans:
    """The plans at one day.

    instalments: one row per instalment of an Activo plan (INSTALMENT_COLUMNS): paid and
    balance (int64 minor units), paid_date (NaT while not fully paid).
    plans: one row per Activo plan (PLAN_COLUMNS): invoices (tuple of Factura codes it
    covers), status (Status.PLAN, Status.PLAN_BROKEN or Status.PAID when paid off),
    amount and balance (sums of its instalments), broken_on (the day it broke, NaT),
    broken_instalment (the Cuota that broke it, 0 when none), instalments (count).
    covered: one row per (plan, invoice): plan, invoice, date (the plan's Fecha), status.
    """

    instalments: pd.DataFrame
    plans: pd.DataFrame
    covered: pd.DataFrame


def _day(as_of: date | datetime | pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(as_of)
    return pd.Timestamp(ts.year, ts.month, ts.day)


def covered_invoices(book: Book, plans: pd.DataFrame) -> pd.DataFrame:
    """One row per (plan, invoice) for the plans of `plans` (one row each): plan, invoice."""
    listed = plans[plans["invoices"] != ""]
    pairs = [(p, code) for p, codes in zip(listed["plan"], listed["invoices"], strict=True)
             for code in codes.split(";")]
    direct = pd.DataFrame(pairs, columns=["plan", "invoice"], dtype=str)
    blank = plans.loc[plans["invoices"] == "", ["plan", "customer", "date"]]
    inv = book.invoices[["invoice", "customer", "issued", "amount"]]
    inv = inv.assign(pos=np.arange(len(inv)))
    wide = blank.merge(inv[inv["customer"].isin(blank["customer"])], on="customer")
    wide = wide[wide["issued"].isna() | (wide["issued"] <= wide["date"])]
    still_open = wide["amount"].to_numpy() > book.paid.until(wide["date"], wide["pos"])
    return pd.concat([direct, wide.loc[still_open, ["plan", "invoice"]]], ignore_index=True)


def allocate(amounts: np.ndarray, payments: np.ndarray, dates: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Per instalment (in Cuota order): the amount paid and the day it was fully paid
    (NaT while not), by `payments` (in date order, dated `dates`) paying them in order."""
    due_until = np.cumsum(amounts)
    paid_until_ = np.cumsum(payments)
    total = paid_until_[-1] if len(payments) else 0
    paid = np.clip(total - (due_until - amounts), 0, amounts)
    at = np.searchsorted(paid_until_, due_until, "left")  # first payment reaching it
    days = np.append(dates.astype("datetime64[ns]"), np.datetime64("NaT", "ns"))
    return paid.astype("int64"), days[np.minimum(at, len(payments))]


def compute_plans(book: Book, as_of: date | datetime | pd.Timestamp) -> Plans:
    """The Activo plans of `book` at `as_of` (see the module docstring)."""
    day = _day(as_of)
    # a plan agreed after the cut-off does not exist yet at it
    rows = book.plans[(book.plans["state"] == ACTIVE) & (book.plans["date"] <= day)]
    rows = rows.sort_values(["plan", "instalment"], kind="stable")
    if rows.empty:  # most workbooks: nothing to look up in Pagos
        return Plans(pd.DataFrame(columns=INSTALMENT_COLUMNS),
                     _typed(pd.DataFrame(columns=PLAN_COLUMNS)),
                     pd.DataFrame(columns=["plan", "invoice", "date", "status"]))
    heads = rows.drop_duplicates("plan")
    covered = covered_invoices(book, heads)
    payments = book.payments[book.payments["date"] <= day]
    payments = payments.merge(covered, on="invoice").merge(heads[["plan", "date"]], on="plan",
                                                           suffixes=("", "_plan"))
    payments = payments[payments["date"] >= payments["date_plan"]].sort_values(
        ["plan", "date", "row"], kind="stable")
    by_plan = dict(tuple(payments.groupby("plan", sort=False)))
    grace = pd.Timedelta(days=book.config.plan_grace_days)
    parts, summaries = [], []
    for plan, mine in rows.groupby("plan", sort=True):
        paying = by_plan.get(plan, payments.iloc[:0])
        amounts = mine["amount"].to_numpy(dtype="int64")
        paid, paid_date = allocate(amounts, paying["amount"].to_numpy(dtype="int64"),
                                   paying["date"].to_numpy(dtype="datetime64[ns]"))
        part = mine[["plan", "customer", "currency", "date", "instalment", "due", "amount"]]
        part = part.assign(paid=paid, balance=amounts - paid, paid_date=paid_date)
        parts.append(part)
        summaries.append(_summary(part, day, grace))
    instalments = (pd.concat(parts, ignore_index=True) if parts
                   else pd.DataFrame(columns=INSTALMENT_COLUMNS))
    plans = pd.DataFrame(summaries, columns=[c for c in PLAN_COLUMNS if c != "invoices"])
    plans = _typed(plans)
    invoices = covered.groupby("plan", sort=False)["invoice"].agg(tuple)
    plans.insert(4, "invoices", [invoices.get(p, ()) for p in plans["plan"]])
    covered = covered.merge(plans[["plan", "date", "status"]], on="plan")
    return Plans(instalments[INSTALMENT_COLUMNS], plans[PLAN_COLUMNS], covered)


def _typed(plans: pd.DataFrame) -> pd.DataFrame:
    return plans.astype({"date": "datetime64[ns]", "broken_on": "datetime64[ns]",
                         "amount": "int64", "balance": "int64", "plan": str, "status": str,
                         "currency": str})


def _summary(part: pd.DataFrame, day: pd.Timestamp, grace: pd.Timedelta) -> tuple:
    """One plan's row of `Plans.plans` but its invoices."""
    first = part.iloc[0]
    deadline = part["due"] + grace
    late = part["paid_date"].isna() | (part["paid_date"] > deadline)
    breaks = (deadline + pd.Timedelta(days=1)).where(late)
    broken_on = breaks.min()
    broken = pd.notna(broken_on) and broken_on <= day
    balance = int(part["balance"].sum())
    status = Status.PAID if balance == 0 else Status.PLAN_BROKEN if broken else Status.PLAN
    which = int(part.loc[breaks.idxmin(), "instalment"]) if broken else 0
    return (first["plan"], first["customer"], first["currency"], first["date"], str(status),
            int(part["amount"].sum()), balance, broken_on if broken else pd.NaT, which,
            len(part))


def invoice_plans(plans: Plans, invoices: pd.DataFrame) -> pd.DataFrame:
    """Per row of `invoices` (book.invoices order): plan (code, "" when none), plan_date,
    plan_status ("" when none, or paid off) and plan_broken_on, from the latest Activo
    plan covering it that is not paid off."""
    live = plans.covered[plans.covered["status"] != Status.PAID]
    if live.empty:  # most workbooks: no plan, no lookup of every Factura
        n = len(invoices)
        blank, never = np.full(n, "", dtype=object), np.full(n, np.datetime64("NaT", "ns"))
        return pd.DataFrame({"plan": blank, "plan_date": never, "plan_status": blank,
                             "plan_broken_on": never}, index=invoices.index)
    live = live.merge(plans.plans[["plan", "broken_on"]], on="plan")
    live = live.sort_values(["date", "plan"]).drop_duplicates("invoice", keep="last")
    found = live.set_index("invoice").reindex(invoices["invoice"].to_numpy())
    return pd.DataFrame({
        "plan": found["plan"].fillna("").astype(str).to_numpy(),
        "plan_date": pd.to_datetime(found["date"]).to_numpy(dtype="datetime64[ns]"),
        "plan_status": found["status"].fillna("").astype(str).to_numpy(),
        "plan_broken_on": pd.to_datetime(found["broken_on"]).to_numpy(dtype="datetime64[ns]"),
    }, index=invoices.index)
