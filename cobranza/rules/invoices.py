"""Per-invoice rules: Saldo, Días vencidos, Tramo and Estatus, over whole columns.

Pure functions of a `Book` and an as-of date (SPEC "Rules"). Payments and gestiones
dated after `as_of` are ignored, so any past day can be recomputed exactly.
"""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd

from cobranza.book.records import BUCKETS, Book
from cobranza.rules.plans import compute_plans, invoice_plans
from cobranza.rules.rollups import code_in, stable_order
from cobranza.vocabulary import Result, Status

# Resultado -> Estatus it sets; None = "back to the date rule" (ends the previous state).
# Pago recibido is treated like Disputa resuelta: "Pagada" only ever comes from Pagos.
STATUS_RESULTS: dict[Result, Status | None] = {
    Result.PROMISE: Status.PROMISED,
    Result.PAYMENT_REPORTED: Status.PAYMENT_REPORTED,
    Result.DISPUTE: Status.DISPUTED,
    Result.DISPUTE_RESOLVED: None,
    Result.PAYMENT_RECEIVED: None,
    Result.ASSIGN_THIRD_PARTY: Status.THIRD_PARTY,
    Result.WRITE_OFF: Status.WRITTEN_OFF,
}

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


def _labels(choice: np.ndarray, labels: tuple[str, ...], index: pd.Index) -> pd.Series:
    """A str column: labels[choice] per row (integer choices). A take of the few labels
    as a str array: building it from 100 000 objects checks each one is text."""
    return pd.Series(pd.array(labels, dtype="str").take(choice), index=index)


def bucket_codes(days: pd.Series) -> np.ndarray:
    """Per Días vencidos value: the index of its Tramo in BUCKETS, -1 where it is blank."""
    d = pd.to_numeric(days).astype("float64").to_numpy()
    return np.select([np.isnan(d), d <= 0, d <= 30, d <= 60, d <= 90], [-1, 0, 1, 2, 3], 4)


def bucket_of(days: pd.Series) -> pd.Series:
    """Tramo of each Días vencidos value; "" where the value is blank."""
    return _labels(bucket_codes(days) + 1, ("", *BUCKETS), days.index)


def status_by_date(days: pd.Series, action_days: int) -> pd.Series:
    """The date rule: Por vencer (<= 0), Vencida (1 .. action_days-1), En acción."""
    d = days.to_numpy()
    choice = np.select([d <= 0, d < action_days], [0, 1], 2)
    return _labels(choice, (Status.NOT_DUE, Status.OVERDUE, Status.IN_ACTION), days.index)


def contact_touches(book: Book, as_of: date, only: np.ndarray | None = None) -> pd.DataFrame:
    """One row per (gestión, invoice it applies to), for gestiones dated <= as_of (and in
    the mask `only` over book.contacts' rows, when given).

    A gestión with blank Factura applies to every invoice of its customer open on its
    date: issued on or before it (or no Emisión) and not fully paid by payments dated
    on or before it (`Book.paid`). A Factura that names no known invoice touches
    nothing. Column `pos` is the invoice's row position in book.invoices.
    """
    contacts, invoices = book.contacts, book.invoices
    positions = book.contact_rows
    dated = (contacts["date"] <= as_day(as_of)).to_numpy()
    if only is not None:
        dated = dated & only
    blank = (contacts["invoice"] == "").to_numpy()
    direct = np.flatnonzero(dated & ~blank & (positions >= 0))
    wide = np.flatnonzero(dated & blank)
    left, rows = _customer_invoices(book, contacts["customer"].to_numpy(dtype=object)[wide])
    on = contacts["date"].to_numpy()[wide[left]]
    issued = invoices["issued"].to_numpy()[rows]
    kept = np.isnat(issued) | (issued <= on)
    left, rows, on = left[kept], rows[kept], on[kept]
    still_open = invoices["amount"].to_numpy()[rows] > book.paid.until(on, rows)
    left, rows = left[still_open], rows[still_open]
    # the direct gestiones, then each blank one's invoices (gestión order, then row order)
    touches = contacts[_TOUCH_COLUMNS].take(np.r_[direct, wide[left]]).reset_index(drop=True)
    named = np.r_[contacts["invoice"].to_numpy(dtype=object)[direct],
                  invoices["invoice"].to_numpy(dtype=object)[rows]]
    return touches.assign(invoice=pd.Series(named, dtype=contacts["invoice"].dtype),
                          pos=np.r_[positions[direct], rows].astype("int64"))


def _customer_invoices(book: Book, customers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every (i, invoice row) pair of `customers[i]` and an invoice of that Cliente, in
    order of i, then of invoice row (an inner merge on Cliente, over integer codes: the
    invoices' Clientes are coded once per Book, `Book.invoice_customers`)."""
    codes, names = book.invoice_customers
    wanted = names.get_indexer(customers)  # -1: no invoice has that Cliente
    counts = np.bincount(codes, minlength=len(names))
    starts = np.cumsum(counts) - counts  # where each Cliente's rows begin in `by_customer`
    each = np.where(wanted >= 0, counts[wanted], 0)
    left = np.repeat(np.arange(len(customers)), each)
    within = np.arange(len(left)) - np.repeat(np.cumsum(each) - each, each)
    by_customer = stable_order(codes, len(names))
    return left, by_customer[np.repeat(starts[wanted], each) + within]


def _latest_runs(pos: np.ndarray, day: np.ndarray, row: np.ndarray, result: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The status-bearing gestiones sorted by (pos, date, row): the position of each
    invoice's latest one, and the Fecha that started its run of the same Resultado.
    Integer sorts and runs over numpy arrays (a pandas sort and groupby cost 4x)."""
    order = np.lexsort((row, day, pos))
    p, r = pos[order], result[order]
    first = np.r_[True, p[1:] != p[:-1]] if len(p) else np.zeros(0, dtype=bool)
    run_starts = np.flatnonzero(first | np.r_[True, r[1:] != r[:-1]][: len(p)])
    last = np.r_[first[1:], True] if len(p) else first
    # each latest row's run began at the nearest run start at or before it
    begun = run_starts[np.searchsorted(run_starts, np.flatnonzero(last), side="right") - 1]
    return order[last], day[order][begun]


def _deciding(touches: pd.DataFrame, day: pd.Timestamp, n: int) -> pd.DataFrame:
    """Per invoice position 0..n-1: the status set by its latest status-bearing gestión."""
    result, results = pd.factorize(touches["result"].to_numpy(dtype=object))
    results = pd.Index(results)
    bearing = code_in(result, results, STATUS_RESULTS)
    sb = touches[bearing]
    at, since = _latest_runs(sb["pos"].to_numpy(), sb["date"].to_numpy(),
                             sb["row"].to_numpy(), result[bearing])
    last = sb.take(at).assign(since=since).set_index("pos")
    promise = last["promise_date"]  # validation refuses a promise without Fecha compromiso
    is_promise = last["result"] == Result.PROMISE
    status = last["result"].map(STATUS_RESULTS).fillna("")
    status = status.where(~is_promise | (promise >= day), Status.BROKEN_PROMISE)
    sets = status != ""
    out = pd.DataFrame({
        "g_status": status.astype("str"),
        "status_date": last["date"].where(sets),
        "status_since": last["since"].where(sets),
        "promise_date": promise.where(is_promise),
        "area": last["area"].where(last["result"] == Result.DISPUTE, ""),
    }).reindex(pd.RangeIndex(n))
    pos = touches["pos"].to_numpy()
    broken = code_in(result, results, [Result.PROMISE]) & (touches["promise_date"] < day).to_numpy()
    out["broken_promises"] = np.bincount(pos[broken], minlength=n)
    resolved = code_in(result, results, [Result.DISPUTE_RESOLVED])
    out["dispute_resolved"] = np.isin(np.arange(n), pos[resolved])
    out["last_contact"] = _latest(pos, touches["date"], n)
    return out


def _latest(pos: np.ndarray, dates: pd.Series, n: int) -> np.ndarray:
    """Per position 0..n-1: the latest of `dates` (never NaT) at it, NaT for none."""
    values = dates.to_numpy()
    ticks = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # the int64 of NaT
    np.maximum.at(ticks, pos, values.view(np.int64))
    return ticks.view(values.dtype)


def no_contact_dates(book: Book, touches: pd.DataFrame, n: int) -> pd.Series:
    """Per invoice position 0..n-1: the Fecha of its latest gestión (by Fecha, then row)
    when that gestión is `Sin contacto` (NaT otherwise), the SIN_CONTACTO notice's anchor.

    A later gestión of any other Resultado supersedes it (the customer was reached, or
    the invoice changed status). A Sin contacto with blank Factura is about the invoices
    of the customer past due on its Fecha when there are any, else about all its open
    ones; the others are not touched by it here.
    """
    pos, day, row = (touches[c].to_numpy() for c in ("pos", "date", "row"))
    tried = (touches["result"] == Result.NO_CONTACT).to_numpy()
    near = np.isin(pos, pos[tried])  # only invoices some Sin contacto touched matter
    pos, day, row, tried = pos[near], day[near], row[near], tried[near]
    blank_rows = book.contacts.loc[book.contacts["invoice"] == "", "row"].to_numpy()
    wide = tried & np.isin(row, blank_rows)  # from a Sin contacto with blank Factura
    past_due = book.invoices["due"].to_numpy()[pos] < day
    aside = wide & ~past_due & np.isin(row, row[wide & past_due])
    pos, day, row, tried = pos[~aside], day[~aside], row[~aside], tried[~aside]
    order = np.lexsort((row, day, pos))
    last = order[np.r_[pos[order][1:] != pos[order][:-1], True]] if len(order) else order
    last = last[tried[last]]  # the invoices whose latest gestión is Sin contacto
    out = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
    out[pos[last]] = day[last]
    return pd.Series(out)


def with_plan_status(status: np.ndarray, is_paid: np.ndarray, plan: pd.DataFrame,
                     status_date: np.ndarray) -> np.ndarray:
    """Estatus under a payment plan: an open invoice of a plan that is not paid off is
    `Convenio` (or `Convenio incumplido`) over the date rule and over the status of any
    gestión dated before the plan's Fecha; a status gestión from Fecha on still decides
    (a dispute or an agency assignment after the agreement)."""
    plan_status = plan["plan_status"].to_numpy(dtype=object)
    later = status_date.astype("datetime64[ns]") >= plan["plan_date"].to_numpy()
    applies = (plan_status != "") & ~is_paid & ~later
    return np.where(applies, plan_status, status)


def compute_invoices(book: Book, as_of: date) -> pd.DataFrame:
    """One row per invoice: the columns of book.invoices plus the computed ones.

    Added: paid, balance, days_overdue, bucket, status, status_date, promise_date,
    last_contact, collector, area, name; and status_since (first gestión of the current
    run of the same Resultado), broken_promises (promises with Fecha compromiso before
    as_of), dispute_resolved (a Disputa resuelta touched the invoice), no_contact_date
    (`no_contact_dates`), plan (the Convenio covering it, "") and plan_broken_on (the day
    that plan broke, NaT): `cobranza.rules.plans`.
    """
    day = as_day(as_of)
    invoices = book.invoices
    paid = book.paid.until(day)
    balance = invoices["amount"].to_numpy(dtype="int64") - paid
    days = days_overdue(invoices["due"], day)
    touches = contact_touches(book, day)
    dec = _deciding(touches, day, len(invoices))
    dec["no_contact_date"] = no_contact_dates(book, touches, len(invoices))
    g_status = dec["g_status"].to_numpy(dtype=object)
    # a gestión set the status exactly where it has a status date (dates are never NaT):
    # a datetime test, not 100 000 text comparisons
    decided = dec["status_date"].notna().to_numpy()
    by_date = status_by_date(days, book.config.action_days).to_numpy()
    is_paid = balance <= 0
    status = np.where(is_paid, Status.PAID, np.where(decided, g_status, by_date))
    plan = invoice_plans(compute_plans(book, day), invoices)
    status = with_plan_status(status, is_paid, plan, dec["status_date"].to_numpy())
    keep = ~is_paid  # Pagada overrides: no deciding gestión, promise or area

    def dated(col: str) -> np.ndarray:
        values = dec[col] if col == "last_contact" else dec[col].where(keep)
        return values.astype("datetime64[ns]").to_numpy()

    customers = book.customers
    at = book.customer_rows

    def of_customer(col: str) -> pd.Series:  # "" for an unknown customer (index -1)
        values = pd.array(np.append(customers[col].to_numpy(dtype=object), ""), dtype="str")
        return pd.Series(values.take(at), index=invoices.index)  # -1 takes the last: ""

    added = {
        "paid": paid, "balance": balance, "days_overdue": days, "bucket": bucket_of(days),
        "status": pd.Series(status, index=invoices.index, dtype="str"),
        "status_date": dated("status_date"), "promise_date": dated("promise_date"),
        "last_contact": dated("last_contact"), "collector": of_customer("collector"),
        "area": pd.Series(dec["area"].where(keep).fillna("").to_numpy(), index=invoices.index,
                          dtype="str"),
        "name": of_customer("name"), "status_since": dated("status_since"),
        "broken_promises": dec["broken_promises"].fillna(0).astype("int64").to_numpy(),
        "dispute_resolved": dec["dispute_resolved"].to_numpy(dtype=bool),
        "no_contact_date": dated("no_contact_date"),
        "plan": plan["plan"], "plan_broken_on": plan["plan_broken_on"],
    }
    columns = {c: invoices[c] for c in invoices.columns} | added
    return pd.DataFrame(columns, index=invoices.index, copy=False)
