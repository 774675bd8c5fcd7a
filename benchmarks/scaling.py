"""Why the 500 000 run costs more than 5x the 100 000 run: the primitives themselves.

    python -m benchmarks.scaling [--small 100000] [--large 500000] [--repeat 3]

Times, on the benchmark workbooks of both sizes (generated or taken from the cache), the
building blocks every reader and every pandas pipeline is made of, and prints each one's
large/small ratio. A ratio above large/small means the step grows faster than the data
on this machine (memory and cache effects, or the cyclic GC walking more live objects),
whoever runs it: the floor itself (pandas' calamine engine) is one of the rows.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import python_calamine

from benchmarks.generate import cached_workbook
from benchmarks.run import floor_sheets


def median_seconds(fn: Callable[[], object], repeat: int, *, collect: bool = True) -> float:
    """Median wall time of `fn`; with collect=False the cyclic GC is off meanwhile."""
    times = []
    for _ in range(repeat):
        if not collect:
            gc.disable()
        try:
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        finally:
            gc.enable()
    return statistics.median(times)


def primitives(book: Path, n: int, repeat: int) -> dict[str, float]:
    """Seconds per primitive on workbook `book` (n invoices)."""
    wb = python_calamine.CalamineWorkbook.from_path(str(book))
    sheet = wb.get_sheet_by_name("Facturas")
    keys = np.array([f"F-{i:07d}" for i in np.random.default_rng(1).permutation(n)], object)

    def floor() -> object:
        return pd.read_excel(book, sheet_name=floor_sheets(book), engine="calamine")

    return {
        "floor: pandas calamine, input sheets": median_seconds(floor, repeat),
        "floor, cyclic GC off": median_seconds(floor, repeat, collect=False),
        "calamine: parse Facturas XML": median_seconds(
            lambda: wb.get_sheet_by_name("Facturas"), repeat),
        "calamine: Facturas cells to Python": median_seconds(
            lambda: sheet.to_python(skip_empty_area=False), repeat),
        "calamine: cells to Python, cyclic GC off": median_seconds(
            lambda: sheet.to_python(skip_empty_area=False), repeat, collect=False),
        "pandas.factorize of N invoice ids": median_seconds(lambda: pd.factorize(keys), repeat),
        "numpy argsort of N invoice ids": median_seconds(lambda: np.argsort(keys), repeat),
    }


def _rows(small: dict[str, float], large: dict[str, float]) -> list[tuple[str, float, float]]:
    return [(name, small[name], large[name]) for name in small]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scaling", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--small", type=int, default=100_000)
    p.add_argument("--large", type=int, default=500_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--cache", type=Path, help="where generated workbooks are kept")
    args = p.parse_args(argv)
    measured = {n: primitives(cached_workbook(n, directory=args.cache), n, args.repeat)
                for n in (args.small, args.large)}
    print(f"| primitive | {args.small:,} s | {args.large:,} s | ratio |".replace(",", " "))
    print("|---|---|---|---|")
    for name, a, b in _rows(measured[args.small], measured[args.large]):
        print(f"| {name} | {a:.3f} | {b:.3f} | {b / a:.2f} |")
    print(f"\n(linear = {args.large / args.small:.2f})")


if __name__ == "__main__":
    main()
