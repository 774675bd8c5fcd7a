"""Time the Cartera sheet at scale: rows chosen, PROXIMO_AVISO's core, layout, and write.

    python -m benchmarks.cartera [--invoices 100000]

Prints seconds per step on the benchmark workbook (generated or taken from the cache).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

from benchmarks.generate import AS_OF, cached_workbook
from sync.cycle import compute, localize, portfolio_sheet
from sync.xlsx.reader import read_book
from sync.xlsx.writer import write_outputs


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cartera", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invoices", type=int, default=100_000)
    args = p.parse_args(argv)
    source = cached_workbook(args.invoices)
    book = read_book(source)
    computed = compute(book, localize(datetime.combine(AS_OF, datetime.min.time()), book))
    start = time.perf_counter()
    sheet = portfolio_sheet(computed)
    laid_out = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(shutil.copy(source, Path(tmp) / "bench.xlsm"))
        start = time.perf_counter()
        write_outputs(copy, [sheet], now=computed.now)
        written = time.perf_counter() - start
    rows = len(sheet.tables[0].rows)
    print(f"Cartera: {args.invoices:,} invoices; {rows:,} rows listed".replace(",", " "))
    print(f"  rows + Próximo aviso + layout: {laid_out:.2f} s")
    print(f"  written into the workbook:     {written:.2f} s")


if __name__ == "__main__":
    main()
