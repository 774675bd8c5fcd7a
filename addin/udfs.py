"""The workbook's Python UDFs (xlwings `@xw.func`), thin faces of the sync's own rules.

Each UDF takes one value or a whole column (Excel passes a 2-D list because of
`ndim=2`) and returns the same shape, so `=SALDO(tblFacturas[Factura])` is one call
that spills. The work is done by plain functions `core(values, book, as_of) -> values`
(`dias_vencidos`, `tramo_mora`, `saldo`, `estatus_cobro`, `proximo_aviso`,
`uso_credito`) that know nothing about Excel; the decorated functions only parse
`fecha_corte`, find the caller's workbook and turn any failure into a Spanish error
text (a cell never shows a traceback). `proximo_aviso` also takes `sent`, the keys the
workbook's ledger holds as final: the edge reads them read-only (`sync.ledger.identity.
sent_keys`, the sync's own location rule; no ledger, nothing sent), once per
recalculation like the Book.

No UDF is volatile (a volatile UDF runs on every edit of any cell). The template's
Facturas formula columns read ONE call per recalculation, `CALCULO_FACTURAS` on the
hidden sheet `_calc`, which spills the five columns of every invoice; its arguments name
every table it depends on (passed as ranges, never copied), so Excel recalculates it when
an invoice, payment, gestión, customer or setting changes, and the cut-off date is the
named cell `FechaCorte` (set to today by the add-in when the workbook opens). A whole
recalculation reads the workbook once: the `Book` is cached per workbook for
`BOOK_TTL` seconds and the computed invoices per (Book, fecha_corte).
On Linux/macOS the xlwings decorators only return the function, so this imports anywhere.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlwings as xw

from cobranza.book.money import to_major
from cobranza.book.parse import parse_dates, to_text
from cobranza.book.records import Book
from cobranza.notices.upcoming import next_notice_text
from cobranza.rules.alerts import credit_usage
from cobranza.rules.invoices import bucket_of, compute_invoices, days_overdue
from sync.errors import CobranzaError
from sync.memory import gc_paused

log = logging.getLogger("cobranza.udfs")

ERR_DATE = "#¡Fecha inválida: use dd/mm/aaaa!"
ERR_INVOICE = "#¡Factura no encontrada!"
ERR_CUSTOMER = "#¡Cliente no encontrado!"
ERR_NO_LIMIT = "#¡El cliente no tiene Límite de crédito!"
ERR_INTERNAL = "#¡Error interno de Cobranza: avise a soporte!"

# Seconds a workbook read is reused by the other UDF calls of a recalculation, counted
# from when the read finished: a read slower than this must still serve the calls after it.
BOOK_TTL = 2.0

Values = Any  # a scalar, a list (one row) or a list of rows
Core = Callable[..., Values]  # (values, book, as_of, **edge) -> values


# --- shapes ----------------------------------------------------------------------------


def _cells(values: Values) -> tuple[pd.Series, Callable[[list], Values]]:
    """Flatten a scalar / row / 2-D list into one object column, and how to restore it."""
    if isinstance(values, (list, tuple)):
        if values and isinstance(values[0], (list, tuple)):  # Excel's 2-D list (ndim=2)
            width = len(values[0])
            if width == 1:  # a column: the usual case, kept cheap
                return pd.Series([row[0] for row in values], dtype=object), _as_column
            flat = [v for row in values for v in row]
            return pd.Series(flat, dtype=object), lambda out: [
                out[i : i + width] for i in range(0, len(out), width)
            ]
        return pd.Series(list(values), dtype=object), lambda out: out
    return pd.Series([values], dtype=object), lambda out: out[0]


def _as_column(out: list) -> list[list]:
    """[a, b] -> [[a], [b]] (100 000 small lists: see sync.memory for the GC pause)."""
    with gc_paused():
        return [[v] for v in out]


def _fill(n: int, valid: np.ndarray, values: list, bad: np.ndarray, error: str) -> list:
    """"" everywhere, `values` where valid, `error` where bad; plain Python objects."""
    out = np.full(n, "", dtype=object)
    out[valid] = values
    out[bad] = error
    return out.tolist()


# --- the cores (no Excel) --------------------------------------------------------------


def dias_vencidos(values: Values, book: Book | None, as_of: date) -> Values:
    """Días vencidos of each Vencimiento (negative = days left); "" for a blank cell."""
    cells, restore = _cells(values)
    due, bad = parse_dates(cells)
    days = days_overdue(due, as_of)
    valid = days.notna().to_numpy()
    ints = days[valid].astype("int64").tolist()
    return restore(_fill(len(cells), valid, ints, bad.to_numpy(), ERR_DATE))


def tramo_mora(values: Values, book: Book | None, as_of: date) -> Values:
    """Tramo (Por vencer, 1-30, 31-60, 61-90, 91+) of each Vencimiento."""
    cells, restore = _cells(values)
    due, bad = parse_dates(cells)
    buckets = bucket_of(days_overdue(due, as_of))
    valid = (buckets != "").to_numpy()
    return restore(_fill(len(cells), valid, buckets[valid].tolist(), bad.to_numpy(), ERR_DATE))


_MEMO: dict[tuple[int, date], tuple[Book, pd.DataFrame, pd.Index]] = {}


def invoice_table(book: Book, as_of: date) -> pd.DataFrame:
    """compute_invoices(book, as_of), one row per Factura (first wins), memoized per book."""
    return _invoice_table(book, as_of)[0]


def _invoice_table(book: Book, as_of: date) -> tuple[pd.DataFrame, pd.Index]:
    """The memoized table and its Facturas as an object Index (hashed once, then every
    lookup of a recalculation reuses the hash table)."""
    key = (id(book), as_of)
    hit = _MEMO.get(key)
    if hit is not None and hit[0] is book:
        return hit[1], hit[2]
    inv = compute_invoices(book, as_of)
    inv["balance_major"] = to_major(inv["balance"], inv["currency"])
    ids = pd.Index(inv["invoice"].to_numpy(dtype=object), dtype=object)
    if not ids.is_unique:  # validation drops repeated Facturas; a Book from elsewhere may not
        inv = inv.drop_duplicates("invoice")
        ids = pd.Index(inv["invoice"].to_numpy(dtype=object), dtype=object)
    table = inv.set_index("invoice")
    if len(_MEMO) >= 8:
        _MEMO.clear()
    _MEMO[key] = (book, table, ids)
    return table, ids


def _lookup(values: Values, column: pd.Series, ids: pd.Index, missing: str) -> Values:
    """Map each key cell to `column` at its row of `ids`; "" for blank, `missing` else."""
    cells, restore = _cells(values)
    keys = to_text(cells).to_numpy(dtype=object)
    pos = ids.get_indexer(pd.Index(keys, dtype=object))  # an object target: no recasting
    data = column.to_numpy()
    found = data[np.where(pos >= 0, pos, 0)] if len(data) else np.full(len(keys), np.nan)
    blank = keys == ""
    known = (pos >= 0) & ~blank & pd.notna(found)
    return restore(_fill(len(cells), known, found[known].tolist(), ~known & ~blank, missing))


def saldo(values: Values, book: Book | None, as_of: date) -> Values:
    """Saldo of each Factura in major units of its currency (Importe − Pagos to as_of)."""
    table, ids = _invoice_table(_need(book), as_of)
    return _lookup(values, table["balance_major"], ids, ERR_INVOICE)


def estatus_cobro(values: Values, book: Book | None, as_of: date) -> Values:
    """Estatus of each Factura (the sync's status rule)."""
    table, ids = _invoice_table(_need(book), as_of)
    return _lookup(values, table["status"], ids, ERR_INVOICE)


_NEXT: dict[int, tuple[pd.DataFrame, frozenset[str], pd.Series]] = {}


def proximo_aviso(values: Values, book: Book | None, as_of: date,
                  sent: frozenset[str] = frozenset()) -> Values:
    """Next notice of each Factura as "CÓDIGO dd/mm/aaaa", "Sin avisos: ..." when it is
    excluded, "" when none is ahead. `sent`: the keys the workbook's ledger holds as final
    (what was sent or skipped is not next)."""
    table, ids = _invoice_table(_need(book), as_of)
    hit = _NEXT.get(id(table))
    if hit is None or hit[0] is not table or hit[1] is not sent:  # once per recalculation
        text = next_notice_text(book, table, as_of, sent)
        hit = (table, sent, pd.Series(text, index=table.index, dtype="str"))
        _NEXT.clear()
        _NEXT[id(table)] = hit
    return _lookup(values, hit[2], ids, ERR_INVOICE)


def uso_credito(values: Values, book: Book | None, as_of: date) -> Values:
    """Credit usage of each Cliente as a fraction (0.85 = 85 %)."""
    book = _need(book)
    usage = credit_usage(book, invoice_table(book, as_of))  # rollups use positions only
    cells, restore = _cells(values)
    keys = to_text(cells).to_numpy(dtype=object)
    names = pd.Index(usage.index.to_numpy(dtype=object), dtype=object)
    pos = names.get_indexer(pd.Index(keys, dtype=object))  # customers are unique
    known = pos >= 0
    found = usage.to_numpy(dtype="float64")[np.where(known, pos, 0)] if len(usage) else (
        np.full(len(keys), np.nan))
    has = known & ~np.isnan(found)
    out = _fill(len(cells), has, found[has].tolist(), known & ~has, ERR_NO_LIMIT)
    unknown = ~known & (keys != "")
    for i in np.flatnonzero(unknown):
        out[i] = ERR_CUSTOMER
    return restore(out)


def _need(book: Book | None) -> Book:
    if book is None:
        raise ValueError("this UDF needs the workbook")
    return book


def _gc_paused(core: Core) -> Core:
    """The core with the cyclic GC paused: a 100 000-row call allocates 100 000 small lists
    (and the Book holds millions of objects the GC would walk again and again)."""

    @functools.wraps(core)
    def paused(values: Values, book: Book | None, as_of: date, **edge: Any) -> Values:
        with gc_paused():
            return core(values, book, as_of, **edge)

    return paused


# The columns CALCULO_FACTURAS spills, in the order of the Facturas formula columns
# (addin.template.layout.CALC_COLUMNS reads them by this position).
CALC_COLUMNS = ("Saldo", "Días vencidos", "Estatus", "Tramo", "Próximo aviso")


def calculo_facturas(values: Values, book: Book | None, as_of: date,
                     sent: frozenset[str] = frozenset()) -> list[list]:
    """The five Facturas formula columns of every invoice, one row each: `values` is the
    pair (Factura column, Vencimiento column) as Excel passes them (2-D lists)."""
    facturas, vencimientos = values
    columns = (
        saldo(facturas, book, as_of),
        dias_vencidos(vencimientos, book, as_of),
        estatus_cobro(facturas, book, as_of),
        tramo_mora(vencimientos, book, as_of),
        proximo_aviso(facturas, book, as_of, sent),
    )
    with gc_paused():
        return [[c[i][0] for c in columns] for i in range(len(columns[0]))]


# Cores that also take what the workbook's ledger holds as final (`sent=`).
LEDGER_CORES = frozenset({"PROXIMO_AVISO", "CALCULO_FACTURAS"})
CORES: dict[str, Core] = {
    name: _gc_paused(core) for name, core in {
        "DIAS_VENCIDOS": dias_vencidos,
        "TRAMO_MORA": tramo_mora,
        "SALDO": saldo,
        "ESTATUS_COBRO": estatus_cobro,
        "PROXIMO_AVISO": proximo_aviso,
        "USO_CREDITO": uso_credito,
        "CALCULO_FACTURAS": calculo_facturas,
    }.items()
}


# --- the edge: arguments, the caller's workbook, errors as values ----------------------


def parse_cutoff(value: object, today: date) -> date | None:
    """fecha_corte: blank -> today; an Excel date, serial or dd/mm/aaaa text; None if bad."""
    parsed, bad = parse_dates(pd.Series([value], dtype=object))
    if bool(bad.iloc[0]):
        return None
    return today if pd.isna(parsed.iloc[0]) else parsed.iloc[0].date()


_BOOKS: dict[str, tuple[float, Book]] = {}
_SENT: dict[str, tuple[float, Book, frozenset[str]]] = {}


def cached_book(key: str, read: Callable[[], Book], clock: Callable[[], float]) -> Book:
    """The Book of workbook `key`, read again when the cached one is older than BOOK_TTL
    (its age counts from the end of the read, however long the read took)."""
    hit = _BOOKS.get(key)
    if hit is not None and clock() - hit[0] <= BOOK_TTL:
        return hit[1]
    book = read()
    _BOOKS[key] = (clock(), book)
    return book


def cached_sent(key: str, book: Book, read: Callable[[], frozenset[str]],
                clock: Callable[[], float]) -> frozenset[str]:
    """What the ledger of workbook `key` holds as final, read again with a new Book or
    when older than BOOK_TTL (one read per recalculation, like the Book)."""
    hit = _SENT.get(key)
    if hit is not None and hit[1] is book and clock() - hit[0] <= BOOK_TTL:
        return hit[2]
    sent = read()
    _SENT[key] = (clock(), book, sent)
    return sent


def clear_cache() -> None:
    """Forget every cached workbook (the ribbon calls this after it changes the book)."""
    _BOOKS.clear()
    _SENT.clear()
    _MEMO.clear()
    _NEXT.clear()


def _caller_book(caller: xw.Range) -> Book:
    from addin.book import ExcelBook

    xw_book = caller.sheet.book
    return cached_book(xw_book.fullname, lambda: ExcelBook(xw_book).read(), time.monotonic)


def _caller_sent(caller: xw.Range, book: Book) -> frozenset[str]:
    """The caller workbook's ledger, read-only (the same location rule as the sync)."""
    from sync.ledger.identity import sent_keys

    path = caller.sheet.book.fullname
    return cached_sent(path, book, lambda: sent_keys(Path(path), book), time.monotonic)


def run_udf(name: str, values: Values, fecha_corte: object, caller: xw.Range | None = None,
            today: date | None = None) -> Values:
    """Call core `name` the way Excel does: errors become a Spanish text, never raise."""
    try:
        as_of = parse_cutoff(fecha_corte, today or date.today())  # the clock, at the edge
        if as_of is None:
            return ERR_DATE
        book = None if caller is None else _caller_book(caller)
        edge = {"sent": _caller_sent(caller, book)} if (
            name in LEDGER_CORES and caller is not None) else {}
        return CORES[name](values, book, as_of, **edge)
    except CobranzaError as exc:
        return "#¡" + str(exc).rstrip(".") + "!"
    except Exception:
        log.exception("UDF %s failed", name)
        return ERR_INTERNAL


@xw.func(volatile=False)
@xw.arg("vencimiento", ndim=2, doc="Fecha de vencimiento, o toda la columna Vencimiento.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def DIAS_VENCIDOS(vencimiento, fecha_corte=None):
    """Días vencidos a la fecha de corte (negativo = días que faltan para vencer)."""
    return run_udf("DIAS_VENCIDOS", vencimiento, fecha_corte)


@xw.func(volatile=False)
@xw.arg("vencimiento", ndim=2, doc="Fecha de vencimiento, o toda la columna Vencimiento.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def TRAMO_MORA(vencimiento, fecha_corte=None):
    """Tramo de mora: Por vencer, 1-30, 31-60, 61-90 o 91+."""
    return run_udf("TRAMO_MORA", vencimiento, fecha_corte)


@xw.func(volatile=False)
@xw.arg("factura", ndim=2, doc="Número de factura, o toda la columna Factura.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def SALDO(caller, factura, fecha_corte=None):
    """Saldo de la factura: Importe menos los pagos registrados en Pagos."""
    return run_udf("SALDO", factura, fecha_corte, caller)


@xw.func(volatile=False)
@xw.arg("factura", ndim=2, doc="Número de factura, o toda la columna Factura.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def ESTATUS_COBRO(caller, factura, fecha_corte=None):
    """Estatus de cobro de la factura (Vencida, Promesa de pago, Disputa, Pagada...)."""
    return run_udf("ESTATUS_COBRO", factura, fecha_corte, caller)


@xw.func(volatile=False)
@xw.arg("factura", ndim=2, doc="Número de factura, o toda la columna Factura.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def PROXIMO_AVISO(caller, factura, fecha_corte=None):
    """Próximo aviso automático de la factura: código y fecha."""
    return run_udf("PROXIMO_AVISO", factura, fecha_corte, caller)


@xw.func(volatile=False)
@xw.arg("cliente", ndim=2, doc="Clave del cliente, o toda la columna Cliente.")
@xw.arg("fecha_corte", doc="Fecha de corte (opcional; hoy si se omite).")
def USO_CREDITO(caller, cliente, fecha_corte=None):
    """Saldo abierto del cliente dividido entre su Límite de crédito (0.85 = 85 %)."""
    return run_udf("USO_CREDITO", cliente, fecha_corte, caller)


@xw.func(volatile=False)
@xw.arg("factura", ndim=2, doc="La columna Factura: tblFacturas[Factura].")
@xw.arg("vencimiento", ndim=2, doc="La columna Vencimiento: tblFacturas[Vencimiento].")
@xw.arg("fecha_corte", doc="Fecha de corte: FechaCorte (hoy si está en blanco).")
@xw.arg("clientes", xw.Range, doc="tblClientes (para recalcular cuando cambia).")
@xw.arg("pagos", xw.Range, doc="tblPagos (para recalcular cuando cambia).")
@xw.arg("gestiones", xw.Range, doc="tblGestiones (para recalcular cuando cambia).")
@xw.arg("parametros", xw.Range, doc="tblParametros (para recalcular cuando cambia).")
@xw.arg("avisos", xw.Range, doc="tblAvisos (para recalcular cuando cambia).")
@xw.arg("convenios", xw.Range, doc="tblConvenios (para recalcular cuando cambia).")
def CALCULO_FACTURAS(caller, factura, vencimiento, fecha_corte=None, clientes=None,
                     pagos=None, gestiones=None, parametros=None, avisos=None, convenios=None):
    """Saldo, Días vencidos, Estatus, Tramo y Próximo aviso de todas las facturas."""
    # dependencies only: the Book has them (a workbook from before Convenios passes none)
    del clientes, pagos, gestiones, parametros, avisos, convenios
    return run_udf("CALCULO_FACTURAS", (factura, vencimiento), fecha_corte, caller)
