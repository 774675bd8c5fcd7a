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


def first_positions(table_keys: pd.Series, *keys: pd.Series) -> list[np.ndarray]:
    """For each of `keys`: the position of each value's first row in `table_keys`, -1
    when absent. One hash pass over all of them (faster than an Index per lookup)."""
    known = table_keys.to_numpy(dtype=object)
    n = len(known)
    if n == 0:
        return [np.full(len(k), -1, dtype=np.int64) for k in keys]
    # The table's keys come first, so they get the codes 0..k-1 (in order of first row).
    codes = pd.factorize(np.concatenate([known, *(k.to_numpy(dtype=object) for k in keys)]))[0]
    k = int(codes[:n].max()) + 1
    first = first_occurrence(codes[:n], k + 1)  # slot k stays -1: "absent"
    wanted = codes[n:]
    found = first[np.where((wanted >= 0) & (wanted < k), wanted, k)]
    return np.split(found, np.cumsum([len(k) for k in keys])[:-1])
