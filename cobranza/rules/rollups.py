"""Shared intermediates for alerts, agenda and KPIs over a compute_invoices frame.

At 100 000+ invoices the cost is in text: hashing and sorting str columns, and building
one detail string per row. So text keys become integer codes once per call, numbered in
text order (grouping or sorting by the codes gives the order the text would), and detail
texts are formatted once per distinct input and spread back to the rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cached_property

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from cobranza.book.records import Book
from cobranza.vocabulary import Status

ArrayLike = np.ndarray | ExtensionArray

# Statuses whose invoices no longer count as receivable (written off).


def text_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes 0..k-1 numbered in text order, and the k distinct values (text columns never
    hold NaN). Python string order, the order pandas sorts text in."""
    # An object ndarray factorizes about 3x faster than the str extension array.
    codes, uniques = pd.factorize(values.to_numpy(dtype=object), sort=True)
    return codes, pd.Index(uniques, dtype="str")


def stable_order(codes: np.ndarray, k: int) -> np.ndarray:
    """Positions sorted by `codes` (each in 0..k-1), equal codes in row order."""
    # numpy sorts 8/16-bit integers stably by radix, ~10x faster than int64.
    return np.argsort(codes.astype(np.min_scalar_type(max(k - 1, 0))), kind="stable")


def code_in(codes: np.ndarray, uniques: pd.Index, values: Sequence[str]) -> np.ndarray:
    """Boolean mask of the rows whose coded value is one of `values`."""
    wanted = uniques.get_indexer(list(values))
    return np.isin(codes, wanted[wanted >= 0])


def kept_codes(codes: np.ndarray, texts: np.ndarray | pd.Index,
               used: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | pd.Index]:
    """`codes` (positions in `texts`) renumbered to the texts some row (of the mask `used`)
    names, in their order: the new number of each old code, and those texts."""
    present = np.bincount(codes if used is None else codes[used], minlength=len(texts)) > 0
    return np.cumsum(present) - 1, texts[present]


def run_starts(sorted_keys: np.ndarray) -> np.ndarray:
    """Start position of each run of equal values in `sorted_keys`."""
    if len(sorted_keys) == 0:
        return np.zeros(0, dtype=np.intp)
    return np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])


def group_reduce(ufunc: np.ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """`ufunc` over each run values[starts[i]:starts[i+1]] (exact for int64 sums)."""
    return ufunc.reduceat(values, starts) if len(starts) else values[:0]


def group_sum(codes: np.ndarray, k: int, values: np.ndarray) -> np.ndarray:
    """Exact int64 sum of `values` per code 0..k-1 (0 for codes without rows)."""
    out = np.zeros(k, dtype="int64")
    np.add.at(out, codes, values.astype("int64", copy=False))
    return out


def distinct_rows(*columns: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the number of its distinct (columns) tuple; and the first row of each.

    NaN/NaT is a value of its own."""
    key = np.zeros(len(columns[0]), dtype="int64")
    for column in columns:
        codes, uniques = pd.factorize(column, use_na_sentinel=False)
        key = pd.factorize(key * len(uniques) + codes)[0] if len(columns) > 1 else codes
    # factorize numbers values in order of first appearance: a row is a first one when
    # its code exceeds every earlier code (no sort needed).
    seen = np.maximum.accumulate(key)
    return key, np.flatnonzero(np.r_[len(key) > 0, key[1:] > seen[:-1]])


def per_distinct(fmt: Callable[..., pd.Series | np.ndarray], *columns: pd.Series) -> pd.Series:
    """`fmt(*columns)` as a str Series, evaluated on the distinct rows of `columns` only.

    `fmt` must work element by element (concatenation, strftime, np.where). Detail texts
    repeat a lot (a few hundred distinct days or dates), so each is formatted once.
    """
    codes, first = distinct_rows(*columns)
    distinct = fmt(*(c.iloc[first] for c in columns))
    texts = pd.array(np.asarray(distinct, dtype=object), dtype="str")
    return pd.Series(texts.take(codes), index=columns[0].index)


def constant_text(value: str, index: pd.Index) -> pd.Series:
    """A str column holding `value` on every row of `index`."""
    return pd.Series(pd.array([value], dtype="str").take(np.zeros(len(index), np.intp)), index)


def _group_max(values: pd.Series, keys: np.ndarray, starts: np.ndarray) -> ArrayLike:
    """Max per run of equal sorted `keys` (runs start at `starts`)."""
    if values.dtype == "int64":
        return group_reduce(np.maximum, values.to_numpy(), starts)
    return values.groupby(keys, sort=True).max().array  # Int64 with <NA>: pandas skips NA


class InvoiceRollups:
    """Facts about one compute_invoices frame, each computed once, on first use.

    Positions are row positions in `invoices` (its index is never used).
    """

    def __init__(self, book: Book, invoices: pd.DataFrame) -> None:
        self.book = book
        self.invoices = invoices

    @cached_property
    def is_open(self) -> np.ndarray:
        """Still receivable: balance > 0 and not written off."""
        return (self.invoices["balance"].to_numpy() > 0) & ~self.has_status(Status.WRITTEN_OFF)

    @cached_property
    def _status(self) -> tuple[np.ndarray, pd.Index]:
        codes, uniques = pd.factorize(self.invoices["status"].to_numpy(dtype=object))
        return codes, pd.Index(uniques)

    def has_status(self, *statuses: str) -> np.ndarray:
        """Boolean mask of the invoices whose status is one of `statuses`."""
        return code_in(*self._status, statuses)

    def has_currency(self, currency: str) -> np.ndarray:
        return code_in(*self.currency_codes, [currency])

    @cached_property
    def customer_codes(self) -> tuple[np.ndarray, pd.Index]:
        return text_codes(self.invoices["customer"])

    @cached_property
    def collector_codes(self) -> tuple[np.ndarray, pd.Index]:
        return text_codes(self.invoices["collector"])

    @cached_property
    def currency_codes(self) -> tuple[np.ndarray, pd.Index]:
        return text_codes(self.invoices["currency"])

    @cached_property
    def _pair_codes(self) -> np.ndarray:
        """Per invoice: one int per (customer, currency), in text-pair order."""
        customer, _ = self.customer_codes
        currency, currencies = self.currency_codes
        return customer.astype("int64") * len(currencies) + currency

    @cached_property
    def _by_currency(self) -> np.ndarray:
        """Row positions sorted by currency, ties in row order (the last key of both
        orders below)."""
        currency, currencies = self.currency_codes
        return stable_order(currency, len(currencies))

    @cached_property
    def _by_pair(self) -> np.ndarray:
        """Positions sorted by (customer, currency) pair, ties in row order: by currency,
        then by customer, two radix sorts of small codes (pair codes past 65 536, 50 000
        customers in 3 currencies, would sort by timsort, several times slower)."""
        customer, customers = self.customer_codes
        order = self._by_currency
        return order[stable_order(customer[order], len(customers))]

    @cached_property
    def order(self) -> np.ndarray:
        """Row positions sorted by customer, invoice, currency, ties in row order.

        Stable sorts from the last key to the first; invoices compare as Python strings.
        """
        order = self._by_currency
        ids = self.invoices["invoice"].to_numpy(dtype=object)[order]
        order = order[np.argsort(ids, kind="stable")]
        customer, customers = self.customer_codes
        return order[stable_order(customer[order], len(customers))]

    def sorted_positions(self, mask: np.ndarray) -> np.ndarray:
        """Positions of the invoices in `mask`, sorted by customer, invoice, currency."""
        return self.order[mask[self.order]]

    def per_customer(self, mask: np.ndarray) -> pd.DataFrame:
        """Invoices in `mask` rolled up per customer and currency, in text order: customer,
        currency, name, collector (of the first row), balance (sum), count, days (max)."""
        return self._per_customer(mask)[0]

    def _per_customer(self, mask: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        """`per_customer`, and the position of each group's first row."""
        pos = self._by_pair[mask[self._by_pair]]  # grouped, each group in row order
        keys = self._pair_codes[pos]
        starts = run_starts(keys)
        inv = self.invoices
        head = inv[["customer", "currency", "name", "collector"]].take(pos[starts])
        return head.reset_index(drop=True).assign(
            balance=group_reduce(np.add, inv["balance"].to_numpy()[pos], starts),
            count=np.diff(np.r_[starts, len(pos)]).astype("int64"),
            days=_group_max(inv["days_overdue"].take(pos), keys, starts),
        ), pos[starts]
