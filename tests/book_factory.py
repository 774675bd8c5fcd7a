"""Build a validated `Book` from small literal tables, for tests.

Rows are dicts (internal column names of `cobranza.book.records`) or tuples in the short
positional order given by the `*_FIELDS` constants below; missing fields take defaults.
Dates are `date`, `datetime` or ISO text ("2026-11-25"); money is in MAJOR units
(1500, "1500.50", Decimal) and is converted exactly to int64 minor units of the row's
currency. `row` (the Excel row) defaults to 2, 3, ... in list order.

    book = make_book(
        invoices=[("F1", "C1", "2026-10-01", 1000), ("F2", "C1", "2026-11-01", 250.5)],
        payments=[("2026-10-15", "F1", 400)],
        contacts=[("2026-11-01", "C1", "F1", "Promesa de pago", "2026-11-30")],
    )

Customers referenced by invoices or gestiones but not listed are added with defaults
(name "Cliente C1", collector "Ana", email "c1@example.com").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd

from cobranza.book.addresses import split_addresses
from cobranza.book.config import Config
from cobranza.book.money import decimals
from cobranza.book.records import Book, InputError, empty_plans

CUSTOMER_FIELDS = ("customer", "name", "collector", "credit_limit", "emails", "phone", "segment")
INVOICE_FIELDS = ("invoice", "customer", "due", "amount", "issued", "currency", "notes")
PAYMENT_FIELDS = ("date", "invoice", "amount", "customer", "reference")
CONTACT_FIELDS = (
    "date", "customer", "invoice", "result", "promise_date", "area", "follow_up",
    "collector", "comment",
)
COLLECTOR_FIELDS = ("collector", "email", "phone")
AREA_FIELDS = ("area", "owner", "email")
NOTICE_FIELDS = ("code", "reference", "days", "template", "active")
TEMPLATE_FIELDS = ("code", "subject", "body", "approved")
PLAN_FIELDS = ("plan", "customer", "date", "instalment", "due", "amount", "invoices", "state")

# Column -> kind; the kind picks the default and the dtype.
_CUSTOMER = {
    "customer": "text", "name": "text", "emails": "text", "cc": "text", "phone": "text",
    "segment": "text", "credit_limit": "limit", "collector": "text", "auto_notices": "bool",
    "timezone": "text", "third_party": "text", "country": "text",
}
_INVOICE = {
    "invoice": "text", "customer": "text", "issued": "date", "due": "date",
    "currency": "text", "amount": "money", "notes": "text",
}
_PAYMENT = {
    "date": "date", "customer": "text", "invoice": "text", "amount": "money",
    "reference": "text",
}
_CONTACT = {
    "date": "date", "collector": "text", "customer": "text", "invoice": "text",
    "result": "text", "promise_date": "date", "area": "text", "comment": "text",
    "follow_up": "date",
}
_COLLECTOR = {"collector": "text", "email": "text", "phone": "text"}
_AREA = {"area": "text", "owner": "text", "email": "text"}
_NOTICE = {"code": "text", "reference": "text", "days": "int", "template": "text",
           "active": "bool"}
_TEMPLATE = {"code": "text", "subject": "text", "body": "text", "approved": "bool"}

# The SPEC's default Avisos table (ESTADO_MENSUAL: day 1 = first business day of the month).
DEFAULT_NOTICES = [
    ("NUEVA", "emision", 0), ("PREVIO", "vencimiento", -5), ("VENCIDA_1", "vencimiento", 1),
    ("VENCIDA_15", "vencimiento", 15), ("VENCIDA_30", "vencimiento", 30),
    ("MORA_45", "vencimiento", 45), ("SUSPENSION_60", "vencimiento", 60),
    ("PROMESA_PREVIA", "compromiso", -1), ("PROMESA_INCUMPLIDA", "compromiso", 1),
    ("ESTADO_MENSUAL", "mes", 1), ("SIN_CONTACTO", "gestion", 0),
]

Row = Mapping[str, Any] | Sequence[Any]


def to_minor_exact(value: Any, currency: str) -> int:
    """Major units (int, float, str, Decimal) -> exact int minor units."""
    scaled = Decimal(str(value)).scaleb(decimals(currency))
    return int(scaled.to_integral_value())


def _as_dict(row: Row, fields: Sequence[str]) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    if len(row) > len(fields):
        raise ValueError(f"{len(row)} values for fields {fields}")
    return dict(zip(fields, row, strict=False))


def _column(values: list[Any], kind: str, currencies: list[str]) -> pd.Series:
    if kind == "text":
        return pd.Series(["" if v is None else str(v) for v in values], dtype="str")
    if kind == "date":
        return pd.to_datetime(pd.Series(values, dtype="object")).astype("datetime64[ns]")
    if kind == "money":
        return pd.Series(
            [to_minor_exact(v, c) for v, c in zip(values, currencies, strict=True)],
            dtype="int64",
        )
    if kind == "limit":
        minor = [None if v is None else to_minor_exact(v, c) for v, c in zip(values, currencies,
                                                                              strict=True)]
        return pd.Series(minor, dtype="Int64")
    if kind == "int":
        return pd.Series(values, dtype="int64")
    return pd.Series(values, dtype="bool")


def _frame(
    rows: Iterable[Row], fields: Sequence[str], spec: Mapping[str, str],
    defaults: Mapping[str, Any], currency_of: Any = None,
) -> pd.DataFrame:
    """One typed frame; `currency_of(record)` gives the currency of its money fields."""
    records = [{**defaults, **_as_dict(r, fields)} for r in rows]
    currencies = [currency_of(r) if currency_of else "" for r in records]
    data = {c: _column([r.get(c) for r in records], k, currencies) for c, k in spec.items()}
    extra = sorted({k for r in records for k in r} - set(spec) - {"row"})
    data.update({c: pd.Series([r.get(c, "") for r in records], dtype="object") for c in extra})
    data["row"] = pd.Series([r.get("row", i + 2) for i, r in enumerate(records)], dtype="int64")
    return pd.DataFrame(data)


def _missing_customers(customers: list[Row], invoices: list[Row], contacts: list[Row]) -> list:
    listed = {_as_dict(r, CUSTOMER_FIELDS)["customer"] for r in customers}
    used = [_as_dict(r, INVOICE_FIELDS)["customer"] for r in invoices]
    used += [_as_dict(r, CONTACT_FIELDS)["customer"] for r in contacts]
    missing = dict.fromkeys(c for c in used if c not in listed)
    return [{"customer": c} for c in missing]


def make_book(
    customers: Iterable[Row] = (),
    invoices: Iterable[Row] = (),
    payments: Iterable[Row] = (),
    contacts: Iterable[Row] = (),
    collectors: Iterable[Row] | None = None,
    areas: Iterable[Row] = (),
    notices: Iterable[Row] | None = None,
    templates: Iterable[Row] = (),
    config: Config | None = None,
    errors: Iterable[InputError] = (),
    plans: Iterable[Row] = (),
) -> Book:
    """A Book as the reader would produce it, from literal rows (see module docstring)."""
    config = config or Config()
    cur = config.default_currency
    customers, invoices, contacts = list(customers), list(invoices), list(contacts)
    customers += _missing_customers(customers, invoices, contacts)
    customer_defaults = {
        "name": None, "collector": "Ana", "auto_notices": True, "timezone": config.timezone,
    }
    cust = _frame(customers, CUSTOMER_FIELDS, _CUSTOMER, customer_defaults, lambda r: cur)
    cust["name"] = cust["name"].where(cust["name"] != "", "Cliente " + cust["customer"])
    cust["emails"] = cust["emails"].where(
        cust["emails"] != "", cust["customer"].str.lower() + "@example.com"
    )
    for column in ("emails", "cc"):  # as validation keeps them: the valid addresses
        cust[column] = [";".join(split_addresses(str(t))[0]) for t in cust[column]]
    inv = _frame(invoices, INVOICE_FIELDS, _INVOICE, {"currency": cur},
                 lambda r: r.get("currency") or cur)
    currency_of_invoice = dict(zip(inv["invoice"], inv["currency"], strict=True))
    pay = _frame(payments, PAYMENT_FIELDS, _PAYMENT, {},
                 lambda r: currency_of_invoice.get(r.get("invoice"), cur))
    con = _frame(contacts, CONTACT_FIELDS, _CONTACT, {})
    plan_frame = _plans(list(plans), inv)
    if collectors is None:
        names = sorted(set(cust["collector"]) - {""})
        collectors = [(n, f"{n.lower()}@miempresa.com") for n in names]
    notice_defaults = {"active": True}
    notice_rows = [
        {**_as_dict(r, NOTICE_FIELDS)} for r in (DEFAULT_NOTICES if notices is None else notices)
    ]
    for r in notice_rows:
        r.setdefault("template", r["code"])
    return Book(
        customers=cust,
        invoices=inv,
        payments=pay,
        contacts=con,
        collectors=_frame(collectors, COLLECTOR_FIELDS, _COLLECTOR, {}),
        areas=_frame(areas, AREA_FIELDS, _AREA, {}),
        notices=_frame(notice_rows, NOTICE_FIELDS, _NOTICE, notice_defaults),
        templates=_frame(templates, TEMPLATE_FIELDS, _TEMPLATE, {"approved": True}),
        config=config,
        errors=list(errors),
        plans=plan_frame,
    )


def _plans(plans: list[Row], inv: pd.DataFrame) -> pd.DataFrame:
    """Convenios rows; a plan's currency is that of its first invoice (listed, or of its
    customer)."""
    if not plans:
        return empty_plans()
    by_invoice = dict(zip(inv["invoice"], inv["currency"], strict=True))
    by_customer = dict(zip(inv["customer"], inv["currency"], strict=True))

    def currency(r: dict) -> str:
        listed = str(r.get("invoices") or "")
        return by_invoice[listed.split(";")[0]] if listed else by_customer[r["customer"]]

    spec = {"plan": "text", "customer": "text", "invoices": "text", "date": "date",
            "instalment": "int", "due": "date", "amount": "money", "state": "text"}
    rows = [{**r, "currency": currency(r)} for r in (_as_dict(p, PLAN_FIELDS) for p in plans)]
    frame = _frame(rows, PLAN_FIELDS, spec, {"state": "Activo"}, currency)
    frame["currency"] = frame["currency"].astype(str)
    return frame[[*empty_plans().columns]]


def synthetic_book(n: int, seed: int = 1, config: Config | None = None) -> Book:
    """A large random Book (n invoices, n/20 customers, n/2 payments, n/5 gestiones, 30%
    of them with blank Factura), built with numpy, for timing checks."""
    import numpy as np

    rng = np.random.default_rng(seed)
    book = make_book(config=config)
    ids = pd.Series([f"F{i}" for i in range(n)], dtype="str")
    customers = pd.Series([f"C{i}" for i in range(max(n // 20, 1))], dtype="str")
    issued = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 300, n), "D")
    inv = pd.DataFrame({
        "invoice": ids, "customer": customers.sample(n, replace=True, random_state=seed)
        .reset_index(drop=True), "issued": issued.astype("datetime64[ns]"),
    })
    inv["due"] = inv["issued"] + pd.Timedelta(days=30)
    inv["currency"] = pd.Series(["MXN"] * n, dtype="str")
    inv["amount"] = rng.integers(100, 10**7, n).astype("int64")
    inv["notes"] = pd.Series([""] * n, dtype="str")
    inv["row"] = np.arange(2, n + 2)
    m, k = n // 2, n // 5
    pi, ci = rng.integers(0, n, m), rng.integers(0, n, k)
    blank = pd.Series([""] * m, dtype="str")
    pay = pd.DataFrame({
        "date": inv["issued"].to_numpy()[pi] + np.timedelta64(10, "D"), "customer": blank,
        "invoice": ids[pi].reset_index(drop=True), "amount": inv["amount"].to_numpy()[pi] // 2,
        "reference": blank, "row": np.arange(2, m + 2),
    })
    results = np.array(["Promesa de pago", "Sin contacto", "Disputa", "Pago informado"])
    date = pd.Timestamp("2026-06-01") + pd.to_timedelta(rng.integers(0, 170, k), "D")
    blank_k = pd.Series([""] * k, dtype="str")
    con = pd.DataFrame({
        "date": date.astype("datetime64[ns]"), "collector": blank_k,
        "customer": inv["customer"].to_numpy()[ci],
        "invoice": np.where(rng.random(k) < 0.3, "", ids.to_numpy()[ci]),
        "result": results[rng.integers(0, len(results), k)],
    }).astype({"customer": "str", "invoice": "str", "result": "str"})
    con["promise_date"] = con["date"] + pd.Timedelta(days=7)
    con["area"], con["comment"] = blank_k, blank_k
    con["follow_up"] = con["date"] + pd.Timedelta(days=3)
    con["row"] = np.arange(2, k + 2)
    book.customers = make_book(customers=[(c, "", "Ana", 10**6) for c in customers]).customers
    book.invoices, book.payments, book.contacts = inv, pay, con
    return book
