"""Internal alerts (the Alertas sheet): one function per Tipo, listed in one registry.

Each alert function is `(book, invoices, as_of) -> DataFrame` with ALERT_COLUMNS, where
`invoices` is the output of `cobranza.rules.compute_invoices`. Adding a Tipo is one
function and one registry entry. Balances are int64 minor units; `days` is Int64
(<NA> where a Tipo has no meaningful day count).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import numpy as np
import pandas as pd

from cobranza.records import Book
from cobranza.rules import as_day

ALERT_COLUMNS = [
    "type", "customer", "name", "collector", "invoice", "currency", "balance", "days",
    "detail", "area",
]
ACTION = "Acción"
BROKEN_PROMISE = "Promesa incumplida"
REPORTED_PAYMENT = "Pago informado no acreditado"
OPEN_DISPUTE = "Disputa abierta"
OVERDUE_30 = "Mora > 30"
OVERDUE_60 = "Mora > 60"
OVERDUE_90 = "Mora > 90"
CREDIT = "Crédito"
NO_CONTACT = "Sin gestión"
THIRD_PARTY = "Candidata a terceros"

# Statuses whose invoices no longer count as receivable (written off).
WRITTEN_OFF = "Castigada"
# Overdue statuses the team still works itself (Sin gestión, Candidata a terceros).
WORKABLE = ("Vencida", "En acción", "Promesa incumplida")

AlertFn = Callable[[Book, pd.DataFrame, date], pd.DataFrame]


def _dmy(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y")


def _plural(n: pd.Series, one: str, many: str) -> pd.Series:
    return n.astype(str) + np.where(n == 1, one, many)


def _elapsed(since: pd.Series, as_of: date) -> pd.Series:
    return (as_day(as_of) - since).dt.days.astype("Int64")


def _frame(rows: pd.DataFrame, kind: str, days: pd.Series, detail: pd.Series,
           invoice: pd.Series | str = "") -> pd.DataFrame:
    """Alert rows from a frame with customer, name, collector, currency, balance (+area)."""
    out = pd.DataFrame({
        "type": kind,
        "customer": rows["customer"],
        "name": rows["name"],
        "collector": rows["collector"],
        "invoice": invoice,
        "currency": rows["currency"],
        "balance": rows["balance"].astype("int64"),
        "days": pd.Series(days, index=rows.index).astype("Int64"),
        "detail": detail,
        "area": rows.get("area", ""),
    }, index=rows.index)
    out = out.astype({c: "str" for c in ("type", "invoice", "detail", "area")})
    return out.sort_values(["customer", "invoice", "currency"], kind="stable")


def _by_invoice(rows: pd.DataFrame, kind: str, days: pd.Series, detail: pd.Series):
    return _frame(rows, kind, days, detail, invoice=rows["invoice"])


def open_invoices(invoices: pd.DataFrame) -> pd.DataFrame:
    """Invoices still receivable: balance > 0 and not written off."""
    return invoices[(invoices["balance"] > 0) & (invoices["status"] != WRITTEN_OFF)]


def action(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    rows = invoices[invoices["status"] == "En acción"]
    d = rows["days_overdue"]
    detail = "Vencida hace " + d.astype(str) + " días; corresponde iniciar acciones de cobro."
    return _by_invoice(rows, ACTION, d, detail)


def broken_promise(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    rows = invoices[invoices["status"] == "Promesa incumplida"]
    detail = "Prometió pagar el " + _dmy(rows["promise_date"]) + "; el pago no se ha acreditado."
    return _by_invoice(rows, BROKEN_PROMISE, _elapsed(rows["promise_date"], as_of), detail)


def reported_payment(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    rows = invoices[invoices["status"] == "Pago informado"]
    late = (_elapsed(rows["status_since"], as_of) > book.config.reported_payment_days).to_numpy()
    rows = rows[late]
    days = _elapsed(rows["status_since"], as_of)
    detail = ("Pago informado el " + _dmy(rows["status_since"]) + "; sin acreditar después de "
              + days.astype(str) + " días.")
    return _by_invoice(rows, REPORTED_PAYMENT, days, detail)


def open_dispute(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    rows = invoices[invoices["status"] == "Disputa"]
    area = rows["area"].where(rows["area"] != "", "sin área asignada")
    detail = "Disputa abierta desde el " + _dmy(rows["status_since"]) + " (" + area + ")."
    return _by_invoice(rows, OPEN_DISPUTE, _elapsed(rows["status_since"], as_of), detail)


def _per_customer(rows: pd.DataFrame) -> pd.DataFrame:
    """Roll invoices up to one row per customer and currency."""
    keys = ["customer", "currency"]
    agg = rows.groupby(keys, sort=True).agg(
        name=("name", "first"), collector=("collector", "first"), balance=("balance", "sum"),
        count=("invoice", "size"), days=("days_overdue", "max"),
    )
    return agg.reset_index()


def _overdue_beyond(limit: int, kind: str) -> AlertFn:
    """Mora > limit: per customer, open balance more than `limit` days overdue (any band
    beyond included, so a 95-day invoice shows under > 30, > 60 and > 90)."""

    def alert(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
        rows = open_invoices(invoices)
        cust = _per_customer(rows[rows["days_overdue"] > limit])
        detail = (_plural(cust["count"], " factura", " facturas") + f" con más de {limit} días"
                  " de atraso; la más antigua tiene " + cust["days"].astype(str) + " días.")
        return _frame(cust, kind, cust["days"], detail)

    alert.__name__ = f"overdue_{limit}"
    return alert


def credit_position(book: Book, invoices: pd.DataFrame) -> pd.DataFrame:
    """Per customer: open balance in the default currency and its Límite de crédito
    (Int64 minor units, NA = none). The Crédito alert and USO_CREDITO both use it."""
    rows = open_invoices(invoices)
    cust = _per_customer(rows[rows["currency"] == book.config.default_currency])
    limits = book.customers.drop_duplicates("customer").set_index("customer")["credit_limit"]
    cust["limit"] = pd.Series(
        limits.reindex(cust["customer"]).to_numpy(), index=cust.index, dtype="Int64"
    )
    return cust


def credit_usage(book: Book, invoices: pd.DataFrame) -> pd.Series:
    """Open balance / Límite de crédito for every customer (NaN without a limit)."""
    pos = credit_position(book, invoices).set_index("customer")
    limits = book.customers.drop_duplicates("customer").set_index("customer")["credit_limit"]
    limit = limits.astype("float64")
    balance = pos["balance"].reindex(limits.index).fillna(0).astype("float64")
    return balance / limit.where(limit > 0)


def credit(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Open balance / Límite de crédito > Umbral crédito, default currency only, exact."""
    cust = credit_position(book, invoices)
    limit = cust.pop("limit")
    basis_points = round(book.config.credit_threshold * 10_000)  # 85% -> 8500, in integers
    over = (limit > 0) & (cust["balance"] * 10_000 > limit * basis_points)
    cust, limit = cust[over.fillna(False).to_numpy()], limit[over.fillna(False).to_numpy()]
    ratio = cust["balance"].to_numpy("float64") / limit.to_numpy("float64") * 100  # display only
    usage = pd.Series(ratio, index=cust.index).map("{:.1f}".format).astype("str")
    detail = ("Saldo abierto del " + usage + "% del límite de crédito (umbral "
              + f"{basis_points / 100:g}%).")
    return _frame(cust, CREDIT, pd.Series(pd.NA, index=cust.index), detail)


def customers_without_contact(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Per customer and currency with overdue workable invoices and no gestión (any
    Resultado) for at least Días sin gestión days: balance, count, days, last_contact."""
    day = as_day(as_of)
    rows = open_invoices(invoices)
    rows = rows[(rows["days_overdue"] > 0) & rows["status"].isin(WORKABLE)]
    cust = _per_customer(rows)
    contacts = book.contacts[book.contacts["date"] <= day]
    last = contacts.groupby("customer")["date"].max().reindex(cust["customer"])
    cust["last_contact"] = last.astype("datetime64[ns]").to_numpy()
    cust["since"] = _elapsed(cust["last_contact"], day)
    stale = cust["since"].isna() | (cust["since"] >= book.config.days_without_contact)
    return cust[stale.to_numpy(dtype=bool)]


def no_contact(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    cust = customers_without_contact(book, invoices, as_of)
    detail = pd.Series("Sin gestiones registradas; tiene saldo vencido.", index=cust.index)
    seen = cust["since"].notna().to_numpy()
    detail[seen] = ("Última gestión el " + _dmy(cust["last_contact"][seen]) + " (hace "
                    + cust["since"][seen].astype(str) + " días); tiene saldo vencido.")
    return _frame(cust, NO_CONTACT, cust["since"], detail)


def third_party_candidate(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """>= Días terceros overdue and still worked in-house. Reason, first that applies:
    disputa rechazada (a Disputa resuelta was logged and the invoice is still unpaid),
    promesas incumplidas (2 or more promises came due unpaid), vencimiento."""
    rows = open_invoices(invoices)
    rows = rows[(rows["days_overdue"] >= book.config.third_party_days)
                & rows["status"].isin(WORKABLE)]
    reason = np.select(
        [rows["dispute_resolved"], rows["broken_promises"] >= 2],
        ["disputa rechazada", "promesas incumplidas"], "vencimiento",
    )
    detail = ("Vencida hace " + rows["days_overdue"].astype(str) + " días; motivo: " + reason
              + ".")
    return _by_invoice(rows, THIRD_PARTY, rows["days_overdue"], detail)


ALERTS: list[tuple[str, AlertFn]] = [
    (ACTION, action),
    (BROKEN_PROMISE, broken_promise),
    (REPORTED_PAYMENT, reported_payment),
    (OPEN_DISPUTE, open_dispute),
    (OVERDUE_30, _overdue_beyond(30, OVERDUE_30)),
    (OVERDUE_60, _overdue_beyond(60, OVERDUE_60)),
    (OVERDUE_90, _overdue_beyond(90, OVERDUE_90)),
    (CREDIT, credit),
    (NO_CONTACT, no_contact),
    (THIRD_PARTY, third_party_candidate),
]
ALERT_TYPES = tuple(kind for kind, _ in ALERTS)


def compute_alerts(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Every alert, in registry order (then customer, invoice)."""
    parts = [fn(book, invoices, as_of) for _, fn in ALERTS]
    out = pd.concat(parts, ignore_index=True)[ALERT_COLUMNS]
    return out.astype({"balance": "int64", "days": "Int64"})
