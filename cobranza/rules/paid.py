"""Paid up to day t: the one rule for what the Pagos rows cover (SPEC "Rules", Saldo).

A payment counts for its Factura, from its Fecha on: on day t an invoice has been paid
the exact total (int64 minor units) of the payments to its Factura dated on or before t.
A payment dated after t does not count yet; a payment to a Factura no invoice has counts
for nothing. Saldo at t = Importe − paid_until(t). Every rule that needs "paid by some
day" (Saldo and Estatus, the invoices a blank-Factura gestión touches, Tablero's
receivables and kept promises) asks a `Paid` index: `Book.paid` for book.invoices' rows,
`paid_until` for any other list of Facturas.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cobranza.book.positions import first_rows, key_codes


class Paid:
    """The payments of `payments` to the Facturas of `invoice`, sorted once.

    Each payment and each question becomes the integer key (Factura, day); the running
    sums of the sorted payment keys answer every question with two binary searches (where
    its Factura's payments start, and where its day ends). Built once per Book
    (`Book.paid`), the text hashing and the sort are paid once for all the rules' days.
    """

    def __init__(self, codes: np.ndarray, paid_to: np.ndarray, payments: pd.DataFrame
                 ) -> None:
        """`codes`: per invoice row, its Factura's number; `paid_to`: per payment, the
        number of its Factura, -1 when no invoice has it (`key_codes`)."""
        self.codes = codes.astype("int64")
        # per payment: the first invoice row with its Factura, -1 when none has it
        self.rows = first_rows(codes, paid_to)
        dates = _days(payments["date"], len(payments))
        kept = (paid_to >= 0) & ~np.isnat(dates)
        dated = dates.astype("int64")
        # day offsets 1..span-1 from the first payment's day: 0 stands for "before them all"
        self.first = int(dated[kept].min()) - 1 if kept.any() else 0
        self.span = int(dated[kept].max()) - self.first + 1 if kept.any() else 1
        keys = paid_to[kept].astype("int64") * self.span + (dated[kept] - self.first)
        order = np.argsort(keys, kind="stable")
        self.keys = keys[order]
        amounts = payments["amount"].to_numpy(dtype="int64")[kept][order]
        self.running = np.concatenate([[0], np.cumsum(amounts)])
        # per invoice row: where its Factura's payments start (the same for every day)
        self.begin = np.searchsorted(self.keys, self.codes * self.span, "left")

    def until(self, day: pd.Timestamp | pd.Series, rows: np.ndarray | None = None
              ) -> np.ndarray:
        """Per row of `invoice` (or per entry of `rows`, positions in it): the total of
        the payments to its Factura dated on or before `day`, one day for all entries or
        one per entry (int64 minor units; 0 for a blank day)."""
        if rows is None:
            codes, begin = self.codes, self.begin
        else:
            rows = np.asarray(rows, dtype="int64")
            codes, begin = self.codes[rows], self.begin[rows]
        when = _days(day, len(codes))
        asked = ~np.isnat(when)
        at = np.where(asked, when.astype("int64"), self.first)
        offset = np.clip(at - self.first, 0, self.span - 1)
        upto = np.searchsorted(self.keys, codes * self.span + offset, "right")
        return np.where(asked, self.running[upto] - self.running[begin], 0)


def paid_until(invoice: pd.Series, day: pd.Timestamp | pd.Series,
               payments: pd.DataFrame) -> np.ndarray:
    """Per entry of `invoice` (Factura codes): the total of the payments to it dated on
    or before `day`, one day for all entries or one per entry (int64 minor units; 0 for
    a blank day)."""
    codes, (paid_to,) = key_codes(invoice, payments["invoice"])
    return Paid(codes, paid_to, payments).until(day)


def _days(values: pd.Timestamp | pd.Series, n: int) -> np.ndarray:
    """A date, or a column of dates, as `n` calendar days (datetime64[D]; NaT kept)."""
    if np.ndim(values):
        days = pd.Series(values).to_numpy(dtype="datetime64[ns]")
    else:
        days = np.full(n, pd.Timestamp(values).to_datetime64(), dtype="datetime64[ns]")
    return days.astype("datetime64[D]")
