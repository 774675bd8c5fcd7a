"""Agenda: each collector's calls for the as-of day, in priority order.

1 follow-ups due, 2 broken promises, 3 large invoices about to fall due, 4 overdue
customers with no recent gestión. A customer already called for 1 or 2 is not listed
again under 4. The collector is the customer's Cobrador.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.alerts import customers_without_contact, open_invoices
from cobranza.money import decimals_of
from cobranza.records import Book
from cobranza.rules import as_day

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


def follow_ups(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The customer's latest gestión has a Seguimiento on or before as_of (no later
    gestión followed it). Skipped when the customer owes nothing or the named invoice
    is settled."""
    day = as_day(as_of)
    con = book.contacts[book.contacts["date"] <= day].sort_values(["date", "row"])
    last = con.drop_duplicates("customer", keep="last")
    last = last[last["follow_up"].notna() & (last["follow_up"] <= day)]
    open_ = open_invoices(invoices)
    named = open_.drop_duplicates("invoice").set_index("invoice")
    last = last[last["customer"].isin(open_["customer"])
                & ((last["invoice"] == "") | last["invoice"].isin(named.index))]
    info = named.reindex(last["invoice"])[["balance", "currency", "due"]]
    frame = pd.concat([last.reset_index(drop=True), info.reset_index(drop=True)], axis=1)
    frame["currency"] = frame["currency"].fillna("").astype("str")
    comment = np.where(frame["comment"] != "", " " + frame["comment"], "")
    detail = ("Seguimiento del " + _dmy(frame["follow_up"]) + "; última gestión el "
              + _dmy(frame["date"]) + ": " + frame["result"] + "." + comment)
    return _rows(frame, 1, frame["follow_up"], detail, frame["invoice"])


def broken_promises(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    rows = invoices[invoices["status"] == "Promesa incumplida"]
    detail = "Prometió pagar el " + _dmy(rows["promise_date"]) + "; el pago no se ha acreditado."
    return _rows(rows, 2, rows["promise_date"], detail, rows["invoice"])


def large_invoices_due(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Por vencer, Importe >= Monto llamada previa (major units, compared in exact minor
    units of each invoice's currency), due within Días llamada previa (today included)."""
    cfg = book.config
    threshold = np.rint(cfg.large_invoice_amount * 10.0 ** decimals_of(invoices["currency"]))
    days = invoices["days_overdue"]
    rows = invoices[(invoices["status"] == "Por vencer") & (invoices["balance"] > 0)
                    & (invoices["amount"] >= threshold.astype("int64"))
                    & (days >= -cfg.pre_call_days) & (days <= 0)]
    left = -rows["days_overdue"]
    when = np.where(left == 0, "hoy", np.where(left == 1, "mañana", "en " + left.astype(str)
                                                + " días"))
    detail = "Vence " + when + " (" + _dmy(rows["due"]) + "); factura de importe alto."
    return _rows(rows, 3, rows["due"], detail, rows["invoice"])


def stale_customers(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    cust = customers_without_contact(book, invoices, as_of)
    never = cust["since"].isna().to_numpy()
    detail = pd.Series("Sin gestiones registradas; tiene saldo vencido.", index=cust.index)
    detail[~never] = ("Última gestión hace " + cust["since"][~never].astype(str)
                      + " días; tiene saldo vencido.")
    return _rows(cust, 4, cust["last_contact"], detail)


AGENDA_PARTS = [follow_ups, broken_promises, large_invoices_due, stale_customers]


def compute_agenda(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Calls per collector, ordered by priority, then oldest date first."""
    parts = [part(book, invoices, as_of) for part in AGENDA_PARTS]
    out = pd.concat(parts, ignore_index=True)
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
    out = out.sort_values(["collector", "priority", "_key", "customer", "invoice"], kind="stable")
    out = out[AGENDA_COLUMNS].reset_index(drop=True)
    return out.astype({
        "collector": "str", "priority": "int64", "reason": "str", "customer": "str",
        "name": "str", "phone": "str", "invoice": "str", "balance": "Int64",
        "currency": "str", "due": "datetime64[ns]", "detail": "str",
    })
