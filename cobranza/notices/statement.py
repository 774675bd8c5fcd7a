"""What a customer's statement of account (estado de cuenta) says: its open invoices,
the payments received in the last 30 days, the aging and total per currency, the
company's identification and how to pay.

Used by the ESTADO_MENSUAL notice (its body and attachments), by any email that lists
more invoices than a body may (`listed`), and by the ribbon's "Estado de cuenta" button.
`build_statement` computes one `Statement`; the .xlsx and the PDF are laid out from it at
the edge (`sync.xlsx.statement_file`, `sync.pdf.statement`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from cobranza.book.config import Config
from cobranza.book.records import BUCKETS, Book
from cobranza.notices.messages import Line
from cobranza.notices.payment import payment_link
from cobranza.notices.stages import STATEMENT_STATUSES
from cobranza.rules.invoices import bucket_of


def _date(value: object) -> date | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).date()


def statement_lines(invoices: pd.DataFrame, customer: str) -> tuple[Line, ...]:
    """What `customer` still owes (from `compute_invoices`), by due date: every invoice
    with a balance in STATEMENT_STATUSES (disputed and promised ones included)."""
    if invoices is None or invoices.empty or "balance" not in invoices:
        return ()
    rows = invoices[(invoices["customer"] == customer) & _owed(invoices)]
    return tuple(_lines(rows.sort_values(["due", "invoice"], kind="stable")))


def _owed(invoices: pd.DataFrame) -> pd.Series:
    return (invoices["balance"] > 0) & invoices["status"].isin(STATEMENT_STATUSES)


def _lines(rows: pd.DataFrame) -> list[Line]:
    return [  # records, not itertuples: that makes a namedtuple class (a cycle) per call
        Line(
            invoice=str(r["invoice"]),
            customer=str(r["customer"]),
            due=_date(r["due"]),
            days_overdue=int(r["days_overdue"]),
            balance=int(r["balance"]),
            currency=str(r["currency"]),
            issued=_date(r.get("issued")),
            status=str(r.get("status", "")),
        )
        for r in rows.to_dict("records")
    ]


def statement_totals(lines: Sequence[Line]) -> dict[str, int]:
    """Open balance per currency (int64 minor units), in order of first appearance: the
    statement's Total rows."""
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, 0) + int(line.balance)
    return sums


# ------------------------------------------------------------------ the whole statement

PAYMENT_DAYS = 30  # payments received in the 30 days up to the cut-off are listed
# A customer email lists at most this many invoices per notice; the rest are named by
# count and the statement (every open invoice) is attached (SPEC "Emails that get paid").
BODY_INVOICES = 50


def listed(lines: Sequence[Line]) -> tuple[tuple[Line, ...], int]:
    """The invoices a body lists (the first BODY_INVOICES, in the notice's own order:
    by due date, so the most overdue first) and how many more it only counts."""
    return tuple(lines[:BODY_INVOICES]), max(len(lines) - BODY_INVOICES, 0)


@dataclass(frozen=True)
class Received:
    """One payment received (Pagos), in the currency of the invoice it pays."""

    day: date
    invoice: str
    amount: int  # minor units
    currency: str
    reference: str = ""


@dataclass(frozen=True)
class Aging:
    """The open balance of one currency by Tramo (`BUCKETS` order), and its total."""

    currency: str
    buckets: tuple[tuple[str, int], ...]  # (Tramo, minor units)
    total: int


@dataclass(frozen=True)
class Statement:
    """Everything a statement of account says, computed once for its .xlsx and its PDF.

    Money is int minor units; the layouts format it (`format_amount`)."""

    customer: str
    name: str
    as_of: date  # cut-off date
    company: tuple[tuple[str, str], ...]  # (label, value): Empresa first, blanks left out
    lines: tuple[Line, ...]  # open invoices by due date, disputed/promised ones marked
    since: date  # first day of the payments listed
    payments: tuple[Received, ...]  # by date, then Pagos row
    aging: tuple[Aging, ...]  # one per currency, in order of first appearance
    paying: tuple[tuple[str, str], ...]  # payment details (label, value), blanks left out

    @property
    def totals(self) -> dict[str, int]:
        """Total due per currency."""
        return statement_totals(self.lines)


def company_lines(config: Config) -> tuple[tuple[str, str], ...]:
    """The company's identification as the statement prints it; blank ones left out."""
    return _filled((("Empresa", config.company), ("Razón social", config.legal_name),
                    ("RFC", config.tax_id), ("Domicilio", config.address),
                    ("Teléfono de cobranza", config.collections_phone),
                    ("Horario de atención", config.office_hours)))


def payment_lines(config: Config, reference: str, link: str) -> tuple[tuple[str, str], ...]:
    """How to pay (Configuración; `reference` already rendered, `link` already filled
    in); blank ones left out."""
    return _filled((("Banco", config.bank), ("Cuenta", config.account),
                    ("Beneficiario", config.beneficiary), ("Referencia de pago", reference),
                    ("Enlace de pago", link)))


def _filled(pairs: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return tuple((label, " ".join(str(value).split())) for label, value in pairs
                 if str(value).strip())


def payments_since(as_of: date) -> date:
    """The first day whose payments a statement at `as_of` lists."""
    return as_of - timedelta(days=PAYMENT_DAYS)


def recent_payments(payments: pd.DataFrame, invoices: pd.DataFrame,
                    as_of: date) -> dict[str, tuple[Received, ...]]:
    """Customer -> its payments dated `payments_since` .. `as_of` (Pagos, each in its invoice's
    currency; the invoice says whose it is, as for Saldo: a payment always names its
    Factura), by date and row. A payment dated after the cut-off is not listed, as it
    does not count for Saldo yet (`cobranza.rules.paid`). One pass over Pagos and
    Facturas: a run's statements share it."""
    if payments is None or payments.empty:
        return {}
    owner = invoices.drop_duplicates("invoice").set_index("invoice")[["customer", "currency"]]
    owner = owner.rename(columns={"customer": "owner"})
    day = pd.to_datetime(payments["date"])
    mine = payments[(day >= pd.Timestamp(payments_since(as_of))) & (day <= pd.Timestamp(as_of))]
    mine = mine.join(owner, on="invoice", rsuffix="_of_invoice")
    mine = mine.sort_values(["date", "row"], kind="stable")
    out: dict[str, list[Received]] = {}
    for r in mine.to_dict("records"):
        if isinstance(r["owner"], str):  # NaN: no such invoice
            out.setdefault(r["owner"], []).append(Received(
                day=_date(r["date"]), invoice=str(r["invoice"]), amount=int(r["amount"]),
                currency=str(r["currency"]), reference=str(r.get("reference", "") or "")))
    return {customer: tuple(found) for customer, found in out.items()}


def aging(lines: Sequence[Line]) -> tuple[Aging, ...]:
    """Open balance per currency and Tramo (the Tramo rule of `compute_invoices`)."""
    if not lines:
        return ()
    tramo = bucket_of(pd.Series([line.days_overdue for line in lines], dtype="int64"))
    sums: dict[str, dict[str, int]] = {}
    for line, bucket in zip(lines, tramo.tolist(), strict=True):
        per = sums.setdefault(line.currency, dict.fromkeys(BUCKETS, 0))
        per[bucket] += int(line.balance)
    return tuple(Aging(cur, tuple(per.items()), sum(per.values())) for cur, per in sums.items())


def build_statement(customer: str, name: str, lines: Sequence[Line], book: Book, as_of: date,
                    reference: str,
                    paid: Mapping[str, tuple[Received, ...]] | None = None) -> Statement:
    """The statement of `customer` at `as_of`: `lines` (its open invoices,
    `statement_lines`), the payments of the last PAYMENT_DAYS days, aging and totals per
    currency, the company's identification and the payment details (`reference`: the
    rendered Referencia de pago; the payment link is for all the open invoices; `paid`:
    `recent_payments` of the run, when several statements are built)."""
    lines = tuple(lines)
    since = payments_since(as_of)
    if paid is None:
        paid = recent_payments(book.payments, book.invoices, as_of)
    config = book.config
    return Statement(
        customer=customer, name=name, as_of=as_of, company=company_lines(config),
        lines=lines, since=since,
        payments=paid.get(customer, ()),
        aging=aging(lines),
        paying=payment_lines(config, reference,
                             payment_link(config.payment_link, customer, lines)),
    )
