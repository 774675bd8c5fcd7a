"""Row positions of key values (Factura, Cliente) by hashing: integer positions make every
later lookup and groupby a fast numeric one, with no string sorting."""

from __future__ import annotations

import numpy as np
import pandas as pd


def first_occurrence(codes: np.ndarray, size: int) -> np.ndarray:
    """For each factorized code 0..size-1, the position of its first occurrence (-1 if
    none)."""
    first = np.full(size, -1, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes))[::-1]  # with repeats numpy keeps the last write
    return first


def key_codes(table_keys: pd.Series, *keys: pd.Series) -> tuple[np.ndarray, list[np.ndarray]]:
    """One hash pass over all of them: the table's keys numbered 0..k-1 (in order of
    first row), and per entry of each of `keys` the number of its value (-1 when the
    table lacks it)."""
    codes, wanted, _ = key_numbering(table_keys.to_numpy(dtype=object),
                                     *(k.to_numpy(dtype=object) for k in keys))
    return codes, wanted


def key_numbering(table_keys: np.ndarray, *keys: np.ndarray
                  ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """`key_codes` of object arrays, and the table's distinct keys (by number)."""
    n = len(table_keys)
    codes, uniques = pd.factorize(np.concatenate([table_keys, *keys]))
    k = int(codes[:n].max(initial=-1)) + 1  # numbered in order: the table's come first
    wanted = np.where(codes[n:] < k, codes[n:], -1)
    return codes[:n], np.split(wanted, np.cumsum([len(x) for x in keys])[:-1]), uniques[:k]


def first_rows(table: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Per entry of `wanted` (`key_codes` numbers): the position of the table's first row
    with that number, -1 for -1."""
    k = int(table.max()) + 1 if len(table) else 0
    first = first_occurrence(table, k + 1)  # slot k stays -1: "absent"
    return first[np.where(wanted >= 0, wanted, k)]


def first_positions(table_keys: pd.Series, *keys: pd.Series) -> list[np.ndarray]:
    """For each of `keys`: the position of each value's first row in `table_keys`, -1
    when absent. One hash pass over all of them (faster than an Index per lookup)."""
    table, wanted = key_codes(table_keys, *keys)
    return [first_rows(table, w) for w in wanted]


def sorted_codes(keys: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, pd.Index]:
    """`pd.factorize(keys[rows], sort=True)` for distinct texts `keys` and positions
    `rows` in them (none -1), sorting only the distinct keys named: per entry of `rows` the
    number of its text in text order, and those texts."""
    named = np.zeros(len(keys), dtype=bool)
    named[rows] = True
    used = np.flatnonzero(named)
    texts = keys.to_numpy(dtype=object)[used]
    order = np.argsort(texts, kind="stable")  # Python string order, as pandas sorts text
    rank = np.empty(len(keys), dtype=np.intp)
    rank[used[order]] = np.arange(len(used))
    return rank[rows], pd.Index(texts[order], dtype="str")
