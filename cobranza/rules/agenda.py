"""Agenda: each collector's calls for the as-of day, one per customer, in priority order.

Reasons to call, by priority: 1 follow-ups due, 2 broken promises, 3 large invoices about
to fall due, 4 overdue customers with no recent gestión. A customer is one call, however
many reasons, invoices and currencies it has: its most urgent reason (priority, then
oldest date) is the call's Motivo and decides its place; the other reasons follow in the
detail. The collector is the customer's Cobrador.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.money import decimals_of
from cobranza.book.records import Book
from cobranza.rules.alerts import AlertContext
from cobranza.rules.rollups import distinct_rows, per_distinct, run_starts, text_codes
from cobranza.vocabulary import Status

AGENDA_COLUMNS = [
    "collector", "priority", "reason", "customer", "name", "risk", "phone", "invoices", "due",
    "detail",
]
# Then one column per currency the called customers owe in (the default currency always
# first): BALANCE + code, the customer's open balance in it (Int64 minor units, <NA> none).
BALANCE = "balance "
SEPARATOR = " | "  # between the reasons in a call's detail
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


def _open_named(ctx: AlertContext, at: np.ndarray) -> pd.DataFrame:
    """Balance, currency and due of the first open invoice row of each Factura named by
    the Gestiones rows `at` (positions), indexed by Factura."""
    inv = ctx.invoices
    codes, of_contact = ctx.book.factura_codes  # numbers: no hashing of each Factura
    wanted = of_contact[at]
    rows = np.flatnonzero(ctx.is_open & np.isin(codes, wanted[wanted >= 0]))
    named = inv[["invoice", "balance", "currency", "due"]].take(rows)
    return named.drop_duplicates("invoice").set_index("invoice")


def follow_ups(ctx: AlertContext) -> pd.DataFrame:
    """The customer's latest gestión has a Seguimiento on or before as_of (no later
    gestión followed it). Skipped when the customer owes nothing or the named invoice
    is settled."""
    day, contacts = ctx.day, ctx.book.contacts
    contacts = contacts.assign(at=np.arange(len(contacts)))  # each one's Gestiones row
    con = contacts[contacts["date"] <= day].sort_values(["date", "row"])
    last = con.drop_duplicates("customer", keep="last")
    last = last[last["follow_up"].notna() & (last["follow_up"] <= day)]
    codes, customers = ctx.customer_codes
    owing = customers[np.bincount(codes[ctx.is_open], minlength=len(customers)) > 0]
    named = _open_named(ctx, last["at"].to_numpy())
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
    """Positions in stable order by collector, priority, money at risk (highest first),
    _key, customer, invoice."""
    keys = [
        text_codes(out["collector"])[0], out["priority"].to_numpy(), -out["_at_risk"].to_numpy(),
        out["_key"].to_numpy().view("int64"), text_codes(out["customer"])[0],
        text_codes(out["invoice"])[0],
    ]
    return np.lexsort(keys[::-1])  # lexsort: the last key is the primary one


def at_risk(ctx: AlertContext) -> pd.DataFrame:
    """Per customer: Riesgo, and Riesgo x (Saldo vencido in the default currency + 1
    minor unit), so a customer with nothing overdue still orders by Riesgo. Currencies
    are not converted: another currency's overdue balance orders by Riesgo alone
    (README Decisions)."""
    risk = ctx.risk
    column = "overdue " + ctx.book.config.default_currency
    overdue = (risk[column].fillna(0).to_numpy("float64") if column in risk
               else np.zeros(len(risk)))
    return pd.DataFrame({"risk": risk["risk"].to_numpy(),
                         "at_risk": risk["risk"].to_numpy() * (overdue + 1)},
                        index=pd.Index(risk["customer"], dtype="str"))


def reasons_to_call(book: Book, ctx: AlertContext) -> pd.DataFrame:
    """Every reason to call, one row each, ordered by collector, priority, Riesgo x Saldo
    vencido (highest first), oldest date.
    A customer with a follow-up or a broken promise is not "sin gestión reciente" too:
    those say when it was last worked."""
    out = pd.concat([part(ctx) for part in AGENDA_PARTS], ignore_index=True)
    urgent = out.loc[out["priority"] <= 2, "customer"]
    out = out[(out["priority"] < 4) | ~out["customer"].isin(urgent)]
    customers = book.customers.drop_duplicates("customer").set_index("customer")
    info = customers.reindex(out["customer"])
    risk = at_risk(ctx).reindex(out["customer"])
    out = out.assign(
        risk=risk["risk"].astype("Int64").to_numpy(),
        _at_risk=risk["at_risk"].fillna(0).to_numpy(),
        collector=info["collector"].fillna("").to_numpy(),
        name=info["name"].fillna("").to_numpy(),
        phone=info["phone"].fillna("").to_numpy(),
        _key=out["_key"].astype("datetime64[ns]").fillna(pd.Timestamp.min),
        invoice=out["invoice"].fillna("").astype("str"),
    )
    return out.take(_order(out)).reset_index(drop=True)


def _joined(texts: pd.Series, calls: np.ndarray, count: int, separator: str) -> np.ndarray:
    """Per call 0..count-1, its distinct non-blank `texts` in row order, joined."""
    keep = (texts != "").to_numpy() & ~pd.DataFrame({"c": calls, "t": texts}).duplicated()
    rows = np.flatnonzero(keep.to_numpy())
    rows = rows[np.argsort(calls[rows], kind="stable")]  # grouped by call, in row order
    starts = run_starts(calls[rows])
    out = np.full(count, "", dtype=object)
    if not len(rows):
        return out
    parts = np.split(texts.to_numpy(dtype=object)[rows], starts[1:])
    for call, part in zip(calls[rows][starts].tolist(), parts, strict=True):
        out[call] = separator.join(part)
    return out


def one_call_per_customer(reasons: pd.DataFrame) -> pd.DataFrame:
    """The reasons merged into one row per (collector, customer), in the order of each
    one's first (most urgent) reason: that reason's priority, Motivo, due date and detail,
    then the other reasons in the detail; every invoice the reasons name."""
    calls, first = distinct_rows(reasons["collector"], reasons["customer"])  # in row order
    out = reasons.take(first).reset_index(drop=True)
    named = np.where(reasons["invoice"] != "", " (" + reasons["invoice"] + ")", "")
    also = (reasons["reason"] + named + ": " + reasons["detail"]).where(
        ~np.isin(np.arange(len(reasons)), first), "")
    more = _joined(also, calls, len(first), SEPARATOR)
    out["detail"] = out["detail"] + np.where(more != "", SEPARATOR + more, "")
    out["invoices"] = _joined(reasons["invoice"], calls, len(first), ", ")
    return out


def _open_balances(ctx: AlertContext, customers: pd.Series) -> pd.DataFrame:
    """BALANCE + currency columns: each customer's open balance in each currency it owes
    in (the default currency's column always, first)."""
    owed = ctx.per_customer(ctx.is_open)
    owed = owed[owed["customer"].isin(customers)]
    default = ctx.book.config.default_currency
    currencies = [default, *sorted(set(owed["currency"]) - {default})]
    wide = owed.pivot(index="customer", columns="currency", values="balance")
    wide = wide.reindex(index=customers, columns=currencies)
    return pd.DataFrame({BALANCE + c: wide[c].to_numpy() for c in currencies},
                        index=customers.index).astype("Int64")


def compute_agenda(book: Book, invoices: pd.DataFrame, as_of: date,
                   ctx: AlertContext | None = None) -> pd.DataFrame:
    """One call per customer and collector, ordered by collector, then priority, then
    oldest date first. `ctx` as in `compute_alerts`."""
    ctx = ctx or AlertContext(book, invoices, as_of)
    calls = one_call_per_customer(reasons_to_call(book, ctx))[AGENDA_COLUMNS]
    calls = calls.astype({
        "collector": "str", "priority": "int64", "reason": "str", "customer": "str",
        "name": "str", "risk": "Int64", "phone": "str", "invoices": "str",
        "due": "datetime64[ns]",
        "detail": "str",
    })
    return pd.concat([calls, _open_balances(ctx, calls["customer"])], axis=1)


def balance_currencies(agenda: pd.DataFrame) -> list[str]:
    """The currencies of the agenda's balance columns, in column order."""
    return [c.removeprefix(BALANCE) for c in agenda.columns if c.startswith(BALANCE)]
