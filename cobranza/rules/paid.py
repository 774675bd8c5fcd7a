"""Paid up to day t: the one rule for what the Pagos rows cover (SPEC "Rules", Saldo).

A payment counts for its Factura, from its Fecha on: on day t an invoice has been paid
the exact total (int64 minor units) of the payments to its Factura dated on or before t.
A payment dated after t does not count yet; a payment to a Factura no invoice has counts
for nothing. Saldo at t = Importe − paid_until(t). Every rule that needs "paid by some
day" (Saldo and Estatus, the invoices a blank-Factura gestión touches, Tablero's
receivables and kept promises) calls `paid_until`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def paid_until(invoice: pd.Series, day: pd.Timestamp | pd.Series,
               payments: pd.DataFrame) -> np.ndarray:
    """Per entry of `invoice` (Factura codes): the total of the payments to it dated on
    or before `day`, one day for all entries or one per entry (int64 minor units; 0 for
    a blank day).

    One pass, exact: each payment and each question becomes the integer key (Factura,
    day); the running sums of the sorted payment keys answer every question with two
    binary searches (where its Factura's payments start, and where its day ends).
    """
    n = len(invoice)
    when = _days(day, n)
    dated = _days(payments["date"], len(payments))
    if np.isnat(dated).any():  # a payment without Fecha counts on no day
        payments, dated = payments[~np.isnat(dated)], dated[~np.isnat(dated)]
    asked = ~np.isnat(when)
    if not asked.any() or not len(dated):
        return np.zeros(n, dtype="int64")
    codes = pd.factorize(np.concatenate([invoice.to_numpy(dtype=object),
                                         payments["invoice"].to_numpy(dtype=object)]))[0]
    days = np.concatenate([when[asked], dated]).astype("int64")
    first, span = days.min(), days.max() - days.min() + 1
    keys = codes[n:].astype("int64") * span + (dated.astype("int64") - first)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    running = np.concatenate([[0], np.cumsum(payments["amount"].to_numpy(dtype="int64")[order])])
    factura = codes[:n].astype("int64") * span
    until = np.where(asked, when.astype("int64"), first) - first
    upto = np.searchsorted(keys, factura + until, "right")
    start = np.searchsorted(keys, factura, "left")
    return np.where(asked, running[upto] - running[start], 0)


def _days(values: pd.Timestamp | pd.Series, n: int) -> np.ndarray:
    """A date, or a column of dates, as `n` calendar days (datetime64[D]; NaT kept)."""
    if np.ndim(values):
        days = pd.Series(values).to_numpy(dtype="datetime64[ns]")
    else:
        days = np.full(n, pd.Timestamp(values).to_datetime64(), dtype="datetime64[ns]")
    return days.astype("datetime64[D]")
