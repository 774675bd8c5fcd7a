"""The next automatic notice of each invoice (the PROXIMO_AVISO UDF), over whole columns.

What the planner (`cobranza.notices.planner`) would do next for the invoice, by day:

* nothing, and why, when the invoice's Estatus or its customer is excluded: "Sin avisos:
  en disputa", "Sin avisos: segmento VIP" (the exclusion as Envíos words it);
* else the earliest stage of its chains (invoice chains only: the monthly statement is
  per customer) that the ledger does not hold as final (`sent`: sent, omitted, uncertain)
  and that is still meaningful on as_of. A stage whose date passed but whose window is
  still open goes at the next sync: it is shown with as_of. Ties go to the smaller code.
* "" when nothing is ahead (paid, or the end of its chains).

One pass per stage over integer arrays (a running minimum of (date, code rank)) instead
of a frame per stage that is concatenated, sorted and deduplicated.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.positions import first_positions
from cobranza.book.records import Book
from cobranza.layout.wording import no_notices_text
from cobranza.notices.customers import exclusion
from cobranza.notices.messages import notice_key_heads, notice_key_tail
from cobranza.notices.planner import is_final
from cobranza.notices.stages import CHAIN_BY_NAME, stage_table
from cobranza.rules.rollups import code_in, distinct_rows
from cobranza.vocabulary import Reason, ReasonCode, Status, reason

_NONE = np.iinfo(np.int64).max  # "no notice ahead" as a date, later than any real one
_DAY = 86_400 * 10**9  # one day in nanoseconds
# Estatus that get no automatic notice at all (Pagada: nothing is left to ask for).
EXCLUDED_STATUSES: dict[str, Reason] = {
    Status.DISPUTED: reason(ReasonCode.IN_DISPUTE),
    Status.PAYMENT_REPORTED: reason(ReasonCode.PAYMENT_REPORTED),
    Status.THIRD_PARTY: reason(ReasonCode.THIRD_PARTY),
    Status.WRITTEN_OFF: reason(ReasonCode.WRITTEN_OFF),
    Status.PLAN: reason(ReasonCode.IN_PLAN),
}


StatusCodes = tuple[np.ndarray, np.ndarray]


def status_codes(invoices: pd.DataFrame) -> StatusCodes:
    """The invoices' Estatus factorized (codes, distinct values): once for
    `next_notice_text`, whose two halves both read it."""
    return pd.factorize(invoices["status"].to_numpy(dtype=object))


def next_stages(book: Book, invoices: pd.DataFrame, as_of: date, sent: frozenset[str],
                status: StatusCodes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per invoice row (`invoices`: compute_invoices' frame indexed by Factura): the next
    notice's date (datetime64[ns], NaT when none) and the position of its code in
    `codes` (-1 when none); and `codes`, the stage codes sorted. `sent`: ledger keys in a
    final state; `status`: `status_codes(invoices)`."""
    stages = stage_table(book.notices)
    stages = stages[[bool(CHAIN_BY_NAME[c].anchor) for c in stages["chain"]]]
    codes = sorted(set(stages["code"]))
    rank = {code: i for i, code in enumerate(codes)}
    n = len(invoices)
    best = np.full(n, _NONE, dtype=np.int64)
    best_rank = np.full(n, -1, dtype=np.int64)
    status, statuses = status
    start = pd.Timestamp(as_of).as_unit("ns").value
    heads = _key_heads(invoices) if sent else None
    anchors: dict[str, np.ndarray] = {}
    chains: dict[str, np.ndarray] = {}  # per chain: its statuses and anchor date (stages share)
    for st in stages.itertuples(index=False):
        rule = CHAIN_BY_NAME[st.chain]
        if rule.anchor not in anchors:
            anchors[rule.anchor] = invoices[rule.anchor].to_numpy(dtype="datetime64[ns]")
        anchor = anchors[rule.anchor]
        if rule.name not in chains:
            applies = code_in(status, pd.Index(statuses), rule.statuses)
            chains[rule.name] = applies & ~np.isnat(anchor)
        when = (anchor + np.timedelta64(int(st.days), "D")).view("int64")
        end = when + (int(st.end_offset) - int(st.days)) * _DAY  # last meaningful day
        ok = chains[rule.name] & (end >= start)
        if heads is not None:
            ok[ok] = ~_in_ledger(heads, anchor, ok, st.code, rule.per_anchor, sent)
        shown = np.maximum(when, start)  # due already and still meaningful: the next sync
        r = rank[st.code]
        better = ok & ((shown < best) | ((shown == best) & (r < best_rank)))
        best[better] = shown[better]
        best_rank[better] = r
    found = best_rank >= 0
    dates = np.where(found, best, np.datetime64("NaT", "ns").view("int64")).view("datetime64[ns]")
    return dates, np.where(found, best_rank, -1), np.array(codes, dtype=object)


def _key_heads(invoices: pd.DataFrame) -> np.ndarray:
    """Ledger key heads ("aviso|C1|F1|") of every invoice row."""
    return notice_key_heads(invoices["customer"].to_numpy(dtype=object),
                            invoices.index.to_numpy(dtype=object))


def _in_ledger(heads: np.ndarray, anchor: np.ndarray, rows: np.ndarray, code: str,
               per_anchor: bool, sent: frozenset[str]) -> np.ndarray:
    """For the invoice rows `rows` (mask): is this stage's ledger key final?"""
    day = ""
    if per_anchor:  # the key carries the chain's anchor date (promise, gestión)
        day = np.datetime_as_string(anchor[rows], unit="D").astype(object)
    return is_final(heads[rows] + notice_key_tail(code, day), sent)


def exclusions(book: Book, invoices: pd.DataFrame, customer_rows: np.ndarray | None,
               status: StatusCodes) -> tuple[np.ndarray, list[Reason | None]]:
    """Per invoice row: why it gets no automatic notice, as a code into the returned
    distinct reasons (a Reason, or None: no exclusion). The invoice's Estatus first, then
    its customer (Avisos automáticos, Segmento). Codes, not Reasons per row: a Reason
    hashes in Python, and a few distinct ones are worded once.
    `customer_rows`: per invoice row, the first customers row of its Cliente, -1 for none
    (`Book.customer_rows`; None: looked up by Cliente here); `status`: as in
    `next_stages`."""
    status_of, values = status
    by_status = [EXCLUDED_STATUSES.get(v) for v in values.tolist()]
    customers = book.customers  # a Cliente's first row decides, as drop_duplicates keeps
    if customer_rows is None:
        customer_rows = first_positions(customers["customer"], invoices["customer"])[0]
    # a customer's exclusion depends on its (Avisos automáticos, Segmento) pair alone
    kinds, first = distinct_rows(customers["auto_notices"], customers["segment"])
    by_kind = [exclusion(auto, str(segment), book.config) for auto, segment in zip(
        customers["auto_notices"].to_numpy(dtype=object)[first],
        customers["segment"].to_numpy(dtype=object)[first], strict=True)]
    reasons = [*by_status, *by_kind, None]
    none = len(reasons) - 1
    # Estatus without an exclusion and a blank Estatus (code -1) pick the trailing None
    out = np.array([i if r is not None else none for i, r in enumerate(by_status)] + [none],
                   dtype=np.int64)[status_of]
    # customer row -1 (not in Clientes) picks the trailing None too
    of_customer = np.append(kinds + len(by_status), none)[customer_rows]
    open_ = (invoices["balance"] > 0).to_numpy()
    unexcluded = out == none
    out[open_ & unexcluded] = of_customer[open_ & unexcluded]
    return out, reasons


def next_notice_text(book: Book, invoices: pd.DataFrame, as_of: date,
                     sent: frozenset[str] = frozenset(),
                     customer_rows: np.ndarray | None = None) -> np.ndarray:
    """Per invoice row: "CÓDIGO dd/mm/aaaa" of its next notice, "Sin avisos: ..." when
    it is excluded, "" when none is ahead (`invoices` indexed by Factura, `sent` as in
    `next_stages`, `customer_rows` as in `exclusions`).

    Each distinct (code, date) and reason is worded once: a few hundred, not one per
    invoice.
    """
    status = status_codes(invoices)
    dates, ranks, codes = next_stages(book, invoices, as_of, sent, status)
    days = dates.astype("datetime64[D]").view("int64")  # record dates are midnights
    key = np.where(ranks >= 0, days * (len(codes) + 1) + ranks, -1)
    distinct, inverse = np.unique(key, return_inverse=True)
    texts = np.empty(len(distinct), dtype=object)
    for i, k in enumerate(distinct.tolist()):
        if k < 0:
            texts[i] = ""
            continue
        day, r = divmod(k, len(codes) + 1)
        texts[i] = f"{codes[r]} {np.datetime64(day, 'D').item():%d/%m/%Y}"
    out = texts[inverse.reshape(-1)]
    why, reasons = exclusions(book, invoices, customer_rows, status)
    worded = np.array([None if r is None else no_notices_text(r) for r in reasons],
                      dtype=object)
    excluded = np.flatnonzero(pd.notna(worded)[why])
    out[excluded] = worded[why[excluded]]
    return out
