"""Agenda: each collector's calls for the as-of day, in priority order.

1 follow-ups due, 2 broken promises, 3 large invoices about to fall due, 4 overdue
customers with no recent gestión. A customer already called for 1 or 2 is not listed
again under 4. The collector is the customer's Cobrador.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.money import decimals_of
from cobranza.book.records import Book
from cobranza.rules.alerts import AlertContext
from cobranza.rules.rollups import per_distinct, text_codes
from cobranza.vocabulary import Status

AGENDA_COLUMNS = [
    "collector", "priority", "reason", "customer", "name", "phone", "invoice", "balance",
    "currency", "due", "detail",
]
REASONS = {
    1: "Seguimiento pendiente",
    2: "Promesa incumplida",
    3: "Factura grande por vencer",
    4: "Sin gestión reciente",
}


def _dmy(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y")


def _rows(frame: pd.DataFrame, priority: int, key: pd.Series, detail: pd.Series,
          invoice: pd.Series | str = "") -> pd.DataFrame:
    """Agenda rows from a frame carrying customer, currency, balance (and due)."""
    return pd.DataFrame({
        "priority": priority,
        "reason": REASONS[priority],
        "customer": frame["customer"],
        "invoice": invoice,
        "balance": frame["balance"].astype("Int64"),
        "currency": frame["currency"],
        "due": frame.get("due", pd.NaT),
        "detail": detail,
        "_key": key,
    }, index=frame.index)


def _open_named(ctx: AlertContext, ids: pd.Series) -> pd.DataFrame:
    """Balance, currency and due of the first open invoice row of each Factura in `ids`,
    indexed by Factura (only the few named ones are looked at)."""
    inv = ctx.invoices
    rows = np.flatnonzero(ctx.is_open & inv["invoice"].isin(ids.unique()).to_numpy())
    named = inv[["invoice", "balance", "currency", "due"]].take(rows)
    return named.drop_duplicates("invoice").set_index("invoice")


def follow_ups(ctx: AlertContext) -> pd.DataFrame:
    """The customer's latest gestión has a Seguimiento on or before as_of (no later
    gestión followed it). Skipped when the customer owes nothing or the named invoice
    is settled."""
    day, contacts = ctx.day, ctx.book.contacts
    con = contacts[contacts["date"] <= day].sort_values(["date", "row"])
    last = con.drop_duplicates("customer", keep="last")
    last = last[last["follow_up"].notna() & (last["follow_up"] <= day)]
    codes, customers = ctx.customer_codes
    owing = customers[np.bincount(codes[ctx.is_open], minlength=len(customers)) > 0]
    named = _open_named(ctx, last["invoice"])
    last = last[last["customer"].isin(owing)
                & ((last["invoice"] == "") | last["invoice"].isin(named.index))]
    info = named.reindex(last["invoice"])[["balance", "currency", "due"]]
    frame = pd.concat([last.reset_index(drop=True), info.reset_index(drop=True)], axis=1)
    frame["currency"] = frame["currency"].fillna("").astype("str")
    comment = np.where(frame["comment"] != "", " " + frame["comment"], "")
    detail = ("Seguimiento del " + per_distinct(_dmy, frame["follow_up"]) + "; última gestión el "
              + per_distinct(_dmy, frame["date"]) + ": " + frame["result"] + "." + comment)
    return _rows(frame, 1, frame["follow_up"], detail, frame["invoice"])


def _rows_with(ctx: AlertContext, mask: np.ndarray, *extra: str) -> pd.DataFrame:
    """Only the columns an agenda row needs, not all of compute_invoices."""
    columns = ["customer", "invoice", "balance", "currency", "due", *extra]
    return ctx.invoices[columns].take(np.flatnonzero(mask))


def _promise_detail(promise: pd.Series) -> pd.Series:
    return "Prometió pagar el " + _dmy(promise) + "; el pago no se ha acreditado."


def broken_promises(ctx: AlertContext) -> pd.DataFrame:
    rows = _rows_with(ctx, ctx.has_status(Status.BROKEN_PROMISE), "promise_date")
    detail = per_distinct(_promise_detail, rows["promise_date"])
    return _rows(rows, 2, rows["promise_date"], detail, rows["invoice"])


def _due_detail(days: pd.Series, due: pd.Series) -> pd.Series:
    left = -days
    when = np.where(left == 0, "hoy", np.where(left == 1, "mañana", "en " + left.astype(str)
                                                + " días"))
    return "Vence " + when + " (" + _dmy(due) + "); factura de importe alto."


def large_invoices_due(ctx: AlertContext) -> pd.DataFrame:
    """Por vencer, Importe >= Monto llamada previa (major units, compared in exact minor
    units of each invoice's currency), due within Días llamada previa (today included)."""
    cfg, invoices = ctx.book.config, ctx.invoices
    codes, currencies = ctx.currency_codes
    places = decimals_of(pd.Series(currencies, dtype="str"))[codes]  # per currency, not row
    threshold = np.rint(cfg.large_invoice_amount * 10.0 ** places).astype("int64")
    days = invoices["days_overdue"].to_numpy()
    mask = (ctx.has_status(Status.NOT_DUE) & (invoices["balance"].to_numpy() > 0)
            & (invoices["amount"].to_numpy() >= threshold)
            & (days >= -cfg.pre_call_days) & (days <= 0))
    rows = _rows_with(ctx, mask, "days_overdue")
    detail = per_distinct(_due_detail, rows["days_overdue"], rows["due"])
    return _rows(rows, 3, rows["due"], detail, rows["invoice"])


def _stale_detail(since: pd.Series) -> pd.Series:
    seen = "Última gestión hace " + since.astype(str) + " días; tiene saldo vencido."
    return seen.where(since.notna(), "Sin gestiones registradas; tiene saldo vencido.")


def stale_customers(ctx: AlertContext) -> pd.DataFrame:
    cust = ctx.without_contact
    detail = per_distinct(_stale_detail, cust["since"])
    return _rows(cust, 4, cust["last_contact"], detail)


AGENDA_PARTS = [follow_ups, broken_promises, large_invoices_due, stale_customers]


def _order(out: pd.DataFrame) -> np.ndarray:
    """Positions in stable order by collector, priority, _key, customer, invoice."""
    keys = [
        text_codes(out["collector"])[0], out["priority"].to_numpy(),
        out["_key"].to_numpy().view("int64"), text_codes(out["customer"])[0],
        text_codes(out["invoice"])[0],
    ]
    return np.lexsort(keys[::-1])  # lexsort: the last key is the primary one


def compute_agenda(book: Book, invoices: pd.DataFrame, as_of: date,
                   ctx: AlertContext | None = None) -> pd.DataFrame:
    """Calls per collector, ordered by priority, then oldest date first. `ctx` as in
    `compute_alerts`."""
    ctx = ctx or AlertContext(book, invoices, as_of)
    out = pd.concat([part(ctx) for part in AGENDA_PARTS], ignore_index=True)
    urgent = out.loc[out["priority"] <= 2, "customer"]
    out = out[(out["priority"] < 4) | ~out["customer"].isin(urgent)]
    customers = book.customers.drop_duplicates("customer").set_index("customer")
    info = customers.reindex(out["customer"])
    out = out.assign(
        collector=info["collector"].fillna("").to_numpy(),
        name=info["name"].fillna("").to_numpy(),
        phone=info["phone"].fillna("").to_numpy(),
        _key=out["_key"].astype("datetime64[ns]").fillna(pd.Timestamp.min),
    )
    out = out.take(_order(out))[AGENDA_COLUMNS].reset_index(drop=True)
    return out.astype({
        "collector": "str", "priority": "int64", "reason": "str", "customer": "str",
        "name": "str", "phone": "str", "invoice": "str", "balance": "Int64",
        "currency": "str", "due": "datetime64[ns]", "detail": "str",
    })
