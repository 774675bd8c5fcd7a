"""Internal alerts (the Alertas sheet): one function per Tipo, listed in one registry.

Each alert function is `(ctx: AlertContext) -> AlertRows` (its rows as one Series per
ALERT_COLUMNS; compute_alerts builds one frame of them all), where the context carries
the book, the output of `cobranza.rules.invoices.compute_invoices`, the as-of day and the
rollups every alert shares (computed once per context; the cycle shares one context
between the alerts and the agenda). Adding a Tipo is one function and one registry
entry. Balances are int64 minor units; `days` is Int64 (<NA> where a Tipo has no
meaningful day count). Rows come out in customer, invoice, currency order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, tzinfo
from functools import cached_property

import numpy as np
import pandas as pd

from cobranza.book.addresses import mailbox_key, split_addresses
from cobranza.book.money import format_amount
from cobranza.book.records import Book
from cobranza.inbound.records import Bounce, Inbound
from cobranza.plural import counts
from cobranza.rules.invoices import as_day
from cobranza.rules.plans import Plans, compute_plans
from cobranza.rules.risk import compute_risk
from cobranza.rules.rollups import InvoiceRollups, constant_text, kept_codes, per_distinct
from cobranza.vocabulary import AlertType, Status

ALERT_COLUMNS = [
    "type", "customer", "name", "collector", "invoice", "currency", "balance", "days",
    "detail", "area", "due", "days_overdue", "promise_date", "customer_row",
]

# Overdue statuses the team still works itself (Sin gestión, Candidata a terceros).
WORKABLE = (Status.OVERDUE, Status.IN_ACTION, Status.BROKEN_PROMISE, Status.PLAN_BROKEN)
# Statuses that keep an invoice out of Acciones however old it is (SPEC "Acciones"): a
# broken promise does not, it is worked like any invoice past Días acción; a current
# payment plan does (the customer is paying by instalments), a broken one does not.
NOT_FOR_ACTION = (Status.DISPUTED, Status.PAYMENT_REPORTED, Status.PROMISED,
                  Status.THIRD_PARTY, Status.WRITTEN_OFF, Status.PLAN)
# Invoice columns every per-invoice alert row carries (due, days_overdue and promise_date
# are for the digests, which print them; the Alertas sheet shows the others). Every row
# also carries its customer's row in book.customers (`customer_row`, -1: none; from
# `Book.customer_rows`, where compute_invoices took Nombre and Cobrador): the Alertas
# sheet hands Cliente, Nombre and Cobrador to the writer by it, no text hashed again.
ROW_COLUMNS = ["customer", "name", "collector", "invoice", "currency", "balance", "area",
               "due", "days_overdue", "promise_date"]


class AlertContext(InvoiceRollups):
    """The inputs of every alert plus the rollups they share, computed once per call.

    `invoices` is compute_invoices(book, as_of): row i is book.invoices row i."""

    def __init__(self, book: Book, invoices: pd.DataFrame, as_of: date,
                 inbound: Inbound | None = None) -> None:
        super().__init__(book, invoices)
        self.day = as_day(as_of)
        self.inbound = inbound or Inbound()  # bounces and replies read back by IMAP

    @cached_property
    def customer_codes(self) -> tuple[np.ndarray, pd.Index]:
        return self.book.invoice_customers  # the same rows: hashed once per Book

    @cached_property
    def collector_codes(self) -> tuple[np.ndarray, pd.Index]:
        """text_codes of the invoices' Cobrador, its customer's: the few Clientes' Cobrador
        are numbered and spread to the invoices (`Book.customer_rows`), no 100 000 texts."""
        collectors = np.append(self.book.customers["collector"].to_numpy(dtype=object), "")
        codes, texts = pd.factorize(collectors, sort=True)
        codes = codes[self.book.customer_rows]  # row -1 (no customer): the trailing ""
        number, named = kept_codes(codes, texts)  # as text_codes: only the named ones
        return number[codes], pd.Index(named, dtype="str")

    @cached_property
    def credit_positions(self) -> pd.DataFrame:
        """credit_position (the Crédito and Correo rebotado alerts)."""
        return credit_position(self)

    @cached_property
    def without_contact(self) -> pd.DataFrame:
        """customers_without_contact (Sin gestión alert and agenda priority 4)."""
        return customers_without_contact(self)

    @cached_property
    def risk(self) -> pd.DataFrame:
        """compute_risk at the context's day (Riesgo sheet, Riesgo alto, Agenda order)."""
        return compute_risk(self.book, self.invoices, self.day, self)

    @cached_property
    def first_customers(self) -> pd.DataFrame:
        """The Book's customers with their row (`customer_row`), the first row of each
        Cliente only (Correo rebotado and Convenio incumplido name them)."""
        customers = self.book.customers
        return customers.assign(customer_row=np.arange(len(customers))).drop_duplicates(
            "customer")

    @cached_property
    def plans(self) -> Plans:
        """The payment plans at the day (`cobranza.rules.plans`)."""
        return compute_plans(self.book, self.day)

    @property
    def days_overdue(self) -> pd.Series:
        return self.invoices["days_overdue"]

    def rows(self, mask: np.ndarray, *extra: str) -> pd.DataFrame:
        """ROW_COLUMNS (+ extra) and customer_row of the invoices in `mask`, in alert
        order."""
        positions = self.sorted_positions(mask)
        rows = self.invoices[[*ROW_COLUMNS, *extra]].take(positions)
        rows["customer_row"] = self.book.customer_rows[positions]
        return rows

    def per_customer(self, mask: np.ndarray) -> pd.DataFrame:
        """InvoiceRollups.per_customer plus customer_row (of each group's first invoice:
        all of a customer's invoices name the same row)."""
        cust, first = self._per_customer(mask)
        cust["customer_row"] = self.book.customer_rows[first]
        return cust


# One Tipo's rows: ALERT_COLUMNS -> a column (Series on the rows' index). The Tipos are
# joined column by column into one frame: a frame per Tipo cost more than its rows.
AlertRows = dict[str, pd.Series]
AlertFn = Callable[[AlertContext], AlertRows]


def _dmy(dates: pd.Series) -> pd.Series:
    return dates.dt.strftime("%d/%m/%Y")


def _elapsed(since: pd.Series, as_of: date) -> pd.Series:
    return (as_day(as_of) - since).dt.days.astype("Int64")


def _frame(rows: pd.DataFrame, kind: str, days: pd.Series, detail: pd.Series,
           invoice: pd.Series | str = "") -> AlertRows:
    """Alert rows from a frame with customer, name, collector, currency, balance,
    customer_row (+area, and the invoice's due, days_overdue and promise_date), already in
    customer, invoice, currency order."""
    index = rows.index
    no_date = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    return {
        "type": constant_text(kind, index),
        "customer": rows["customer"],
        "name": rows["name"],
        "collector": rows["collector"],
        "invoice": (constant_text(invoice, index) if isinstance(invoice, str)
                    else invoice.astype("str")),
        "currency": rows["currency"],
        "balance": rows["balance"].astype("int64"),
        "days": pd.Series(days, index=index).astype("Int64"),
        "detail": detail.astype("str"),
        "area": rows["area"].astype("str") if "area" in rows else constant_text("", index),
        "due": rows.get("due", no_date),
        "days_overdue": rows.get("days_overdue", pd.Series(pd.NA, index=index)).astype("Int64"),
        "promise_date": rows.get("promise_date", no_date),
        "customer_row": rows["customer_row"].astype("int64"),
    }


def _by_invoice(rows: pd.DataFrame, kind: str, days: pd.Series, detail: pd.Series
                ) -> AlertRows:
    return _frame(rows, kind, days, detail, invoice=rows["invoice"])


# The suspension stage in the words of the customer's SUSPENSION_60 notice (Plantillas).
SUSPENDED = "línea de crédito y servicio suspendidos hasta que la cuenta se regularice"


def _action_detail(days: pd.Series, promise: pd.Series) -> pd.Series:
    broken = ("; promesa de pago del " + _dmy(promise) + " incumplida").where(
        promise.notna(), "")
    return "Vencida hace " + counts(days, "día") + broken + ": " + SUSPENDED + "."


def action(ctx: AlertContext) -> AlertRows:
    """Open, Días vencidos >= Días acción, and in no status that takes the invoice out of
    the team's hands or gives it time (NOT_FOR_ACTION). The one promise date such an
    invoice can carry is a broken one (an active promise is excluded)."""
    due = (ctx.days_overdue >= ctx.book.config.action_days).to_numpy()
    rows = ctx.rows(ctx.is_open & due & ~ctx.has_status(*NOT_FOR_ACTION))
    detail = per_distinct(_action_detail, rows["days_overdue"], rows["promise_date"])
    return _by_invoice(rows, AlertType.ACTION, rows["days_overdue"], detail)


def _promise_detail(promise: pd.Series) -> pd.Series:
    return "Prometió pagar el " + _dmy(promise) + "; el pago no se ha acreditado."


def broken_promise(ctx: AlertContext) -> AlertRows:
    rows = ctx.rows(ctx.has_status(Status.BROKEN_PROMISE))
    detail = per_distinct(_promise_detail, rows["promise_date"])
    elapsed = _elapsed(rows["promise_date"], ctx.day)
    return _by_invoice(rows, AlertType.BROKEN_PROMISE, elapsed, detail)


def _reported_detail(since: pd.Series, days: pd.Series) -> pd.Series:
    return ("Pago informado el " + _dmy(since) + "; sin acreditar después de "
            + counts(days, "día") + ".")


def reported_payment(ctx: AlertContext) -> AlertRows:
    rows = ctx.rows(ctx.has_status(Status.PAYMENT_REPORTED), "status_since")
    days = _elapsed(rows["status_since"], ctx.day)
    late = (days > ctx.book.config.reported_payment_days).to_numpy()
    rows, days = rows[late], days[late]
    detail = per_distinct(_reported_detail, rows["status_since"], days)
    return _by_invoice(rows, AlertType.REPORTED_PAYMENT, days, detail)


def _dispute_detail(since: pd.Series, area: pd.Series) -> pd.Series:
    area = area.where(area != "", "sin área asignada")
    return "Disputa abierta desde el " + _dmy(since) + " (" + area + ")."


def open_dispute(ctx: AlertContext) -> AlertRows:
    rows = ctx.rows(ctx.has_status(Status.DISPUTED), "status_since")
    detail = per_distinct(_dispute_detail, rows["status_since"], rows["area"])
    elapsed = _elapsed(rows["status_since"], ctx.day)
    return _by_invoice(rows, AlertType.OPEN_DISPUTE, elapsed, detail)


def _overdue_beyond(limit: int, kind: str) -> AlertFn:
    """Mora > limit: per customer, open balance more than `limit` days overdue (any band
    beyond included, so a 95-day invoice shows under > 30, > 60 and > 90)."""

    def detail(count: pd.Series, days: pd.Series) -> pd.Series:
        return (counts(count, "factura") + f" con más de {limit} días"
                " de atraso; la más antigua tiene " + counts(days, "día") + ".")

    def alert(ctx: AlertContext) -> AlertRows:
        cust = ctx.per_customer(ctx.is_open & (ctx.days_overdue > limit).to_numpy())
        return _frame(cust, kind, cust["days"], per_distinct(detail, cust["count"], cust["days"]))

    alert.__name__ = f"overdue_{limit}"
    return alert


def _credit_limits(book: Book) -> pd.Series:
    return book.customers.drop_duplicates("customer").set_index("customer")["credit_limit"]


def credit_position(rollups: InvoiceRollups) -> pd.DataFrame:
    """Per customer: open balance in the default currency and its Límite de crédito
    (Int64 minor units, NA = none). The Crédito alert and USO_CREDITO both use it."""
    mask = rollups.is_open & rollups.has_currency(rollups.book.config.default_currency)
    cust = rollups.per_customer(mask)
    limits = _credit_limits(rollups.book)
    cust["limit"] = pd.Series(
        limits.reindex(cust["customer"]).to_numpy(), index=cust.index, dtype="Int64"
    )
    return cust


def credit_usage(book: Book, invoices: pd.DataFrame) -> pd.Series:
    """Open balance / Límite de crédito for every customer (NaN without a limit)."""
    pos = credit_position(InvoiceRollups(book, invoices)).set_index("customer")
    limit = _credit_limits(book).astype("float64")
    balance = pos["balance"].reindex(limit.index).fillna(0).astype("float64")
    return balance / limit.where(limit > 0)


def credit(ctx: AlertContext) -> AlertRows:
    """Open balance / Límite de crédito > Umbral crédito, default currency only, exact."""
    cust = ctx.credit_positions.copy()
    limit = cust.pop("limit")
    basis_points = round(ctx.book.config.credit_threshold * 10_000)  # 85% -> 8500, integers
    over = (limit > 0) & (cust["balance"] * 10_000 > limit * basis_points)
    cust, limit = cust[over.fillna(False).to_numpy()], limit[over.fillna(False).to_numpy()]
    ratio = cust["balance"].to_numpy("float64") / limit.to_numpy("float64") * 100  # display only
    usage = pd.Series(ratio, index=cust.index).map("{:.1f}".format).astype("str")
    detail = ("Saldo abierto del " + usage + "% del límite de crédito (umbral "
              + f"{basis_points / 100:g}%).")
    return _frame(cust, AlertType.CREDIT, pd.Series(pd.NA, index=cust.index), detail)


def _last_contact(ctx: AlertContext) -> np.ndarray:
    """Per customer code (ctx.customer_codes): its latest gestión dated <= the day, or NaT."""
    contacts = ctx.book.contacts
    dates = contacts["date"].to_numpy().astype("datetime64[ns]")
    seen = dates <= ctx.day.to_datetime64()  # NaT compares False
    who = ctx.customer_codes[1].get_indexer(contacts["customer"][seen])
    last = np.full(len(ctx.customer_codes[1]), np.datetime64("NaT", "ns"))
    np.maximum.at(last.view("int64"), who[who >= 0], dates[seen][who >= 0].view("int64"))
    return last


def customers_without_contact(ctx: AlertContext) -> pd.DataFrame:
    """Per customer and currency with overdue workable invoices and no gestión (any
    Resultado) for at least Días sin gestión days: balance, count, days, last_contact."""
    overdue = (ctx.days_overdue > 0).to_numpy()
    cust = ctx.per_customer(ctx.is_open & overdue & ctx.has_status(*WORKABLE))
    cust["last_contact"] = _last_contact(ctx)[ctx.customer_codes[1].get_indexer(cust["customer"])]
    cust["since"] = _elapsed(cust["last_contact"], ctx.day)
    stale = cust["since"].isna() | (cust["since"] >= ctx.book.config.days_without_contact)
    return cust[stale.to_numpy(dtype=bool)]


def _no_contact_detail(last: pd.Series, since: pd.Series) -> pd.Series:
    seen = ("Última gestión el " + _dmy(last) + " (hace " + counts(since.fillna(0), "día")
            + "); tiene saldo vencido.")
    return seen.where(since.notna(), "Sin gestiones registradas; tiene saldo vencido.")


def no_contact(ctx: AlertContext) -> AlertRows:
    cust = ctx.without_contact
    detail = per_distinct(_no_contact_detail, cust["last_contact"], cust["since"])
    return _frame(cust, AlertType.NO_CONTACT, cust["since"], detail)


def _third_party_detail(days: pd.Series, disputed: pd.Series, promises: pd.Series
                        ) -> pd.Series:
    reason = np.select(
        [disputed, promises >= 2], ["disputa rechazada", "promesas incumplidas"], "vencimiento",
    )
    return "Vencida hace " + counts(days, "día") + "; motivo: " + reason + "."


def third_party_candidate(ctx: AlertContext) -> AlertRows:
    """>= Días terceros overdue and still worked in-house. Reason, first that applies:
    disputa rechazada (a Disputa resuelta was logged and the invoice is still unpaid),
    promesas incumplidas (2 or more promises came due unpaid), vencimiento."""
    due = (ctx.days_overdue >= ctx.book.config.third_party_days).to_numpy()
    rows = ctx.rows(ctx.is_open & due & ctx.has_status(*WORKABLE),
                    "dispute_resolved", "broken_promises")
    days = rows["days_overdue"]
    # Only ">= 2" matters to the text: clipping keeps the distinct rows few.
    detail = per_distinct(_third_party_detail, days, rows["dispute_resolved"],
                          rows["broken_promises"].clip(upper=2))
    return _by_invoice(rows, AlertType.THIRD_PARTY, days, detail)


def _latest_bounces(bounces: tuple[Bounce, ...]) -> dict[str, Bounce]:
    """`mailbox_key` -> the latest bounce of that address."""
    latest: dict[str, Bounce] = {}
    for bounce in sorted(bounces, key=lambda b: b.received):
        latest[mailbox_key(bounce.address)] = bounce
    return latest


def _bounce_text(bounce: Bounce, zone: tzinfo) -> str:
    day = bounce.received.astimezone(zone).strftime("%d/%m/%Y")
    reason = f": {bounce.reason}" if bounce.reason else ""
    return f"{bounce.address} rebotó el {day}{reason}"


def bounced(ctx: AlertContext) -> AlertRows:
    """Correo rebotado: a customer whose Email or Email CC still lists an address that
    bounced (its latest bounce is named); the row goes when the address leaves the
    customer's Email and Email CC. Saldo: its open balance in the default currency."""
    latest = _latest_bounces(ctx.inbound.bounces)
    # the usual cycle: no bounce, no address scan
    customers = ctx.first_customers if latest else ctx.first_customers.iloc[:0]
    zone, hits, found = ctx.book.config.zone, [], []
    for code, emails, cc in zip(customers["customer"], customers["emails"], customers["cc"],
                                strict=True):
        listed = (*split_addresses(str(emails))[0], *split_addresses(str(cc))[0])
        bounces = [latest[k] for k in dict.fromkeys(map(mailbox_key, listed)) if k in latest]
        if bounces:
            hits.append(code)
            found.append(bounces)
    rows = customers.set_index("customer").loc[hits, ["name", "collector", "customer_row"]]
    rows = rows.reset_index()
    currency = ctx.book.config.default_currency
    balances = ctx.credit_positions.set_index("customer")["balance"]
    rows["currency"] = currency
    rows["balance"] = balances.reindex(hits).fillna(0).astype("int64").to_numpy()
    last = [max(b.received for b in bs).astimezone(zone).date() for bs in found]
    days = pd.Series([(ctx.day.date() - d).days for d in last], index=rows.index, dtype="Int64")
    detail = pd.Series(
        ["; ".join(_bounce_text(b, zone) for b in bs)
         + ". Confirme la dirección con el cliente y corríjala en Clientes." for bs in found],
        index=rows.index, dtype="object")
    return _frame(rows, AlertType.BOUNCED, days, detail)
def high_risk(ctx: AlertContext) -> AlertRows:
    """Nivel Alto customers with an open balance: one row per customer and currency."""
    risk = ctx.risk.set_index("customer")
    cust = ctx.per_customer(ctx.is_open)
    mine = risk.reindex(cust["customer"])
    cust = cust[(mine["level"] == "Alto").to_numpy()]
    mine = risk.reindex(cust["customer"]).set_index(cust.index)
    detail = ("Riesgo " + mine["risk"].astype(str) + " (Alto): " + mine["reasons"] + ".")
    return _frame(cust, AlertType.HIGH_RISK, pd.Series(pd.NA, index=cust.index), detail)
def plan_broken(ctx: AlertContext) -> AlertRows:
    """One row per broken plan with a balance: Factura lists its invoices, Saldo is what
    is left of its instalments, Días counts from the Vencimiento cuota that broke it."""
    plans = ctx.plans.plans
    broken = plans[(plans["status"] == Status.PLAN_BROKEN)].reset_index(drop=True)
    inst = ctx.plans.instalments.set_index(["plan", "instalment"])
    which = inst.loc[list(zip(broken["plan"], broken["broken_instalment"], strict=True))]
    due = pd.Series(which["due"].to_numpy(dtype="datetime64[ns]"), index=broken.index)
    days = _elapsed(due, ctx.day)
    mine = ctx.first_customers.set_index("customer").reindex(broken["customer"])
    rows = pd.DataFrame({
        "customer": broken["customer"],
        "name": mine["name"].fillna("").to_numpy(),
        "collector": mine["collector"].fillna("").to_numpy(),
        "currency": broken["currency"], "balance": broken["balance"],
        "due": due, "days_overdue": days,
        "customer_row": mine["customer_row"].fillna(-1).to_numpy(dtype="int64"),
    }, index=broken.index).astype({"name": "str", "collector": "str"})
    detail = pd.Series([
        f"Convenio {plan}: la cuota {n} de {format_amount(int(amount), cur)} venció el "
        f"{d:%d/%m/%Y} y quedan {format_amount(int(left), cur)} sin pagar ({late} de "
        f"atraso)."
        for plan, n, amount, left, cur, d, late in zip(
            broken["plan"], broken["broken_instalment"], which["amount"], which["balance"],
            broken["currency"], due, counts(days, "día"), strict=True)
    ], index=broken.index, dtype=object)
    invoices = broken["invoices"].map(", ".join)
    order = rows.sort_values(["customer"], kind="stable").index
    out = _frame(rows, AlertType.PLAN_BROKEN, days, detail, invoice=invoices)
    return {column: values.loc[order] for column, values in out.items()}


ALERTS: list[tuple[AlertType, AlertFn]] = [
    (AlertType.ACTION, action),
    (AlertType.BROKEN_PROMISE, broken_promise),
    (AlertType.REPORTED_PAYMENT, reported_payment),
    (AlertType.OPEN_DISPUTE, open_dispute),
    (AlertType.OVERDUE_30, _overdue_beyond(30, AlertType.OVERDUE_30)),
    (AlertType.OVERDUE_60, _overdue_beyond(60, AlertType.OVERDUE_60)),
    (AlertType.OVERDUE_90, _overdue_beyond(90, AlertType.OVERDUE_90)),
    (AlertType.CREDIT, credit),
    (AlertType.NO_CONTACT, no_contact),
    (AlertType.THIRD_PARTY, third_party_candidate),
    (AlertType.BOUNCED, bounced),
    (AlertType.HIGH_RISK, high_risk),
    (AlertType.PLAN_BROKEN, plan_broken),
]
ALERT_TYPES = tuple(kind for kind, _ in ALERTS)


def compute_alerts(book: Book, invoices: pd.DataFrame, as_of: date,
                   ctx: AlertContext | None = None, inbound: Inbound | None = None
                   ) -> pd.DataFrame:
    """Every alert, in registry order (then customer, invoice). `ctx`: the context of
    these same arguments, when the caller shares it with the agenda; `inbound`: the
    bounces read back (without a ctx)."""
    ctx = ctx or AlertContext(book, invoices, as_of, inbound)
    parts = [fn(ctx) for _, fn in ALERTS]
    out = pd.DataFrame({column: pd.concat([part[column] for part in parts], ignore_index=True)
                        for column in ALERT_COLUMNS})
    return out.astype({"balance": "int64", "days": "Int64"})
