"""Which ledger history belongs to a workbook: its id, and the history a copy brings.

The ledger file is the one every entry point finds for the workbook's folder
(`sync.ledger.store.choose_ledger`: an option's choice is noted beside the workbook). The
ledger is keyed by Configuración `Id del libro`. A workbook without one (made by the
first release, or a hand copy of the template) gets a provisional id from the ledger,
remembered by file path until the next write puts it into Configuración. A ledger that has
no record of the id (a copy, a moved or renamed file, another PC, a first-release ledger
beside the workbook) is first seeded from the first-release ledger file and from the
messages the workbook's own Envíos sheet lists, before anything is sent. What a ledger file
at another place holds of the workbook (the folder's default file, or one it used before)
is moved into the one in use whenever it is found, known workbook or not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pandas as pd

from cobranza.book.config import WORKBOOK_ID
from cobranza.book.records import Book
from cobranza.inbound.records import Inbound
from cobranza.layout.sends import SentRow
from cobranza.notices.seeding import seeds_from_envios
from sync.ledger.store import (
    Ledger,
    choose_ledger,
    legacy_ledger_paths,
    provisional_id,
    sent_rows,
    settled_keys,
    stored_inbound,
)
from sync.xlsx.sent_reader import read_sent


@contextmanager
def book_ledger(
    workbook: Path, book: Book, now: datetime, ledger: Path | None = None,
    sent: Callable[[], pd.DataFrame] | None = None,
) -> Iterator[Ledger]:
    """The open ledger of this workbook's id, its history in place. `ledger`: the ledger
    file an option chose (noted for the folder, so every later entry point uses it; default:
    the folder's noted or default file); `sent`: the workbook's Envíos rows, read only when
    the ledger must be seeded (default: from the file)."""
    workbook = Path(workbook)
    location = choose_ledger(workbook, ledger)
    path = location.ledger
    declared = book.config.workbook_id
    book_id = declared or provisional_id(path, workbook)
    with Ledger.open(path, now, book_id) as opened:
        legacy = [p for p in legacy_ledger_paths(workbook, path, location.previous)
                  if p.is_file()]
        if not opened.knows_book():
            rows = (sent or (lambda: read_sent(workbook)))()
            opened.adopt(seeds_from_envios(rows, book), now, legacy, workbook)
        elif legacy:
            opened.adopt((), now, legacy, workbook)
        if declared:
            opened.settle()
        yield opened


def missing_id(book: Book, ledger: Ledger) -> dict[str, str]:
    """The Configuración parameter to write when the workbook does not carry its id yet."""
    return {} if book.config.workbook_id else {WORKBOOK_ID: ledger.book}


def sent_keys(workbook: Path, book: Book) -> frozenset[str]:
    """Read-only: the ledger keys the workbook's ledger (found by the one location rule)
    holds as final outcomes (sent, skipped, uncertain). For PROXIMO_AVISO, which must
    never create or migrate a ledger: when there is none, nothing was sent."""
    location = choose_ledger(Path(workbook), None)
    return settled_keys(location.ledger, Path(workbook), book.config.workbook_id)


def read_inbound(workbook: Path, book: Book) -> Inbound:
    """Read-only, like `sent_keys`: the bounces and replies read back for the workbook."""
    location = choose_ledger(Path(workbook), None)
    return stored_inbound(location.ledger, Path(workbook), book.config.workbook_id)


def sent_messages(workbook: Path, book: Book) -> list[SentRow] | None:
    """Read-only: the workbook's messages in its ledger (found by the one location rule),
    as Envíos shows them; None when that ledger has no record of the workbook."""
    location = choose_ledger(Path(workbook), None)
    return sent_rows(location.ledger, Path(workbook), book.config.workbook_id)
