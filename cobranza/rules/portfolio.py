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


def recent_rows(book: Book, as_of: date) -> np.ndarray:
    """Per row of book.invoices: a payment or a gestión naming its Factura dated in the
    last ACTIVITY_DAYS days?"""
    last = pd.Timestamp(as_of)
    first = last - timedelta(days=ACTIVITY_DAYS - 1)
    out = np.zeros(len(book.invoices), dtype=bool)
    # each payment's and gestión's invoice row (-1: blank or unknown Factura)
    for frame, rows in ((book.payments, book.paid.rows), (book.contacts, book.contact_rows)):
        dates = frame["date"]
        recent = ((dates >= first) & (dates <= last)).to_numpy() & (rows >= 0)
        out[rows[recent]] = True
    return out


def portfolio_mask(book: Book, invoices: pd.DataFrame, as_of: date) -> np.ndarray:
    """Per row of `invoices` (compute_invoices' frame, book.invoices' rows): listed on
    Cartera? A balance other than zero (a credit balance too), or activity
    (`recent_rows`)."""
    balance = invoices["balance"].to_numpy(dtype="int64") != 0
    return balance | recent_rows(book, as_of)
