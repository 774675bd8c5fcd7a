"""The send ledger: an embedded SQLite file that makes every notice go out exactly once.

The ledger is keyed by the workbook's id (Configuración `Id del libro`), never by the
file's name or folder: one file may hold several workbooks (by default every workbook of
a folder shares `<folder>/.cobranza/ledger.sqlite`), and a renamed or "Guardar como" copy
in the same folder keeps its history. A `Ledger` handle works on one workbook id.

One row per (workbook id, ledger key) (`cobranza.notices.messages.notice_key` / `digest_key`); all
keys of one message share its `message_id`. The protocol, per message:

1. `claim(outgoing, message_id, now)` inserts the intent rows (state ``enviando``) for
   ALL its keys in one ``BEGIN IMMEDIATE`` transaction, and refuses (False) when any key
   is already taken, so the ribbon and the service never both send it;
2. the SMTP transaction;
3. `record(message_id, state, reason, now)` writes the outcome: the state, the reason's
   code (what `cobranza status` groups by) and its sentence (the Envíos Motivo).

A claim names the message's archive file (`sync.mail.archive`: written aside before 1,
named between 1 and 2), and the outcome keeps it for a message that went (or may have):
Envíos column Archivo.

A process that dies between 1 and 3 leaves ``enviando`` rows; the next `Ledger.open`
turns them into ``incierto`` (shown in Envíos, never resent automatically) once their pid
is dead or their lease has expired. Transient failures become ``pendiente`` with an
exponential backoff; every other state is final.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol, Self

from cobranza.inbound.records import Bounce, Inbound, Reply
from cobranza.layout.sends import SentRow, codes_text, invoices_text
from cobranza.layout.wording import reason_text
from cobranza.notices.messages import (
    Outgoing,
    Skipped,
    SkippedMessage,
    key_parts,
    stored_key,
)
from cobranza.notices.planner import History, Refusal
from cobranza.notices.seeding import SeedMessage
from cobranza.vocabulary import FINAL_STATES, Kind, Reason, ReasonCode, SendState, reason
from sync.errors import CobranzaError
from sync.jsonfile import write_json

LEASE = timedelta(minutes=10)
ABANDONED = reason(ReasonCode.ABANDONED)
BUSY_TIMEOUT_S = 5.0
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)

SCHEMA_VERSION = 3  # kept in SQLite's user_version; a first-release file has 0
# Shared files of these versions are read (adopted) as they are; 2 lacks `archive`.
SHARED_VERSIONS = (2, 3)
# Ids given to workbooks that do not carry one yet, by file path (until it is written).
_PATHS = ("CREATE TABLE IF NOT EXISTS paths (path TEXT PRIMARY KEY, book TEXT NOT NULL) "
          "WITHOUT ROWID")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS books (book TEXT PRIMARY KEY, known_at TEXT NOT NULL) WITHOUT ROWID;
{paths};
CREATE TABLE IF NOT EXISTS sends (
    book TEXT NOT NULL,
    key TEXT NOT NULL,
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    code TEXT NOT NULL,
    recipient TEXT NOT NULL,
    "to" TEXT NOT NULL,
    invoices TEXT NOT NULL,
    subject TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL,
    reason TEXT NOT NULL DEFAULT '',
    reason_code TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    pid INTEGER,
    host TEXT,
    archive TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (book, key)
);
CREATE INDEX IF NOT EXISTS sends_message ON sends(book, message_id);
""".replace("{paths}", _PATHS)
_ATTACH_AT_ONCE = 8  # SQLite's limit on attached files is 10 (SQLITE_MAX_ATTACHED)
# Columns of a first-release (version 1) `sends` table, copied as they are on migration
# (a shared file's rows have the same columns after `book`).
_V1_COLUMNS = (
    'key, message_id, kind, code, recipient, "to", invoices, subject, state, reason, '
    "attempts, next_try, created_at, updated_at, pid, host"
)
# What IMAP read back (sync/mail/inbox.py): each inbound message once, by its Message-ID;
# `kind` = BOUNCE/REPLY/IGNORED, `payload` = the record as JSON ("{}" for an ignored
# message). Created with the first inbound message: a ledger without IMAP has none.
_INBOUND = (
    "CREATE TABLE IF NOT EXISTS inbound (book TEXT NOT NULL, message_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, received_at TEXT NOT NULL, payload TEXT NOT NULL, "
    "PRIMARY KEY (book, message_id)) WITHOUT ROWID"
)
BOUNCE, REPLY, IGNORED = "rebote", "respuesta", "ignorado"
# The archive file of a message (version 3), relative to its workbook's folder.
_ARCHIVE = "ALTER TABLE sends ADD COLUMN archive TEXT NOT NULL DEFAULT ''"


# Insert one key's row; with guard=_IF_PENDING an existing row is replaced only while it
# is pendiente (a planner outcome overrides a retry; anything else already recorded wins).
_UPSERT = (
    'INSERT INTO sends (book, key, message_id, kind, code, recipient, "to", invoices, state, '
    "reason, reason_code, created_at, updated_at, pid, host) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(book, key) DO UPDATE SET message_id = excluded.message_id, "
    'kind = excluded.kind, code = excluded.code, recipient = excluded.recipient, '
    '"to" = excluded."to", invoices = excluded.invoices, state = excluded.state, '
    "reason = excluded.reason, reason_code = excluded.reason_code, "
    "updated_at = excluded.updated_at, "
    "pid = excluded.pid, host = excluded.host {guard}"
)
_IF_PENDING = "WHERE sends.state = 'pendiente'"
# A claim's row for each key (checked free in the same transaction): `_UPSERT` with the
# message's subject and archive file, replacing whatever the free row held but its
# attempts, next try and creation time.
_CLAIM = (
    'INSERT INTO sends (book, key, message_id, kind, code, recipient, "to", invoices, '
    "subject, archive, state, created_at, updated_at, pid, host) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT(book, key) DO UPDATE SET message_id = excluded.message_id, "
    'kind = excluded.kind, code = excluded.code, recipient = excluded.recipient, '
    '"to" = excluded."to", invoices = excluded.invoices, subject = excluded.subject, '
    "archive = excluded.archive, state = excluded.state, reason = '', reason_code = '', "
    "updated_at = excluded.updated_at, pid = excluded.pid, host = excluded.host"
)


class Row(Protocol):
    """A ledger row, by column name or position (sqlite3.Row, the PostgreSQL rows)."""

    def __getitem__(self, key: str | int) -> Any: ...


class Cursor(Protocol):
    rowcount: int

    def fetchone(self) -> Row | None: ...

    def fetchall(self) -> list[Row]: ...


class Db(Protocol):
    """What the protocol writes through inside a transaction (SQLite's dialect)."""

    def execute(self, sql: str, args: tuple = ..., /) -> Cursor: ...

    def executemany(self, sql: str, rows: Iterable[tuple], /) -> Cursor: ...


class LedgerBusy(CobranzaError):
    """The ledger stayed locked by another process longer than the busy timeout."""


LEDGER_FILE = "ledger.sqlite"
LOCATION_FILE = "ledger-location.json"  # beside the workbooks: the ledger their folder uses


def default_ledger_path(workbook: Path) -> Path:
    """Where a folder's ledger lives unless an option chose another file:
    <workbook dir>/.cobranza/ledger.sqlite, shared by the workbooks of the folder."""
    return workbook.parent / ".cobranza" / LEDGER_FILE


def location_path(workbook: Path) -> Path:
    """The note of the ledger file chosen for the workbook's folder."""
    return workbook.parent / ".cobranza" / LOCATION_FILE


@dataclass(frozen=True)
class Location:
    """The ledger file a folder's workbooks use, and the files it used before (each still
    holding history until it is moved into `ledger`)."""

    ledger: Path
    previous: tuple[Path, ...] = ()
    recorded: bool = False  # chosen by an option and noted in LOCATION_FILE


def ledger_location(workbook: Path) -> Location:
    """The one rule every entry point follows: the ledger last chosen for the folder
    (`cobranza sync --ledger`, `cobranza run --ledger-dir`), else the default file."""
    note = location_path(workbook)
    try:
        data = json.loads(note.read_text(encoding="utf-8"))
        ledger = Path(data["ledger"])
        previous = tuple(Path(p) for p in data.get("previous", []))
    except FileNotFoundError:
        return Location(default_ledger_path(workbook))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CobranzaError(
            f"No se pudo leer {note} ({exc}): ese archivo indica dónde está el registro de "
            'envíos de esta carpeta (clave "ledger"). Corríjalo; mientras tanto no se envía '
            "nada."
        ) from None
    return Location(ledger, previous, recorded=True)


def ledger_path(workbook: Path) -> Path:
    """The ledger file in use for this workbook (see `ledger_location`)."""
    return ledger_location(workbook).ledger


def choose_ledger(workbook: Path, chosen: Path | None) -> Location:
    """The ledger to open for `workbook`. An option's file (`chosen`) becomes the folder's
    ledger and is noted beside the workbook, so every later entry point uses it without
    repeating the option; the file used until then is kept in the note as previous (its
    history is moved into the new one). Without an option, the noted file, which must be
    reachable from this computer: another file would not know what was sent."""
    current = ledger_location(workbook)
    if chosen is None:
        if current.recorded and not current.ledger.parent.is_dir():
            raise CobranzaError(
                f"El registro de envíos de esta carpeta está en {current.ledger} (anotado en "
                f"{location_path(workbook)}), y esa carpeta no existe en este equipo. "
                "Conéctela, o indique otro registro con --ledger ARCHIVO; no se envió nada."
            )
        return current
    chosen = Path(os.path.abspath(chosen))
    if _same_file(chosen, current.ledger):
        return current
    earlier = [p for p in (current.ledger, *current.previous) if not _same_file(p, chosen)]
    location = Location(chosen, tuple(dict.fromkeys(earlier)), recorded=True)
    _write_location(workbook, location)
    return location


def _same_file(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


def _write_location(workbook: Path, location: Location) -> None:
    """Write the note atomically (a reader never sees half of it)."""
    note = location_path(workbook)
    data = {"ledger": str(location.ledger), "previous": [str(p) for p in location.previous]}
    try:
        write_json(note, data, ensure_ascii=False, indent=2)
    except OSError as exc:
        raise CobranzaError(
            f"No se pudo anotar en {note} el registro de envíos elegido "
            f"({location.ledger}): {exc.strerror or exc}. No se envió nada."
        ) from None


def legacy_ledger_paths(workbook: Path, ledger: Path, previous: Iterable[Path] = ()) -> list[Path]:
    """Ledger files other than `ledger` that may hold this workbook's history: the first
    release's own files of the workbook (one per workbook name, beside it or
    `--ledger-dir`'s `<stem>.envios.sqlite`), the folder's default file when an option
    chose another, and the files the folder used before (`previous`)."""
    folders = dict.fromkeys([workbook.parent / ".cobranza", ledger.parent])
    names = (f"{workbook.stem}.ledger.sqlite", f"{workbook.stem}.envios.sqlite")
    found = [folder / name for folder in folders for name in names]
    found += [default_ledger_path(workbook), *previous]
    unique = {os.path.normcase(os.path.abspath(p)): p for p in found}
    return [p for p in unique.values() if not _same_file(p, ledger)]


def workbook_key(workbook: Path) -> str:
    """How the ledger remembers a file it gave a provisional id: its absolute path."""
    return os.path.normcase(os.path.abspath(workbook))


def message_id_for(outgoing: Outgoing | SkippedMessage | SeedMessage) -> str:
    """Deterministic id of a message: the same keys always give the same id."""
    digest = hashlib.sha256("\n".join(sorted(outgoing.keys)).encode("utf-8")).hexdigest()
    return f"{outgoing.code.lower()}-{digest[:20]}"


def backoff(attempts: int) -> timedelta:
    """5, 10, 20, 40 ... minutes after the n-th failed attempt, at most 6 hours."""
    return min(FIRST_BACKOFF * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("ledger times must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _dt(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def pid_alive(pid: int) -> bool:
    """True when a process with this pid runs on this machine (never signals it)."""
    if pid <= 0:
        return False
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process on Windows
        return _pid_alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive_windows(pid: int) -> bool:  # pragma: no cover - Windows only
    import ctypes

    kernel32 = ctypes.windll.kernel32
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return kernel32.GetLastError() == 5  # access denied: it exists
    code = ctypes.c_ulong()
    kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
    kernel32.CloseHandle(handle)
    return code.value == 259  # STILL_ACTIVE


def provisional_id(path: Path, workbook: Path, busy_timeout: float = BUSY_TIMEOUT_S) -> str:
    """The id this ledger gave the workbook file at `workbook`, which does not carry one
    yet (made on first use, the same for every process asking about that file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        db.execute(_PATHS)
        db.execute("BEGIN IMMEDIATE")
        found = db.execute("SELECT book FROM paths WHERE path = ?",
                           (workbook_key(workbook),)).fetchone()
        book = found[0] if found else str(uuid.uuid4())
        if not found:
            db.execute("INSERT INTO paths VALUES (?, ?)", (workbook_key(workbook), book))
        db.execute("COMMIT")
        return book
    except sqlite3.OperationalError as exc:
        raise busy_error(path, busy_timeout, exc) from None
    finally:
        db.close()


def busy_error(path: Path, busy_timeout: float, exc: sqlite3.OperationalError) -> CobranzaError:
    if "locked" in str(exc) or "busy" in str(exc):
        return LedgerBusy(
            f"El registro de envíos {path} está ocupado por otro proceso desde hace "
            f"más de {busy_timeout:g} s; se reintentará en el próximo ciclo."
        )
    return CobranzaError(f"No se pudo usar el registro de envíos {path}: {exc}")


class LedgerCore:
    """The protocol, written once for every back end (`Ledger`: SQLite beside the
    workbooks; `sync.ledger.postgres.PgLedger`: one PostgreSQL database for every PC and
    host). SQL is written in SQLite's dialect (`?`, INSERT OR IGNORE, rowid order); a back
    end translates it. A back end provides `_write` (one transaction that serializes the
    writers of this workbook, what BEGIN IMMEDIATE does), `_each`, `_has_table`,
    `_columns`, `adopt` and `close`."""

    book: str
    pid: int
    host: str

    @contextmanager
    def _write(self) -> Iterator[Db]:
        raise NotImplementedError
        yield

    def _each(self, sql: str, args: tuple = ()) -> Iterator[Row]:
        raise NotImplementedError

    def _read(self, sql: str, args: tuple = ()) -> list[Row]:
        return list(self._each(sql, args))

    def _has_table(self, name: str) -> bool:
        raise NotImplementedError

    def _columns(self, table: str) -> set[str]:
        raise NotImplementedError

    def adopt(self, seeds: Iterable[SeedMessage], now: datetime,
              legacy: Iterable[Path] = (), workbook: Path | None = None) -> int:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recovered(self, now: datetime) -> Self:
        """This ledger once abandoned claims are `incierto` (`recover`); closed if that
        fails, so an `open` that raises leaves no connection behind."""
        try:
            self.recover(now)
        except BaseException:
            self.close()
            raise
        return self

    # the workbook's history -------------------------------------------------------
    def knows_book(self) -> bool:
        """Whether this ledger already holds this workbook's history (seeded, migrated or
        started here); when not, `adopt` must run before anything is sent."""
        return bool(self._read("SELECT 1 FROM books WHERE book = ?", (self.book,)))

    def settle(self) -> None:
        """The workbook now carries this id: forget the file path it was provisional for
        (another file created at that path later is another workbook)."""
        if self._read("SELECT 1 FROM paths WHERE book = ? LIMIT 1", (self.book,)):
            with self._write() as db:
                db.execute("DELETE FROM paths WHERE book = ?", (self.book,))

    def _seed(self, db: Db, seed: SeedMessage) -> int:
        message_id = message_id_for(seed)
        stamp = _iso(seed.when)
        attempts = int(seed.state != SendState.SKIPPED)
        rows = [(self.book, key, message_id, seed.kind, part.code, seed.recipient, seed.to,
                 part.invoices, seed.subject, seed.state, seed.reason, ReasonCode.FROM_COPY,
                 attempts, stamp, stamp) for part in seed.parts for key in part.keys]
        cursor = db.executemany(
            'INSERT OR IGNORE INTO sends (book, key, message_id, kind, code, recipient, "to", '
            "invoices, subject, state, reason, reason_code, attempts, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return cursor.rowcount

    # the protocol ----------------------------------------------------------------
    def claim(
        self, outgoing: Outgoing, message_id: str, now: datetime, subject: str = "",
        archive: str = "",
    ) -> bool:
        """Take all keys of `outgoing` for sending, or none (False) if any is taken;
        `archive`: the file the message is archived in before it is sent.

        A key is free when it has no row, or its row is ``pendiente`` and its next try
        has come, or the server refused it (`_refused`) for other To addresses than this
        message's: nothing was delivered, the customer's Email changed. Check and insert
        happen in one BEGIN IMMEDIATE transaction.
        """
        to = "; ".join(outgoing.to)
        with self._write() as db:
            found = self._key_rows(db, outgoing.keys)
            if any(_taken(found.get(key), now, to) for key in outgoing.keys):
                return False  # nothing written; the empty transaction commits
            stamp = _iso(now)
            db.executemany(_CLAIM, [
                (self.book, key, message_id, outgoing.kind, code, outgoing.recipient, to,
                 invoices, subject, archive, SendState.SENDING, stamp, stamp, self.pid,
                 self.host) for key, code, invoices in key_parts(outgoing)])
        return True

    def _key_rows(self, db: Db, keys: Iterable[str]) -> dict[str, Row]:
        """The rows of `keys`, by key: one statement per 500 keys, not one per key (each
        is a round trip to a PostgreSQL server)."""
        unique = list(dict.fromkeys(keys))
        found: dict[str, Row] = {}
        for start in range(0, len(unique), 500):
            chunk = unique[start:start + 500]
            marks = ", ".join("?" * len(chunk))
            for row in db.execute(f"SELECT * FROM sends WHERE book = ? AND key IN ({marks})",
                                  (self.book, *chunk)).fetchall():
                found[row["key"]] = row
        return found

    def record(self, message_id: str, state: SendState, why: Reason | None,
               now: datetime, archive: str | None = None) -> None:
        """Write the outcome of a claimed message (``pendiente`` schedules a retry);
        `archive`, when given, replaces the archive file its claim named ("" = none)."""
        if state not in (*FINAL_STATES, SendState.PENDING):
            raise ValueError(f"unknown ledger state {state!r}")
        text, code = reason_text(why), why.code if why else ""
        with self._write() as db:
            if archive is not None:
                db.execute("UPDATE sends SET archive = ? WHERE book = ? AND message_id = ?",
                           (archive, self.book, message_id))
            if state == SendState.PENDING:
                rows = db.execute(
                    "SELECT key, attempts FROM sends WHERE book = ? AND message_id = ?",
                    (self.book, message_id),
                ).fetchall()
                for row in rows:
                    attempts = row["attempts"] + 1
                    db.execute(
                        "UPDATE sends SET state = 'pendiente', reason = ?, reason_code = ?, "
                        "attempts = ?, next_try = ?, updated_at = ? WHERE book = ? AND key = ?",
                        (text, code, attempts, _iso(now + backoff(attempts)), _iso(now),
                         self.book, row["key"]),
                    )
                return
            db.execute(
                "UPDATE sends SET state = ?, reason = ?, reason_code = ?, next_try = NULL, "
                "updated_at = ?, attempts = attempts + ? WHERE book = ? AND message_id = ?",
                (state, text, code, _iso(now), int(state != SendState.SKIPPED), self.book,
                 message_id),
            )

    def note(
        self, outgoing: Outgoing, message_id: str, state: SendState, why: Reason,
        now: datetime,
    ) -> bool:
        """Record an outcome decided without sending (omitido) as final, unless already
        recorded.

        Keys still ``pendiente`` from an earlier transient failure are overwritten (the
        planner has since decided, e.g. "fuera de plazo"); any other existing row wins.
        Returns True when at least one key was written.
        """
        written = 0
        with self._write() as db:
            for row in key_parts(outgoing):
                written += self._upsert(db, row, outgoing, message_id, state, why, now)
        return written > 0

    def hold(self, waits: list[tuple[Outgoing, Reason]], now: datetime) -> None:
        """Record messages that wait ``pendiente`` without being sent (the provider's
        limits), in one transaction: due again at the next cycle; an outcome already
        recorded (other than pendiente) wins."""
        with self._write() as db:
            for outgoing, why in waits:
                message_id = message_id_for(outgoing)
                for row in key_parts(outgoing):
                    self._upsert(db, row, outgoing, message_id, SendState.PENDING, why, now)

    def note_skipped(self, skipped: Skipped, now: datetime) -> int:
        """`note` every message of the planner's `omitido` batch, in one transaction (a first
        sync of a full history records tens of thousands); returns the keys written."""
        if not len(skipped):
            return 0
        stamp = _iso(now)
        worded: dict[Reason, str] = {}  # a few distinct reasons for tens of thousands
        rows = []
        for m in skipped.messages():
            text = worded.get(m.reason) or worded.setdefault(m.reason, reason_text(m.reason))
            head = (message_id_for(m), Kind.NOTICE, m.code, m.recipient, m.to, m.invoices)
            tail = (SendState.SKIPPED, text, m.reason.code, stamp, stamp, self.pid, self.host)
            rows += [(self.book, key, *head, *tail) for key in m.keys]
        with self._write() as db:
            return db.executemany(_UPSERT.format(guard=_IF_PENDING), rows).rowcount

    def _upsert(
        self, db: Db, key_part: tuple[str, str, str], outgoing: Outgoing,
        message_id: str, state: SendState, why: Reason | None, now: datetime,
        pending: bool = True,
    ) -> int:
        """Insert a key's row (key, its notice's code and invoices: `key_parts`); an
        existing row is replaced only if `pending` allows it."""
        key, code, invoices = key_part
        cursor = db.execute(
            _UPSERT.format(guard=_IF_PENDING if pending else ""),
            (
                self.book, key, message_id, outgoing.kind, code, outgoing.recipient,
                "; ".join(outgoing.to), invoices,
                state, reason_text(why), why.code if why else "",
                _iso(now), _iso(now), self.pid, self.host,
            ),
        )
        return cursor.rowcount

    # inbound messages (IMAP) -------------------------------------------------------
    def inbound_seen(self, message_id: str) -> bool:
        """Whether the inbound message `message_id` was already handled."""
        return self._has_inbound() and bool(self._read(
            "SELECT 1 FROM inbound WHERE book = ? AND message_id = ?", (self.book, message_id)))

    def keep_inbound(self, message_id: str, record: Bounce | Reply | None,
                     now: datetime) -> bool:
        """Record an inbound message as handled (False when it already was); a bounce
        marks the message it reports `rebotado` (`_bounce`), in the same transaction."""
        kind = BOUNCE if isinstance(record, Bounce) else REPLY if record else IGNORED
        payload = json.dumps(_payload(record), ensure_ascii=False)
        with self._write() as db:
            db.execute(_INBOUND)
            kept = db.execute("INSERT OR IGNORE INTO inbound VALUES (?, ?, ?, ?, ?)",
                              (self.book, message_id, kind, _iso(now), payload)).rowcount
            if kept and isinstance(record, Bounce):
                self._bounce(db, record, now)
        return kept > 0

    def _bounce(self, db: Db, bounce: Bounce, now: datetime) -> None:
        """The reported message, if it went (enviado, incierto), becomes `rebotado` with
        the failed address and the remote reason (Envíos Motivo)."""
        from cobranza.inbound.bounces import sent_id  # with a bounce only: not a dry run's

        why = reason(ReasonCode.BOUNCED, address=bounce.address, detail=bounce.reason)
        db.execute(
            "UPDATE sends SET state = ?, reason = ?, reason_code = ?, updated_at = ? "
            "WHERE book = ? AND message_id = ? AND state IN ('enviado', 'incierto')",
            (SendState.BOUNCED, reason_text(why), why.code, _iso(now), self.book,
             sent_id(bounce.original_id)))

    def inbound(self) -> Inbound:
        """Every bounce and reply read back for this workbook, oldest first."""
        if not self._has_inbound():
            return Inbound()
        return inbound_of(self._each(_INBOUND_ROWS.format(books="?"), (self.book, IGNORED)))

    def _has_inbound(self) -> bool:
        return self._has_table("inbound")

    # recovery --------------------------------------------------------------------
    def recover(self, now: datetime) -> int:
        """Rows left ``enviando`` by a dead process (or past the lease) -> ``incierto``."""
        rows = self._read("SELECT key, pid, host, updated_at FROM sends "
                          "WHERE book = ? AND state = 'enviando'", (self.book,))
        stale = [row["key"] for row in rows if self._abandoned(row, now)]
        if stale:
            with self._write() as db:
                db.executemany(
                    "UPDATE sends SET state = 'incierto', reason = ?, reason_code = ?, "
                    "updated_at = ? "
                    "WHERE book = ? AND key = ? AND state = 'enviando'",
                    [(reason_text(ABANDONED), ABANDONED.code, _iso(now), self.book, key)
                     for key in stale],
                )
        return len(stale)

    def _abandoned(self, row: Row, now: datetime) -> bool:
        if _dt(row["updated_at"]) < now - LEASE:
            return True
        mine = row["host"] == self.host
        return mine and row["pid"] != self.pid and not pid_alive(row["pid"] or 0)

    # queries ---------------------------------------------------------------------
    def history(self, now: datetime) -> History:
        """Keys the planner must not plan again, and when each customer was contacted.

        Runs `recover(now)` first, so a planning pass never waits on a dead process.
        """
        self.recover(now)
        final: set[str] = set()
        contacts: dict[str, set[datetime]] = {}
        refused: dict[str, Refusal] = {}
        bounced: dict[str, tuple[str, Refusal]] = {}  # customer -> its latest bounce
        reopened: set[str] = set()
        for row in self._each("SELECT * FROM sends WHERE book = ?", (self.book,)):
            key = stored_key(row["key"], row["kind"], row["recipient"], row["code"])
            if _refused(row):
                refused[key] = Refusal(row["to"], row["reason"],
                                       row["state"] == SendState.BOUNCED)
                latest = bounced.get(row["recipient"], ("",))[0]
                if row["state"] == SendState.BOUNCED and row["updated_at"] >= latest:
                    bounced[row["recipient"]] = (row["updated_at"], refused[key])
            elif _reopened(row):
                reopened.add(key)
            elif not _retry_due(row, now):
                final.add(key)
            if row["kind"] == Kind.NOTICE and row["state"] in (
                SendState.SENT, SendState.UNCERTAIN, SendState.SENDING):
                when = _dt(row["updated_at"]).astimezone(now.tzinfo)
                contacts.setdefault(row["recipient"], set()).add(when)
        return History(
            frozenset(final), {c: tuple(sorted(t)) for c, t in contacts.items()}, refused,
            frozenset(reopened), {c: r for c, (_, r) in bounced.items()},
        )

    def rows(self) -> list[SentRow]:
        """One row per message for the Envíos sheet, newest first; a message carrying
        several notices lists their codes and each one's invoices."""
        return _messages(self._each("SELECT * FROM sends WHERE book = ? "
                                    "ORDER BY updated_at DESC, message_id, rowid", (self.book,)))

    def waiting(self, now: datetime) -> list[SentRow]:
        """Messages recorded ``pendiente`` before `now`: waiting for their next try (the
        planner does not plan them again until then)."""
        return _messages(self._each(
            "SELECT * FROM sends WHERE book = ? AND state = 'pendiente' AND updated_at < ? "
            "ORDER BY updated_at, message_id, rowid", (self.book, _iso(now))))

    def settled(self) -> frozenset[str]:
        """The keys `settled_keys` gives PROXIMO_AVISO for this workbook (Cartera shows
        the same Próximo aviso)."""
        return frozenset(stored_key(row["key"], row["kind"], row["recipient"], row["code"])
                         for row in self._each("SELECT * FROM sends WHERE book = ?",
                                               (self.book,)) if _settled(row))

    def sent_index(self) -> dict[str, tuple[str, str]]:
        """Our message id -> (customer, notice codes "MORA_45, ESTADO_MENSUAL") of every
        customer notice that went out or may have (enviado, incierto, enviando): what a
        customer's reply is matched to (`cobranza.inbound.replies.reply_from`)."""
        parts: dict[str, tuple[str, list[str]]] = {}
        for row in self._each(
            "SELECT message_id, recipient, code FROM sends WHERE book = ? AND kind = ? "
            "AND state IN (?, ?, ?) ORDER BY message_id, rowid",
            (self.book, Kind.NOTICE.value, SendState.SENT.value, SendState.UNCERTAIN.value,
             SendState.SENDING.value)):
            parts.setdefault(row["message_id"], (row["recipient"], []))[1].append(row["code"])
        return {mid: (customer, codes_text([(code, "") for code in codes]))
                for mid, (customer, codes) in parts.items()}

    def state_of(self, key: str) -> str | None:
        rows = self._read("SELECT state FROM sends WHERE book = ? AND key = ?", (self.book, key))
        return rows[0]["state"] if rows else None

class Ledger(LedgerCore):
    """The SQLite send ledger of one workbook id. Use `Ledger.open(path, now, book)`."""

    def __init__(self, path: Path, book: str, busy_timeout: float = BUSY_TIMEOUT_S) -> None:
        if not book:
            raise ValueError("a ledger handle needs the workbook id")
        self.path, self.book, self.busy_timeout = path, book, busy_timeout
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self.pid, self.host = os.getpid(), socket.gethostname()
        try:
            self._create_schema()
        except BaseException:
            self._db.close()
            raise

    def _create_schema(self) -> None:
        """Create the tables, or migrate an older file: a first-release file (one workbook
        per file, no workbook id), whose rows become this workbook's, or a version 2 file
        (no `archive` column: its messages name no archive file)."""
        if self._version() == SCHEMA_VERSION:
            return
        with self._write() as db:
            version = self._version()
            if version == SCHEMA_VERSION:
                return
            if version >= 2 and not _has_column(db, "main", "archive"):
                db.execute(_ARCHIVE)
            if version == 1:
                db.execute("ALTER TABLE sends RENAME TO sends_v1")
                db.execute("DROP INDEX IF EXISTS sends_message")
            for statement in filter(str.strip, _SCHEMA.split(";")):
                db.execute(statement)
            if version == 1:
                db.execute(f"INSERT INTO sends (book, {_V1_COLUMNS}) "
                           f"SELECT ?, {_V1_COLUMNS} FROM sends_v1", (self.book,))
                db.execute("DROP TABLE sends_v1")
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _version(self) -> int:
        """0 = empty file, 1 = a first-release ledger, else the stored schema version."""
        stored = self._read("PRAGMA user_version")[0][0]
        if stored:
            return int(stored)
        tables = {r[0] for r in self._read("SELECT name FROM sqlite_master WHERE type='table'")}
        return 1 if "sends" in tables else 0

    @classmethod
    def open(
        cls, path: Path, now: datetime, book: str, busy_timeout: float = BUSY_TIMEOUT_S
    ) -> Ledger:
        """Open (creating if needed) and turn abandoned ``enviando`` rows into incierto."""
        return cls(path, book, busy_timeout)._recovered(now)

    def close(self) -> None:
        self._db.close()

    # transactions ----------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One BEGIN IMMEDIATE transaction; a lock held too long becomes LedgerBusy."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._busy(exc) from None
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._db.execute("ROLLBACK")
            raise self._busy(exc) from None

    def _busy(self, exc: sqlite3.OperationalError) -> CobranzaError:
        return busy_error(self.path, self.busy_timeout, exc)

    def _each(self, sql: str, args: tuple = ()) -> Iterator[sqlite3.Row]:
        """Rows one at a time: a first sync records hundreds of thousands of keys, and
        holding them all at once costs hundreds of MB."""
        try:
            yield from self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise self._busy(exc) from None

    def _has_table(self, name: str) -> bool:
        return bool(self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                               "AND name = ?", (name,)))

    def _columns(self, table: str) -> set[str]:
        return {r[1] for r in self._read(f"PRAGMA table_info({table})")}

    def adopt(self, seeds: Iterable[SeedMessage], now: datetime,
              legacy: Iterable[Path] = (), workbook: Path | None = None) -> int:
        """Take in this workbook's history from the other ledger files `legacy`, and make
        the workbook known. A first-release file (one workbook per file) is copied, then
        renamed ``*.migrado``; from a shared file at another place (the folder's default,
        or a file it used before) this workbook's rows are moved: copied, then deleted
        there (the file stays: other workbooks may still have rows in it). When the ledger
        did not know the workbook, the messages its own Envíos sheet lists (`seeds`)
        follow. What the ledger already holds wins, then the files in their order, then
        the seeds. `workbook`: its file, whose provisional id in a shared file names this
        workbook's rows too. Returns the keys written.

        SQLite attaches at most 10 files at once: the files go in batches of
        `_ATTACH_AT_ONCE`, one transaction each, the seeds with the last."""
        paths = [p for p in legacy if p.is_file()]
        batches = [paths[i:i + _ATTACH_AT_ONCE]
                   for i in range(0, len(paths), _ATTACH_AT_ONCE)] or [[]]
        written = 0
        for n, batch in enumerate(batches, 1):
            written += self._adopt(batch, seeds if n == len(batches) else None, now, workbook)
        return written

    def _adopt(self, paths: list[Path], seeds: Iterable[SeedMessage] | None, now: datetime,
               workbook: Path | None) -> int:
        """`adopt` for one batch of files; `seeds` None: a batch before the last (the
        workbook is not marked known yet)."""
        files = self._attach_legacy(paths)
        try:
            ids = {alias: self._ids_in(alias, workbook) for alias, v in files.items() if v[1]}
            if self.knows_book() and not any(v == 0 or self._holds(alias, ids[alias])
                                              for alias, (_, v) in files.items()):
                return 0
            with self._write() as db:
                known = db.execute("SELECT 1 FROM books WHERE book = ?", (self.book,)).fetchone()
                written = 0
                for alias, (_, version) in files.items():
                    written += (self._take_shared(db, alias, ids[alias]) if version else
                                db.execute(f"INSERT OR IGNORE INTO sends (book, {_V1_COLUMNS}) "
                                           f"SELECT ?, {_V1_COLUMNS} FROM {alias}.sends",
                                           (self.book,)).rowcount)
                if not known and seeds is not None:
                    written += sum(self._seed(db, seed) for seed in seeds)
                    db.execute("INSERT INTO books VALUES (?, ?)", (self.book, _iso(now)))
        finally:
            for alias in files:
                self._db.execute(f"DETACH DATABASE {alias}")
        for path, version in files.values():
            if not version:
                with contextlib.suppress(OSError):
                    path.replace(path.with_name(path.name + ".migrado"))
        return written

    def _attach_legacy(self, paths: list[Path]) -> dict[str, tuple[Path, int]]:
        """Attach the ledger files among `paths`: alias -> (path, 0 for a first-release
        file, SCHEMA_VERSION for a shared one). Anything else is left alone."""
        out: dict[str, tuple[Path, int]] = {}
        for n, path in enumerate(paths):
            alias = f"legacy{n}"
            self._db.execute("ATTACH DATABASE ? AS " + alias, (str(path),))
            tables = {r[0] for r in self._db.execute(
                f"SELECT name FROM {alias}.sqlite_master WHERE type = 'table'")}
            version = self._db.execute(f"PRAGMA {alias}.user_version").fetchone()[0]
            if "sends" in tables and version in (0, *SHARED_VERSIONS):
                out[alias] = (path, version)
            else:
                self._db.execute(f"DETACH DATABASE {alias}")
        return out

    def _ids_in(self, alias: str, workbook: Path | None) -> tuple[str, ...]:
        """This workbook's ids in an attached shared file: its own, and the provisional id
        that file gave the workbook's path before it carried one."""
        found = [] if workbook is None else [r[0] for r in self._read(
            f"SELECT book FROM {alias}.paths WHERE path = ?", (workbook_key(workbook),))]
        return tuple(dict.fromkeys([self.book, *found]))

    def _holds(self, alias: str, ids: tuple[str, ...]) -> bool:
        marks = ", ".join("?" * len(ids))
        return any(self._read(f"SELECT 1 FROM {alias}.{table} WHERE book IN ({marks}) LIMIT 1",
                              ids) for table in ("sends", "books", "paths"))

    def _take_shared(self, db: sqlite3.Connection, alias: str, ids: tuple[str, ...]) -> int:
        """Move the rows of `ids` from an attached shared file into this workbook's."""
        marks = ", ".join("?" * len(ids))
        columns = _V1_COLUMNS + (", archive" if _has_column(db, alias, "archive") else "")
        written = db.execute(f"INSERT OR IGNORE INTO sends (book, {columns}) "
                             f"SELECT ?, {columns} FROM {alias}.sends "
                             f"WHERE book IN ({marks})", (self.book, *ids)).rowcount
        for table in ("sends", "books", "paths"):
            db.execute(f"DELETE FROM {alias}.{table} WHERE book IN ({marks})", ids)
        return written

def settled_keys(path: Path, workbook: Path, book_id: str) -> frozenset[str]:
    """The keys the ledger file at `path` holds as outcomes for the workbook (`book_id`:
    its declared id, or "" for a workbook that does not carry one yet: the provisional
    id this file gave its path): sent, skipped, uncertain, being sent, a final error;
    not what waits to be retried or what the user can still fix. Read-only, for
    PROXIMO_AVISO: never creates, migrates nor writes a ledger (no file: nothing sent)."""
    with _read_only(path) as db:
        if db is None:
            return frozenset()
        return frozenset(stored_key(row["key"], row["kind"], row["recipient"], row["code"])
                         for row in _book_rows(db, workbook, book_id) if _settled(row))


def sent_rows(path: Path, workbook: Path, book_id: str) -> list[SentRow] | None:
    """Read-only, like `settled_keys`: the workbook's messages as Envíos shows them
    (`Ledger.rows`), or None when the file holds no record of the workbook (no file, a
    first-release file without codes, or another workbook's ledger)."""
    with _read_only(path) as db:
        if db is None or not _has_column(db, "main", "book"):
            return None
        ids = _book_ids(db, workbook, book_id)
        if not ids or not db.execute(
                f"SELECT 1 FROM sends WHERE book IN ({', '.join('?' * len(ids))}) LIMIT 1",
                ids).fetchone():
            return None
        return _messages(db.execute(
            f"SELECT * FROM sends WHERE book IN ({', '.join('?' * len(ids))}) "
            "ORDER BY updated_at DESC, message_id, rowid", ids))


def stored_inbound(path: Path, workbook: Path, book_id: str) -> Inbound:
    """Read-only, like `settled_keys`: the bounces and replies the ledger file at `path`
    holds for the workbook (for the ribbon's Actualizar alertas, which never writes one)."""
    with _read_only(path) as db:
        if db is None or not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                                        "AND name = 'inbound'").fetchone():
            return Inbound()
        ids = _book_ids(db, workbook, book_id)
        return inbound_of(db.execute(_INBOUND_ROWS.format(books=", ".join("?" * len(ids))),
                                     (*ids, IGNORED)))


_TOTALS = ("SELECT state, COUNT(DISTINCT message_id) FROM sends WHERE book IN ({books}) "
           "GROUP BY state")


def stored_totals(path: Path, workbook: Path, book_id: str) -> dict[str, int]:
    """Read-only, like `settled_keys`: messages per state the ledger file holds for the
    workbook, all cycles and all entry points together (for `cobranza status`)."""
    with _read_only(path) as db:
        if db is None or not _has_column(db, "main", "book"):
            return {}
        ids = _book_ids(db, workbook, book_id)
        return dict(db.execute(_TOTALS.format(books=", ".join("?" * len(ids))), ids))


_INBOUND_ROWS = ("SELECT kind, payload FROM inbound WHERE book IN ({books}) AND kind != ? "
                 "ORDER BY received_at, message_id")


def inbound_of(rows: Iterable[Row]) -> Inbound:
    bounces, replies = [], []
    for row in rows:
        data = json.loads(row["payload"])
        data["received"] = datetime.fromisoformat(data["received"])
        if row["kind"] == BOUNCE:
            bounces.append(Bounce(**data))
        else:
            replies.append(Reply(**data))
    return Inbound(tuple(bounces), tuple(replies))


@contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection | None]:
    """The ledger file opened read-only (None: no file, or no `sends` table yet)."""
    if not path.is_file():
        yield None
        return
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                         timeout=BUSY_TIMEOUT_S)
    db.row_factory = sqlite3.Row
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        yield db if "sends" in tables else None
    except sqlite3.OperationalError as exc:
        raise busy_error(path, BUSY_TIMEOUT_S, exc) from None
    finally:
        db.close()


def _book_ids(db: sqlite3.Connection, workbook: Path, book_id: str) -> list[str]:
    return [book_id] if book_id else [r[0] for r in db.execute(
        "SELECT book FROM paths WHERE path = ?", (workbook_key(workbook),))]


def _book_rows(db: sqlite3.Connection, workbook: Path, book_id: str) -> Iterable[sqlite3.Row]:
    if not _has_column(db, "main", "book"):  # a first-release file: one workbook, no codes
        return db.execute("SELECT *, '' AS reason_code FROM sends")
    ids = _book_ids(db, workbook, book_id)
    return db.execute(f"SELECT * FROM sends WHERE book IN ({', '.join('?' * len(ids))})", ids)


def _settled(row: Row) -> bool:
    """An outcome the planner never plans again whatever the time (`Ledger.history` adds
    the `pendiente` rows whose next try has not come)."""
    return row["state"] != SendState.PENDING and not _refused(row) and not _reopened(row)


def _payload(record: Bounce | Reply | None) -> dict:
    if record is None:
        return {}
    data = dataclasses.asdict(record)
    data["received"] = record.received.isoformat()
    return data


def _has_column(db: sqlite3.Connection, schema: str, column: str) -> bool:
    """The `sends` table of the attached `schema` ("main" = this file) has `column`."""
    return any(r[1] == column for r in db.execute(f"PRAGMA {schema}.table_info(sends)"))


def _refused(row: Row) -> bool:
    """A customer notice the mail server refused for good (a first-release row says so by
    an `error` reached after a send attempt), or that bounced: nothing was delivered."""
    if row["kind"] != Kind.NOTICE:
        return False
    if row["state"] == SendState.BOUNCED:
        return True
    if row["state"] != SendState.ERROR:
        return False
    code = row["reason_code"]
    return code == ReasonCode.SMTP_REFUSED or (code == "" and row["attempts"] > 0)


# Reasons the user can fix: earlier releases recorded them final, nothing was sent.
_FIXABLE_SKIPS = (ReasonCode.TEMPLATE_MISSING, ReasonCode.TEMPLATE_NOT_APPROVED)
_WORDED_BY_HAND = ("", ReasonCode.FROM_COPY)  # first-release rows, rows seeded from Envíos


def _reopened(row: Row) -> bool:
    """A row an earlier release recorded final for something the user can fix, never
    sent: a notice skipped for its template (missing, not approved; a first-release or
    seeded row says so by its text, "plantilla X no aprobada"), or a message whose
    template failed to render (an `error` reached without a send attempt)."""
    code = row["reason_code"]
    if row["state"] == SendState.SKIPPED:
        return code in _FIXABLE_SKIPS or (
            code in _WORDED_BY_HAND and row["reason"].startswith("plantilla "))
    if row["state"] == SendState.ERROR:
        return code == ReasonCode.TEMPLATE_FAILED or (code == "" and row["attempts"] == 0)
    return False


def _taken(row: Row | None, now: datetime, to: str) -> bool:
    """A key's row keeps it from being claimed for a message to `to`."""
    if row is None or _retry_due(row, now) or _reopened(row):
        return False
    return not (_refused(row) and row["to"] != to)


def _retry_due(row: Row, now: datetime) -> bool:
    """A pendiente row whose next try has come may be claimed again."""
    return row["state"] == SendState.PENDING and (_dt(row["next_try"]) or now) <= now


def _messages(rows: Iterable[Row]) -> list[SentRow]:
    """Key rows (in message order, each message's keys in the order they were written)
    -> one SentRow per message."""
    out: list[SentRow] = []
    first: Row | None = None
    parts: list[tuple[str, str]] = []
    for row in rows:
        if first is not None and row["message_id"] != first["message_id"]:
            out.append(_sent_row(first, parts))
            parts = []
        if not parts:
            first = row
        parts.append((row["code"], row["invoices"]))
    if first is not None:
        out.append(_sent_row(first, parts))
    return out


def _sent_row(row: Row, parts: list[tuple[str, str]]) -> SentRow:
    return SentRow(
        when=_dt(row["updated_at"]), kind=Kind(row["kind"]), code=codes_text(parts),
        recipient=row["recipient"], to=row["to"], invoices=invoices_text(parts),
        subject=row["subject"], state=SendState(row["state"]), reason=row["reason"],
        reason_code=row["reason_code"], archive=row["archive"],
    )
