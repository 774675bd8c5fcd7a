"""The next automatic notice of each invoice (the PROXIMO_AVISO UDF), over whole columns.

Invoice chains only (the monthly statement is per customer): for each active Avisos
stage whose chain applies to the invoice's status, its date is anchor + Días; the next
notice is the earliest such date on or after as_of, ties going to the smaller code. The
planner (`cobranza.notices.planner`) decides what actually goes out; this only looks ahead.

One pass per stage over integer arrays (a running minimum of (date, code rank)) instead
of a frame per stage that is concatenated, sorted and deduplicated.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from cobranza.book.records import Book
from cobranza.notices.stages import CHAIN_BY_NAME, stage_table

_NONE = np.iinfo(np.int64).max  # "no notice ahead" as a date, later than any real one


def next_stages(book: Book, invoices: pd.DataFrame, as_of: date
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per invoice row: the next notice's date (datetime64[ns], NaT when none) and the
    position of its code in `codes` (-1 when none); and `codes`, the stage codes sorted."""
    stages = stage_table(book.notices)
    stages = stages[[bool(CHAIN_BY_NAME[c].anchor) for c in stages["chain"]]]
    codes = sorted(set(stages["code"]))
    rank = {code: i for i, code in enumerate(codes)}
    n = len(invoices)
    best = np.full(n, _NONE, dtype=np.int64)
    best_rank = np.full(n, -1, dtype=np.int64)
    status, statuses = pd.factorize(invoices["status"].to_numpy(dtype=object))
    start = pd.Timestamp(as_of).as_unit("ns").value
    anchors: dict[str, np.ndarray] = {}
    for st in stages.itertuples(index=False):
        rule = CHAIN_BY_NAME[st.chain]
        if rule.anchor not in anchors:
            anchors[rule.anchor] = invoices[rule.anchor].to_numpy(dtype="datetime64[ns]")
        anchor = anchors[rule.anchor]
        when = (anchor + np.timedelta64(int(st.days), "D")).view("int64")
        applies = np.isin(status, pd.Index(statuses).get_indexer(list(rule.statuses)))
        ok = applies & ~np.isnat(anchor) & (when >= start)
        r = rank[st.code]
        better = ok & ((when < best) | ((when == best) & (r < best_rank)))
        best[better] = when[better]
        best_rank[better] = r
    found = best_rank >= 0
    dates = np.where(found, best, np.datetime64("NaT", "ns").view("int64")).view("datetime64[ns]")
    return dates, np.where(found, best_rank, -1), np.array(codes, dtype=object)


def next_notice_text(book: Book, invoices: pd.DataFrame, as_of: date) -> np.ndarray:
    """Per invoice row: "CÓDIGO dd/mm/aaaa" of its next notice, "" when none is ahead.

    Each distinct (code, date) is formatted once: a few hundred, not one per invoice.
    """
    dates, ranks, codes = next_stages(book, invoices, as_of)
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
    return texts[inverse.reshape(-1)]
