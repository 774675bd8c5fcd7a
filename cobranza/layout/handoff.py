"""The agency hand-off (seed 004) as data: per Tercero, what the agency needs to collect.

One `Handoff` per agency named in Clientes' `Tercero`: its customers (the Clientes
columns), their open invoices with Saldo, Días vencidos, Tramo and Estatus from
`compute_invoices` (the sync's own rules, as of the hand-off date), the whole gestiones
history of those customers (every one up to that date, also those on paid invoices)
and the notices sent to them. `handoff_sheets` lays it out as `Sheet` values
(`sync.xlsx.handoff_file` writes them). Pure: no clock, disk or Excel.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd

from cobranza.book.records import Book
from cobranza.layout.reports import _money, _rows, sheet_header
from cobranza.layout.sends import SentRow, local_time
from cobranza.layout.sheets import Cell, Sheet, Table
from cobranza.vocabulary import Kind, SendState

TABLE_ROW = 4
# A notice sent, or one whose send may have happened (the server did not answer).
SENT_STATES = (SendState.SENT, SendState.UNCERTAIN)
CUSTOMER_COLUMNS = ("Cliente", "Nombre", "Email", "Email CC", "Teléfono", "Segmento",
                    "Límite de crédito", "Moneda", "Cobrador", "Avisos automáticos",
                    "Zona horaria", "País", "Tercero")
INVOICE_COLUMNS = ("Factura", "Cliente", "Nombre", "Emisión", "Vencimiento", "Moneda",
                   "Importe", "Pagado", "Saldo", "Días vencidos", "Tramo", "Estatus", "Notas")
CONTACT_COLUMNS = ("Fecha", "Cobrador", "Cliente", "Factura", "Resultado",
                   "Fecha compromiso", "Área", "Comentario", "Seguimiento")
NOTICE_COLUMNS = ("Fecha", "Cliente", "Código", "Facturas", "Para", "Asunto", "Estado")
TOTAL_COLUMNS = ("Moneda", "Facturas", "Saldo", "Saldo vencido")


@dataclass(frozen=True)
class Handoff:
    """What one agency receives on one day."""

    agency: str  # the Tercero as written (trimmed)
    now: datetime  # the hand-off's instant, aware, in the company zone
    customers: pd.DataFrame  # rows of Book.customers
    invoices: pd.DataFrame  # rows of compute_invoices open on as_of (`_open_invoices`)
    contacts: pd.DataFrame  # rows of Book.contacts dated on or before as_of
    notices: tuple[SentRow, ...]  # customer notices sent, oldest first

    @property
    def as_of(self) -> date:
        return self.now.date()


def agencies(customers: pd.DataFrame) -> list[str]:
    """The agencies named in Clientes' Tercero (trimmed, blank = none), sorted."""
    names = customers["third_party"].astype(str).str.strip()
    return sorted(set(names[names != ""]))


def build_handoffs(book: Book, invoices: pd.DataFrame, sent: Iterable[SentRow],
                   now: datetime) -> list[Handoff]:
    """One Handoff per agency; `invoices`: compute_invoices(book, now.date()); `sent`:
    the workbook's messages (ledger or Envíos rows); `now`: aware, company zone."""
    sent, as_of = list(sent), now.date()
    third_party = book.customers["third_party"].astype(str).str.strip()
    out = []
    for agency in agencies(book.customers):
        customers = book.customers[third_party == agency]
        codes = set(customers["customer"])
        out.append(Handoff(agency, now, customers, _open_invoices(invoices, codes, as_of),
                           _contacts(book.contacts, codes, as_of),
                           _notices(sent, codes, now)))
    return out


def _open_invoices(invoices: pd.DataFrame, codes: set[str], as_of: date) -> pd.DataFrame:
    """Issued on or before `as_of` (or without Emisión) with Saldo > 0, whatever the
    Estatus: Castigada and Tercerizada ones are what the agency collects."""
    issued = invoices["issued"].isna() | (invoices["issued"] <= pd.Timestamp(as_of))
    rows = invoices[invoices["customer"].isin(codes) & issued & (invoices["balance"] > 0)]
    return rows.sort_values(["customer", "due", "invoice"], kind="stable")


def _contacts(contacts: pd.DataFrame, codes: set[str], as_of: date) -> pd.DataFrame:
    rows = contacts[contacts["customer"].isin(codes)
                    & (contacts["date"] <= pd.Timestamp(as_of))]
    return rows.sort_values(["date", "row"], kind="stable")


def _notices(sent: Sequence[SentRow], codes: set[str], now: datetime) -> tuple[SentRow, ...]:
    """Customer notices sent (or maybe sent) to `codes` on or before now's date."""
    as_of = now.date()
    chosen = [r for r in sent if r.kind == Kind.NOTICE and r.recipient in codes
              and r.state in SENT_STATES and r.when is not None
              and local_time(r.when, now).date() <= as_of]
    return tuple(sorted(chosen, key=lambda r: (r.when, r.recipient)))


_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]+')
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
             *(f"LPT{i}" for i in range(1, 10))}


def safe_file_stem(name: str, limit: int = 80) -> str:
    """A file name stem any file system takes (the date follows it): characters Windows
    forbids (/ \\ : * ? " < > |, control characters) become "_", no leading dot (a hidden
    file) nor surrounding spaces, not a reserved device name (CON, NUL, …), at most
    `limit` characters; accents, spaces and other dots stay."""
    stem = _UNSAFE.sub("_", unicodedata.normalize("NFC", name)).strip().lstrip(".")
    stem = stem[:limit].strip()
    if not stem:
        return "tercero"
    return f"_{stem}" if stem.split(".")[0].upper() in _RESERVED else stem


def handoff_filenames(names: Sequence[str], as_of: date) -> list[str]:
    """<Tercero>-<AAAA-MM-DD>.xlsx per agency, made safe; two agencies whose safe names
    coincide (ignoring case, as Windows does) get " (2)", " (3)" …"""
    taken: set[str] = set()
    out = []
    for name in names:
        stem, n = safe_file_stem(name), 1
        while (candidate := stem + (f" ({n})" if n > 1 else "")).casefold() in taken:
            n += 1
        taken.add(candidate.casefold())
        out.append(f"{candidate}-{as_of:%Y-%m-%d}.xlsx")
    return out


def handoff_sheets(h: Handoff, default_currency: str) -> list[Sheet]:
    """Resumen, Clientes, Facturas, Gestiones, Avisos enviados."""
    return [_summary(h), _customers(h, default_currency), _invoices(h), _contact_sheet(h),
            _notice_sheet(h)]


def _yes_no(values: pd.Series) -> pd.Series:
    return values.map(lambda v: "Sí" if bool(v) else "No")


def _table(name: str, columns: tuple[str, ...], rows: list[tuple], **kwargs) -> Table:
    return Table(name=name, columns=columns, rows=rows, row=TABLE_ROW, **kwargs)


def _sheet(name: str, title: str, h: Handoff, table: Table) -> Sheet:
    cells = sheet_header(title, h.as_of)
    cells.append(Cell(3, 1, "Tercero", style="label"))
    cells.append(Cell(3, 2, h.agency))
    return Sheet(name, cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)


def _customers(h: Handoff, default_currency: str) -> Sheet:
    c = h.customers
    currency = pd.Series(default_currency, index=c.index)
    limit = c["credit_limit"].astype("Int64")
    rows = _rows([c["customer"], c["name"], c["emails"].str.replace(";", "; "), c["cc"],
                  c["phone"], c["segment"], _money(limit, currency),
                  currency.where(limit.notna().to_numpy(), ""), c["collector"],
                  _yes_no(c["auto_notices"]), c["timezone"], c["country"],
                  c["third_party"].astype(str).str.strip()])
    table = _table("tblClientes", CUSTOMER_COLUMNS, rows,
                   formats={"Cliente": "text", "Teléfono": "text", "Límite de crédito": "money"},
                   widths={"Cliente": 14, "Nombre": 36, "Email": 32, "Email CC": 24,
                           "Teléfono": 16, "Límite de crédito": 16, "Zona horaria": 22,
                           "Tercero": 30, "Avisos automáticos": 10})
    return _sheet("Clientes", "Clientes entregados al tercero", h, table)


def _invoices(h: Handoff) -> Sheet:
    i = h.invoices
    rows = _rows([i["invoice"], i["customer"], i["name"], i["issued"], i["due"],
                  i["currency"], _money(i["amount"], i["currency"]),
                  _money(i["paid"], i["currency"]), _money(i["balance"], i["currency"]),
                  i["days_overdue"], i["bucket"], i["status"], i["notes"]])
    table = _table("tblFacturas", INVOICE_COLUMNS, rows,
                   formats={"Factura": "text", "Cliente": "text", "Emisión": "date",
                            "Vencimiento": "date", "Importe": "money", "Pagado": "money",
                            "Saldo": "money", "Días vencidos": "int"},
                   widths={"Factura": 14, "Cliente": 14, "Nombre": 36, "Emisión": 12,
                           "Vencimiento": 12, "Importe": 14, "Pagado": 14, "Saldo": 14,
                           "Días vencidos": 13, "Estatus": 18, "Notas": 30})
    return _sheet("Facturas", "Facturas abiertas", h, table)


def _contact_sheet(h: Handoff) -> Sheet:
    g = h.contacts
    rows = _rows([g["date"], g["collector"], g["customer"], g["invoice"], g["result"],
                  g["promise_date"], g["area"], g["comment"], g["follow_up"]])
    table = _table("tblGestiones", CONTACT_COLUMNS, rows,
                   formats={"Fecha": "date", "Cliente": "text", "Factura": "text",
                            "Fecha compromiso": "date", "Seguimiento": "date"},
                   widths={"Fecha": 12, "Cobrador": 16, "Cliente": 14, "Factura": 14,
                           "Resultado": 18, "Fecha compromiso": 12, "Área": 14,
                           "Comentario": 60, "Seguimiento": 12})
    return _sheet("Gestiones", "Historial de gestiones", h, table)


def _notice_sheet(h: Handoff) -> Sheet:
    rows = [(local_time(r.when, h.now), r.recipient, r.code, r.invoices, r.to, r.subject,
             str(r.state)) for r in h.notices]
    table = _table("tblAvisos", NOTICE_COLUMNS, rows,
                   formats={"Fecha": "datetime", "Cliente": "text"},
                   widths={"Fecha": 17, "Cliente": 14, "Código": 24, "Facturas": 30,
                           "Para": 30, "Asunto": 50})
    return _sheet("Avisos enviados", "Avisos enviados a los clientes", h, table)


def currency_totals(h: Handoff) -> list[tuple[str, int, int, int]]:
    """(Moneda, invoices, Saldo, Saldo vencido) per currency, minor units, by code."""
    i = h.invoices
    overdue = i["balance"].where(i["days_overdue"] > 0, 0)
    frame = pd.DataFrame({"currency": i["currency"], "balance": i["balance"],
                          "overdue": overdue})
    grouped = frame.groupby("currency", sort=True)
    return [(str(cur), int(len(g)), int(g["balance"].sum()), int(g["overdue"].sum()))
            for cur, g in grouped]


def _summary(h: Handoff) -> Sheet:
    totals = currency_totals(h)
    currencies = pd.Series([t[0] for t in totals], dtype=object)
    rows = _rows([currencies, pd.Series([t[1] for t in totals], dtype="int64"),
                  _money(pd.Series([t[2] for t in totals], dtype="int64"), currencies),
                  _money(pd.Series([t[3] for t in totals], dtype="int64"), currencies)])
    counts = (("Clientes", len(h.customers)), ("Facturas abiertas", len(h.invoices)),
              ("Gestiones", len(h.contacts)), ("Avisos enviados", len(h.notices)))
    cells = [Cell(1, 1, "Entrega de cartera a tercero", style="title"),
             Cell(2, 1, "Tercero", style="label"), Cell(2, 2, h.agency),
             Cell(3, 1, "Fecha de corte", style="label"), Cell(3, 2, h.as_of, format="date")]
    cells += [c for n, (label, value) in enumerate(counts, start=5)
              for c in (Cell(n, 1, label, style="label"), Cell(n, 2, value, format="int"))]
    table = Table(name="tblTotales", columns=TOTAL_COLUMNS, rows=rows, row=10,
                  formats={"Facturas": "int", "Saldo": "money", "Saldo vencido": "money"},
                  widths={"Moneda": 24, "Facturas": 12, "Saldo": 16, "Saldo vencido": 16})
    return Sheet("Resumen", cells=cells, tables=[table])
