"""SQLite ledger files -> the PostgreSQL ledger.

`take_from_sqlite`: what `PgLedger.adopt` does with a workbook's SQLite files (the
folder's default file, the files it used before, a first-release file): its rows are
copied, then deleted there (a first-release file is renamed ``*.migrado``), as the SQLite
ledger moves them between its own files. PostgreSQL commits first: a crash in between
leaves the rows in both, and the next open finishes the move (what is there wins).

`copy_ledger` (`cobranza ledger migrate --to URL`): every workbook's rows of one shared
SQLite file copied as they are, the file untouched; running it again writes nothing new.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sync.errors import CobranzaError
from sync.ledger.postgres import PgLedger, _Pg, _session, create_schema
from sync.ledger.store import BUSY_TIMEOUT_S, SHARED_VERSIONS, workbook_key

# The `sends` columns after `book` that any file version may carry (older ones lack some).
SEND_COLUMNS = ("key", "message_id", "kind", "code", "recipient", "to", "invoices", "subject",
                "state", "reason", "reason_code", "attempts", "next_try", "created_at",
                "updated_at", "pid", "host", "archive", "sent_at", "recipients")
_TABLES = {"books": ("book", "known_at"), "paths": ("path", "book"),
           "inbound": ("book", "message_id", "kind", "received_at", "payload")}


def _open(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise CobranzaError(f"No se pudo abrir el registro de envíos {path}: {exc}") from None


def _version(db: sqlite3.Connection) -> int | None:
    """0 = a first-release file, 2/3 = a shared file, None = nothing to take."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    version = db.execute("PRAGMA user_version").fetchone()[0]
    return version if "sends" in tables and version in (0, *SHARED_VERSIONS) else None


def _columns(db: sqlite3.Connection) -> list[str]:
    present = {r[1] for r in db.execute("PRAGMA table_info(sends)")}
    return [c for c in SEND_COLUMNS if c in present]


def _insert_sends(pg: _Pg, columns: list[str], rows: list[tuple]) -> int:
    """Rows (book first) into PostgreSQL; a key already there wins."""
    if not rows:
        return 0
    names = ", ".join(f'"{c}"' for c in ("book", *columns))
    marks = ", ".join("?" * (len(columns) + 1))
    return pg.executemany(f"INSERT OR IGNORE INTO sends ({names}) VALUES ({marks})",
                          rows).rowcount


def take_from_sqlite(ledger: PgLedger, path: Path, workbook: Path | None) -> int:
    """Move the workbook's rows from the SQLite file `path` into `ledger`."""
    db = _open(path)
    try:
        version = _version(db)
        if version is None:
            return 0
        columns = _columns(db)
        ids = [ledger.book]
        if version and workbook is not None:
            ids += [r[0] for r in db.execute("SELECT book FROM paths WHERE path = ?",
                                             (workbook_key(workbook),))]
        where = f" WHERE book IN ({', '.join('?' * len(ids))})" if version else ""
        quoted = ", ".join(f'"{c}"' for c in columns)
        rows = [(ledger.book, *r) for r in db.execute(f"SELECT {quoted} FROM sends{where}",
                                                      ids if version else ())]
        with ledger._write() as pg:  # noqa: SLF001 - this module is the ledger's own
            written = _insert_sends(pg, columns, rows)  # type: ignore[arg-type]
        if version:
            _delete(db, ids)
    finally:
        db.close()
    if not version:
        with contextlib.suppress(OSError):
            path.replace(path.with_name(path.name + ".migrado"))
    return written


def _delete(db: sqlite3.Connection, ids: list[str]) -> None:
    marks = ", ".join("?" * len(ids))
    db.execute("BEGIN IMMEDIATE")
    for table in ("sends", "books", "paths"):
        db.execute(f"DELETE FROM {table} WHERE book IN ({marks})", ids)
    db.execute("COMMIT")


def copy_ledger(path: Path, url: str) -> dict[str, int]:
    """Copy every workbook's rows of the shared SQLite ledger `path` into the database at
    `url` (created on first use); rows already there win. Returns the rows written per
    table (0 everywhere on a second run)."""
    if not path.is_file():
        raise CobranzaError(f"No existe el registro de envíos {path}; nada que migrar.")
    db = _open(path)
    try:
        if not _version(db):
            raise CobranzaError(
                f"{path} no es un registro de envíos compartido (versión 2 o 3); ábralo "
                "antes con cobranza sync para actualizarlo, y vuelva a migrar.")
        return _copy(db, url)
    except sqlite3.Error as exc:
        raise CobranzaError(f"No se pudo leer el registro de envíos {path}: {exc}") from None
    finally:
        db.close()


def _copy(db: sqlite3.Connection, url: str) -> dict[str, int]:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    columns = _columns(db)
    quoted = ", ".join(f'"{c}"' for c in columns)
    written: dict[str, int] = {}
    with _session(url) as conn:
        create_schema(conn)
        with conn.transaction():
            pg = _Pg(conn)
            for table, names in _TABLES.items():
                rows = list(db.execute(f"SELECT {', '.join(names)} FROM {table}")) \
                    if table in tables else []
                marks = ", ".join("?" * len(names))
                written[table] = pg.executemany(
                    f"INSERT OR IGNORE INTO {table} ({', '.join(names)}) VALUES ({marks})",
                    rows).rowcount if rows else 0
            rows = list(db.execute(f"SELECT book, {quoted} FROM sends"))
            written["sends"] = _insert_sends(pg, columns, rows)
    return written

