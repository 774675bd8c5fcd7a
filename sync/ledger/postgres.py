"""The send ledger in PostgreSQL: one database for every PC and host (COBRANZA_LEDGER_URL).

The protocol is `LedgerCore`'s, the SQLite ledger's; this module provides what differs:
the connection (password from the keyring when neither the URL, PGPASSWORD nor .pgpass
gives one: libpq reads the last two itself), the schema (created on first use, migrated
by `schema_version`), the dialect (`?` -> `%s`, INSERT OR IGNORE -> ON CONFLICT DO
NOTHING, rowid -> `seq`) and the transactions. Every write transaction first takes a
transaction-scoped advisory lock on the workbook id: the writers of one workbook are
serialized, as BEGIN IMMEDIATE serializes the writers of a SQLite file, while other
workbooks go on; the (book, key) primary key stays the last guard. Times are kept as
ISO text in UTC, as in SQLite, so both back ends compare them the same way.

A claim records host, pid and the claim instant: `recover` turns an abandoned
``enviando`` row into ``incierto`` when its pid is dead on this same host, or, from any
host, once its lease (`LEASE` after the claim) has run out.
"""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import errors

from cobranza.inbound.records import Inbound
from cobranza.layout.sends import SentRow
from cobranza.notices.messages import stored_key
from sync.errors import CobranzaError
from sync.ledger.store import (
    _INBOUND_ROWS,
    _TOTALS,
    BUSY_TIMEOUT_S,
    IGNORED,
    Db,
    LedgerBusy,
    LedgerCore,
    Row,
    _iso,
    _messages,
    _settled,
    inbound_of,
    workbook_key,
)
from sync.ledger.url import redacted
from sync.mail.oauth import keyring_secret

KEYRING_NAME = "ledger-password"  # keyring service "cobranza-xl"
CONNECT_TIMEOUT_S = 10
# Serializes schema creation and migration between processes (any constant would do).
_SCHEMA_LOCK = 0x636F6272

# Each migration, in order; `schema_version` holds how many ran.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE books (book TEXT PRIMARY KEY, known_at TEXT NOT NULL)",
        "CREATE TABLE paths (path TEXT PRIMARY KEY, book TEXT NOT NULL)",
        """CREATE TABLE sends (
            seq BIGINT GENERATED ALWAYS AS IDENTITY,
            book TEXT NOT NULL, key TEXT NOT NULL, message_id TEXT NOT NULL,
            kind TEXT NOT NULL, code TEXT NOT NULL, recipient TEXT NOT NULL,
            "to" TEXT NOT NULL, invoices TEXT NOT NULL, subject TEXT NOT NULL DEFAULT '',
            state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '',
            reason_code TEXT NOT NULL DEFAULT '', attempts INTEGER NOT NULL DEFAULT 0,
            next_try TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            pid INTEGER, host TEXT, archive TEXT NOT NULL DEFAULT '',
            sent_at TEXT, recipients INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (book, key))""",
        "CREATE INDEX sends_message ON sends (book, message_id)",
        "CREATE INDEX sends_sent_at ON sends (sent_at) WHERE sent_at IS NOT NULL",
        "CREATE TABLE inbound (book TEXT NOT NULL, message_id TEXT NOT NULL, "
        "kind TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL, "
        "PRIMARY KEY (book, message_id))",
        "CREATE TABLE provider_pause (id INTEGER PRIMARY KEY CHECK (id = 1), "
        "throttles INTEGER NOT NULL, resume_at TEXT)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


def _translate(sql: str) -> str:
    """SQLite's dialect (as `LedgerCore` writes it) -> PostgreSQL's."""
    sql = sql.replace("?", "%s").replace(" WITHOUT ROWID", "")
    sql = re.sub(r"\browid\b", "seq", sql)
    if sql.startswith("INSERT OR IGNORE INTO"):
        sql = "INSERT INTO" + sql[len("INSERT OR IGNORE INTO"):] + " ON CONFLICT DO NOTHING"
    return sql


class _Row(tuple):
    """A row by position or by column name, like sqlite3.Row."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _row_factory(cursor: psycopg.Cursor) -> Any:
    names = {d.name: i for i, d in enumerate(cursor.description or ())}

    def make(values: Any) -> _Row:
        row = _Row(values)
        row.names = names
        return row

    return make


class _Pg:
    """The transaction's connection, speaking SQLite's dialect (`Db`)."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, args: tuple = ()) -> psycopg.Cursor:
        return self.conn.execute(_translate(sql), args)

    def executemany(self, sql: str, rows: Iterable[tuple]) -> psycopg.Cursor:
        cursor = self.conn.cursor()
        cursor.executemany(_translate(sql), list(rows))
        return cursor


def connect(url: str, busy_timeout: float = BUSY_TIMEOUT_S) -> psycopg.Connection:
    """A connection in autocommit (each write opens its own transaction); a server that
    cannot be reached is a Spanish CobranzaError naming the redacted URL."""
    extra: dict[str, Any] = {}
    keyring_needed = urlsplit(url).password is None and not os.environ.get("PGPASSWORD")
    if keyring_needed and (secret := keyring_secret(KEYRING_NAME)):
        extra["password"] = secret
    try:
        return psycopg.connect(
            url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, row_factory=_row_factory,
            options=f"-c lock_timeout={int(busy_timeout * 1000)}", **extra)
    except psycopg.Error as exc:
        raise unreachable(url, exc) from None


def unreachable(url: str, exc: BaseException) -> CobranzaError:
    detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return CobranzaError(
        f"No se pudo usar el registro de envíos en PostgreSQL {redacted(url)}: {detail}. "
        "Revise que el servidor esté en marcha, la URL (COBRANZA_LEDGER_URL o --ledger-url) "
        "y la contraseña (llavero \"cobranza-xl\"/ledger-password, PGPASSWORD o .pgpass); "
        "lo que no quedó registrado se reintenta en el próximo ciclo."
    )


def create_schema(conn: psycopg.Connection) -> None:
    """Create the tables on first use, or run the migrations this database lacks."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        found = conn.execute("SELECT version FROM schema_version").fetchone()
        version = found[0] if found else 0
        if version > SCHEMA_VERSION:
            raise CobranzaError(
                f"El registro de envíos en PostgreSQL tiene el esquema {version}, más nuevo "
                f"que el de esta versión de Cobranza XL ({SCHEMA_VERSION}). Actualícela."
            )
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        if found is None:
            conn.execute("INSERT INTO schema_version VALUES (%s)", (SCHEMA_VERSION,))
        elif version < SCHEMA_VERSION:
            conn.execute("UPDATE schema_version SET version = %s", (SCHEMA_VERSION,))


def pg_provisional_id(url: str, workbook: Path) -> str:
    """`provisional_id` for the PostgreSQL ledger: the same id for every process."""
    with _session(url) as conn:
        create_schema(conn)
        conn.execute("INSERT INTO paths VALUES (%s, %s) ON CONFLICT DO NOTHING",
                     (workbook_key(workbook), str(uuid.uuid4())))
        return conn.execute("SELECT book FROM paths WHERE path = %s",
                            (workbook_key(workbook),)).fetchone()[0]


@contextmanager
def _session(url: str) -> Iterator[psycopg.Connection]:
    conn = connect(url)
    try:
        yield conn
    except psycopg.Error as exc:
        raise unreachable(url, exc) from None
    finally:
        conn.close()


def _known_ids(conn: psycopg.Connection, workbook: Path, book_id: str) -> list[str]:
    return [book_id] if book_id else [r[0] for r in conn.execute(
        "SELECT book FROM paths WHERE path = %s", (workbook_key(workbook),))]


def pg_settled_keys(url: str, workbook: Path, book_id: str) -> frozenset[str]:
    """`settled_keys` on PostgreSQL: read-only, never creates the schema."""
    with _session(url) as conn:
        if not conn.execute("SELECT to_regclass('sends') IS NOT NULL").fetchone()[0]:
            return frozenset()
        rows = conn.execute("SELECT * FROM sends WHERE book = ANY(%s)",
                            (_known_ids(conn, workbook, book_id),))
        return frozenset(stored_key(row["key"], row["kind"], row["recipient"], row["code"])
                         for row in rows if _settled(row))


def pg_stored_inbound(url: str, workbook: Path, book_id: str) -> Inbound:
    """`stored_inbound` on PostgreSQL: read-only, never creates the schema."""
    with _session(url) as conn:
        if not conn.execute("SELECT to_regclass('inbound') IS NOT NULL").fetchone()[0]:
            return Inbound()
        ids = _known_ids(conn, workbook, book_id)
        return inbound_of(conn.execute(
            _translate(_INBOUND_ROWS.format(books=", ".join("?" * len(ids)))),
            (*ids, IGNORED)))


def pg_sent_rows(url: str, workbook: Path, book_id: str) -> list[SentRow] | None:
    """`sent_rows` on PostgreSQL (the agency hand-off's notices): read-only, never creates
    the schema; None when the database holds nothing of the workbook."""
    with _session(url) as conn:
        if not conn.execute("SELECT to_regclass('sends') IS NOT NULL").fetchone()[0]:
            return None
        rows = conn.execute(_translate(
            "SELECT * FROM sends WHERE book = ANY(?) ORDER BY updated_at DESC, message_id, "
            "rowid"), (_known_ids(conn, workbook, book_id),)).fetchall()
        return _messages(rows) if rows else None


def pg_totals(url: str, workbook: Path, book_id: str) -> dict[str, int]:
    """`stored_totals` on PostgreSQL: read-only, never creates the schema."""
    with _session(url) as conn:
        if not conn.execute("SELECT to_regclass('sends') IS NOT NULL").fetchone()[0]:
            return {}
        ids = _known_ids(conn, workbook, book_id)
        return {r[0]: r[1] for r in conn.execute(
            _translate(_TOTALS.format(books=", ".join("?" * len(ids)))), ids)}


class PgLedger(LedgerCore):
    """The PostgreSQL send ledger of one workbook id. Use `PgLedger.open(url, now, book)`."""

    def __init__(self, url: str, book: str, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        if not book:
            raise ValueError("a ledger handle needs the workbook id")
        self.url, self.book, self.busy_timeout = url, book, busy_timeout
        self.path = Path(redacted(url))  # what messages name as the ledger
        self.pid, self.host = os.getpid(), socket.gethostname()
        self._conn = connect(url, busy_timeout)
        try:
            with self._errors():
                create_schema(self._conn)
        except BaseException:
            self._conn.close()
            raise

    @classmethod
    def open(cls, url: str, now: datetime, book: str,
             busy_timeout: float = BUSY_TIMEOUT_S) -> PgLedger:
        """Connect (creating the schema if needed) and recover abandoned claims."""
        return cls(url, book, busy_timeout)._recovered(now)

    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """psycopg's failures -> the user's sentences (a lock held too long: LedgerBusy)."""
        try:
            yield
        except errors.LockNotAvailable:
            raise LedgerBusy(
                f"El registro de envíos {redacted(self.url)} está ocupado por otro proceso "
                f"desde hace más de {self.busy_timeout:g} s; se reintentará en el próximo "
                "ciclo.") from None
        except psycopg.Error as exc:
            raise unreachable(self.url, exc) from None

    @contextmanager
    def _write(self) -> Iterator[Db]:
        """One transaction holding the workbook's advisory lock until it ends."""
        with self._errors(), self._conn.transaction():
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                               (self.book,))
            yield _Pg(self._conn)

    def _each(self, sql: str, args: tuple = ()) -> Iterator[Row]:
        with self._errors():
            yield from self._conn.execute(_translate(sql), args)

    def _has_table(self, name: str) -> bool:
        return self._read("SELECT to_regclass(?) IS NOT NULL", (name,))[0][0]

    def _columns(self, table: str) -> set[str]:
        return {r[0] for r in self._read(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
            "AND table_schema = current_schema()", (table,))}

    def adopt(self, seeds: Iterable[Any], now: datetime,
              legacy: Iterable[Path] = (), workbook: Path | None = None) -> int:
        """Make the workbook known: the history its SQLite ledger files hold (`legacy`,
        moved as the SQLite ledger moves it: `sync.ledger.migrate`), then, for a workbook
        this database did not know, the messages its Envíos sheet lists (`seeds`)."""
        from sync.ledger.migrate import take_from_sqlite

        written = sum(take_from_sqlite(self, path, workbook) for path in legacy
                      if path.is_file())
        with self._write() as db:
            if db.execute("SELECT 1 FROM books WHERE book = ?", (self.book,)).fetchone():
                return written
            written += sum(self._seed(db, seed) for seed in seeds)
            db.execute("INSERT INTO books VALUES (?, ?)", (self.book, _iso(now)))
        return written
