"""Which ledger history belongs to a workbook: its id, and the history a copy brings.

The ledger is keyed by Configuración `Id del libro`. A workbook without one (made by the
first release, or a hand copy of the template) gets a provisional id from the ledger,
remembered by file path until the next write puts it into Configuración. A ledger that has
no record of the id (a copy, a moved or renamed file, another PC, a first-release ledger
beside the workbook) is first seeded from the first-release ledger file and from the
messages the workbook's own Envíos sheet lists, before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

from cobranza.book.config import WORKBOOK_ID
from cobranza.book.records import Book
from cobranza.notices.seeding import seeds_from_envios
from sync.ledger.store import Ledger, ledger_path, legacy_ledger_paths, provisional_id
from sync.xlsx.sent_reader import read_sent


@contextmanager
def book_ledger(
    workbook: Path, book: Book, now: datetime, ledger: Path | None = None,
    sent: Callable[[], pd.DataFrame] | None = None,
) -> Iterator[Ledger]:
    """The open ledger of this workbook's id, its history in place. `ledger`: the ledger
    file (default: shared by the folder); `sent`: the workbook's Envíos rows, read only
    when the ledger must be seeded (default: from the file)."""
    workbook = Path(workbook)
    path = ledger or ledger_path(workbook)
    declared = book.config.workbook_id
    book_id = declared or provisional_id(path, workbook)
    with Ledger.open(path, now, book_id) as opened:
        if not opened.knows_book():
            rows = (sent or (lambda: read_sent(workbook)))()
            opened.adopt(seeds_from_envios(rows, book), now, legacy_ledger_paths(workbook, path))
        if declared:
            opened.settle()
        yield opened


def missing_id(book: Book, ledger: Ledger) -> dict[str, str]:
    """The Configuración parameter to write when the workbook does not carry its id yet."""
    return {} if book.config.workbook_id else {WORKBOOK_ID: ledger.book}
