"""Which invoices the Cartera sheet lists: every one with a balance or recent activity.

Pure: records and an as-of date in, a row mask out (whole columns, no per-row Python).
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from cobranza.book.records import Book

# Activity: a payment on the invoice, or a gestión that names it, dated in the
# ACTIVITY_DAYS days that end on the cut-off (the cut-off included).
ACTIVITY_DAYS = 30


def recent_invoices(book: Book, as_of: date) -> set[str]:
    """Facturas with a payment or a gestión dated in the last ACTIVITY_DAYS days."""
    last = pd.Timestamp(as_of)
    first = last - timedelta(days=ACTIVITY_DAYS - 1)
    out: set[str] = set()
    for frame in (book.payments, book.contacts):
        dates = frame["date"]
        recent = ((dates >= first) & (dates <= last)).to_numpy()
        out.update(frame["invoice"].to_numpy(dtype=object)[recent].tolist())
    out.discard("")
    return out


def portfolio_mask(book: Book, invoices: pd.DataFrame, as_of: date) -> np.ndarray:
    """Per row of `invoices` (compute_invoices' frame): listed on Cartera? A balance other
    than zero (a credit balance too), or activity (`recent_invoices`)."""
    balance = invoices["balance"].to_numpy(dtype="int64") != 0
    active = invoices["invoice"].isin(recent_invoices(book, as_of)).to_numpy()
    return balance | active
