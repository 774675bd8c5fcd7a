"""The `cobranza` entry point: start reading the workbook, then import the program.

Importing pandas, numpy and the project takes ~0.5 s before `cobranza sync BOOK` can
read a cell. A `sync` of one workbook starts parsing its input sheets first, largest
first (`sync.xlsx.prefetch`, a thread that needs only python-calamine), so the two overlap;
every other command starts as it always did. Kept free of heavy imports on purpose.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from sync.xlsx import prefetch

_BOOK_SUFFIXES = (".xlsm", ".xlsx")


def console() -> None:
    prepare(sys.argv[1:])
    from sync.cli import console as run

    run()


def prepare(argv: list[str]) -> None:
    """Before the imports: for `cobranza sync`, start parsing the workbook's sheets, and
    leave the cyclic GC off for the whole command. Each phase of a cycle pauses it anyway
    (`sync.memory`); turning it back on between phases makes the next collection walk
    everything the phase allocated, ~0.1 s each at 100 000 invoices, for garbage that the
    phases do not leave (measured: the same peak memory). The process ends with the
    command; the service (`cobranza run`) keeps the GC between its cycles."""
    if argv[:1] != ["sync"]:
        return
    gc.disable()
    book = sync_book(argv)
    if book is not None:
        prefetch.start(book)


def sync_book(argv: list[str]) -> Path | None:
    """The workbook of a `cobranza sync BOOK ...` command line (None for anything else):
    its one argument naming an existing .xlsm/.xlsx file. A guess only: the reader takes
    the prefetched rows only from the very file it reads."""
    if not argv or argv[0] != "sync":
        return None
    books = [Path(a) for a in argv[1:] if a.lower().endswith(_BOOK_SUFFIXES)]
    return books[0] if len(books) == 1 and books[0].is_file() else None
