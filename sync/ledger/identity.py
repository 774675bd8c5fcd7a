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
from sync.errors import CobranzaError
from sync.ledger.store import (
    Ledger,
    LedgerCore,
    choose_ledger,
    ledger_location,
    legacy_ledger_paths,
    provisional_id,
    sent_rows,
    settled_keys,
    stored_inbound,
    stored_totals,
)
from sync.ledger.url import ledger_url, redacted
from sync.xlsx.sent_reader import read_sent


@contextmanager
def book_ledger(
    workbook: Path, book: Book, now: datetime, ledger: Path | None = None,
    sent: Callable[[], pd.DataFrame] | None = None, url: str | None = None,
) -> Iterator[LedgerCore]:
    """The open ledger of this workbook's id, its history in place. `ledger`: the ledger
    file an option chose (noted for the folder, so every later entry point uses it; default:
    the folder's noted or default file); `url`: the PostgreSQL ledger (--ledger-url;
    default: COBRANZA_LEDGER_URL, else SQLite), which takes in what the folder's SQLite
    files hold of the workbook; `sent`: the workbook's Envíos rows, read only when the
    ledger must be seeded (default: from the file)."""
    workbook = Path(workbook)
    url = ledger_url(url)
    declared = book.config.workbook_id
    if url is not None:
        if ledger is not None:
            raise CobranzaError("Use --ledger (SQLite) o --ledger-url (PostgreSQL), no ambos.")
        from sync.ledger.postgres import PgLedger, pg_provisional_id

        location = ledger_location(workbook)
        legacy = [location.ledger, *legacy_ledger_paths(workbook, location.ledger,
                                                        location.previous)]
        book_id = declared or pg_provisional_id(url, workbook)
        opened_ledger: LedgerCore = PgLedger.open(url, now, book_id)
    else:
        location = choose_ledger(workbook, ledger)
        legacy = legacy_ledger_paths(workbook, location.ledger, location.previous)
        book_id = declared or provisional_id(location.ledger, workbook)
        opened_ledger = Ledger.open(location.ledger, now, book_id)
    with opened_ledger as opened:
        legacy = [p for p in legacy if p.is_file()]
        if not opened.knows_book():
            rows = (sent or (lambda: read_sent(workbook)))()
            opened.adopt(seeds_from_envios(rows, book), now, legacy, workbook)
        elif legacy:
            opened.adopt((), now, legacy, workbook)
        if declared:
            opened.settle()
        yield opened


def missing_id(book: Book, ledger: LedgerCore) -> dict[str, str]:
    """The Configuración parameter to write when the workbook does not carry its id yet."""
    return {} if book.config.workbook_id else {WORKBOOK_ID: ledger.book}


def sent_keys(workbook: Path, book: Book) -> frozenset[str]:
    """Read-only: the ledger keys the workbook's ledger (found by the one location rule)
    holds as final outcomes (sent, skipped, uncertain). For PROXIMO_AVISO, which must
    never create or migrate a ledger: when there is none, nothing was sent."""
    if url := ledger_url():
        from sync.ledger.postgres import pg_settled_keys

        return pg_settled_keys(url, Path(workbook), book.config.workbook_id)
    location = choose_ledger(Path(workbook), None)
    return settled_keys(location.ledger, Path(workbook), book.config.workbook_id)


def read_inbound(workbook: Path, book: Book) -> Inbound:
    """Read-only, like `sent_keys`: the bounces and replies read back for the workbook."""
    if url := ledger_url():
        from sync.ledger.postgres import pg_stored_inbound

        return pg_stored_inbound(url, Path(workbook), book.config.workbook_id)
    location = choose_ledger(Path(workbook), None)
    return stored_inbound(location.ledger, Path(workbook), book.config.workbook_id)


def sent_messages(workbook: Path, book: Book) -> list[SentRow] | None:
    """Read-only: the workbook's messages in its ledger (found by the one location rule),
    as Envíos shows them; None when that ledger has no record of the workbook."""
    if url := ledger_url():
        from sync.ledger.postgres import pg_sent_rows

        return pg_sent_rows(url, Path(workbook), book.config.workbook_id)
    location = choose_ledger(Path(workbook), None)
    return sent_rows(location.ledger, Path(workbook), book.config.workbook_id)


def ledger_totals(
    workbook: Path, book_id: str, url: str | None = None,
) -> tuple[str, dict[str, int]]:
    """Read-only: (the ledger as it may be shown, messages per state it holds for the
    workbook), from PostgreSQL (`url`, else COBRANZA_LEDGER_URL) or the folder's SQLite."""
    if url := ledger_url(url):
        from sync.ledger.postgres import pg_totals

        return redacted(url), pg_totals(url, Path(workbook), book_id)
    path = ledger_location(Path(workbook)).ledger
    return str(path), stored_totals(path, Path(workbook), book_id)
