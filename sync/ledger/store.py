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

A process that dies between 1 and 3 leaves ``enviando`` rows; the next `Ledger.open`
turns them into ``incierto`` (shown in Envíos, never resent automatically) once their pid
is dead or their lease has expired. Transient failures become ``pendiente`` with an
exponential backoff; every other state is final.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sqlite3
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cobranza.layout.sends import SentRow
from cobranza.layout.wording import reason_text
from cobranza.notices.messages import Outgoing, Skipped, SkippedMessage, invoice_list, stored_key
from cobranza.notices.planner import History, Refusal
from cobranza.notices.seeding import SeedMessage
from cobranza.vocabulary import FINAL_STATES, Kind, Reason, ReasonCode, SendState, reason
from sync.errors import CobranzaError

LEASE = timedelta(minutes=10)
ABANDONED = reason(ReasonCode.ABANDONED)
BUSY_TIMEOUT_S = 5.0
FIRST_BACKOFF = timedelta(minutes=5)
MAX_BACKOFF = timedelta(hours=6)

SCHEMA_VERSION = 2  # kept in SQLite's user_version; a first-release file has 0
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
    PRIMARY KEY (book, key)
);
CREATE INDEX IF NOT EXISTS sends_message ON sends(book, message_id);
""".replace("{paths}", _PATHS)
# Columns of a first-release (version 1) `sends` table, copied as they are on migration.
_V1_COLUMNS = (
    'key, message_id, kind, code, recipient, "to", invoices, subject, state, reason, '
    "attempts, next_try, created_at, updated_at, pid, host"
)


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


class LedgerBusy(CobranzaError):
    """The ledger stayed locked by another process longer than the busy timeout."""


LEDGER_FILE = "ledger.sqlite"


def ledger_path(workbook: Path) -> Path:
    """Default ledger file, shared by the workbooks of a folder:
    <workbook dir>/.cobranza/ledger.sqlite."""
    return workbook.parent / ".cobranza" / LEDGER_FILE


def legacy_ledger_paths(workbook: Path, ledger: Path) -> list[Path]:
    """Where the first release kept this workbook's own ledger (one file per workbook
    name): beside the workbook, or `cobranza run --ledger-dir`'s `<stem>.envios.sqlite`."""
    folders = dict.fromkeys([workbook.parent / ".cobranza", ledger.parent])
    names = (f"{workbook.stem}.ledger.sqlite", f"{workbook.stem}.envios.sqlite")
    found = [folder / name for folder in folders for name in names]
    return [p for p in found if p != ledger]


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


class Ledger:
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
        """Create the tables, or migrate a first-release file (one workbook per file, no
        workbook id): its rows become this workbook's."""
        if self._version() == SCHEMA_VERSION:
            return
        with self._write() as db:
            version = self._version()
            if version == SCHEMA_VERSION:
                return
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
        ledger = cls(path, book, busy_timeout)
        try:
            ledger.recover(now)
        except BaseException:
            ledger.close()
            raise
        return ledger

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    def _read(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        return list(self._each(sql, args))

    def _each(self, sql: str, args: tuple = ()) -> Iterator[sqlite3.Row]:
        """Rows one at a time: a first sync records hundreds of thousands of keys, and
        holding them all at once costs hundreds of MB."""
        try:
            yield from self._db.execute(sql, args)
        except sqlite3.OperationalError as exc:
            raise self._busy(exc) from None

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

    def adopt(self, seeds: Iterable[SeedMessage], now: datetime,
              legacy: Iterable[Path] = ()) -> int:
        """Make this workbook known: copy its first-release ledger files (`legacy`, each
        renamed ``*.migrado`` after the copy) and then the messages its own Envíos sheet
        lists (`seeds`), in one transaction. What the ledger already holds wins. Returns
        the keys written; 0 when another process adopted it first."""
        files = self._attach_v1([p for p in legacy if p.is_file()])
        try:
            with self._write() as db:
                if db.execute("SELECT 1 FROM books WHERE book = ?", (self.book,)).fetchone():
                    return 0
                for alias in files:
                    db.execute(f"INSERT OR IGNORE INTO sends (book, {_V1_COLUMNS}) "
                               f"SELECT ?, {_V1_COLUMNS} FROM {alias}.sends", (self.book,))
                written = sum(self._seed(db, seed) for seed in seeds)
                db.execute("INSERT INTO books VALUES (?, ?)", (self.book, _iso(now)))
        finally:
            for alias in files:
                self._db.execute(f"DETACH DATABASE {alias}")
        for path in files.values():
            with contextlib.suppress(OSError):
                path.replace(path.with_name(path.name + ".migrado"))
        return written

    def _attach_v1(self, paths: list[Path]) -> dict[str, Path]:
        """Attach the first-release ledger files among `paths` (alias -> path)."""
        out: dict[str, Path] = {}
        for n, path in enumerate(paths):
            alias = f"legacy{n}"
            self._db.execute("ATTACH DATABASE ? AS " + alias, (str(path),))
            tables = {r[0] for r in self._db.execute(
                f"SELECT name FROM {alias}.sqlite_master WHERE type = 'table'")}
            version = self._db.execute(f"PRAGMA {alias}.user_version").fetchone()[0]
            if "sends" in tables and not version:
                out[alias] = path
            else:
                self._db.execute(f"DETACH DATABASE {alias}")
        return out

    def _seed(self, db: sqlite3.Connection, seed: SeedMessage) -> int:
        message_id = message_id_for(seed)
        stamp = _iso(seed.when)
        attempts = int(seed.state != SendState.SKIPPED)
        rows = [(self.book, key, message_id, seed.kind, seed.code, seed.recipient, seed.to,
                 seed.invoices, seed.subject, seed.state, seed.reason, ReasonCode.FROM_COPY,
                 attempts, stamp, stamp) for key in seed.keys]
        cursor = db.executemany(
            'INSERT OR IGNORE INTO sends (book, key, message_id, kind, code, recipient, "to", '
            "invoices, subject, state, reason, reason_code, attempts, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        return cursor.rowcount

    # the protocol ----------------------------------------------------------------
    def claim(
        self, outgoing: Outgoing, message_id: str, now: datetime, subject: str = ""
    ) -> bool:
        """Take all keys of `outgoing` for sending, or none (False) if any is taken.

        A key is free when it has no row, or its row is ``pendiente`` and its next try
        has come, or the server refused it (`_refused`) for other To addresses than this
        message's: nothing was delivered, the customer's Email changed. Check and insert
        happen in one BEGIN IMMEDIATE transaction.
        """
        to = "; ".join(outgoing.to)
        with self._write() as db:
            if any(self._taken(db, key, now, to) for key in outgoing.keys):
                return False  # nothing written; the empty transaction commits
            for key in outgoing.keys:
                self._upsert(db, key, outgoing, message_id, SendState.SENDING, None, now,
                             pending=False)
                db.execute("UPDATE sends SET subject = ? WHERE book = ? AND key = ?",
                           (subject, self.book, key))
        return True

    def _taken(self, db: sqlite3.Connection, key: str, now: datetime, to: str) -> bool:
        row = db.execute("SELECT * FROM sends WHERE book = ? AND key = ?",
                         (self.book, key)).fetchone()
        if row is None or _retry_due(row, now):
            return False
        return not (_refused(row) and row["to"] != to)

    def record(self, message_id: str, state: SendState, why: Reason | None,
               now: datetime) -> None:
        """Write the outcome of a claimed message (``pendiente`` schedules a retry)."""
        if state not in (*FINAL_STATES, SendState.PENDING):
            raise ValueError(f"unknown ledger state {state!r}")
        text, code = reason_text(why), why.code if why else ""
        with self._write() as db:
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
        """Record an outcome decided without sending (omitido, a render error) as final,
        unless already recorded.

        Keys still ``pendiente`` from an earlier transient failure are overwritten (the
        planner has since decided, e.g. "fuera de plazo"); any other existing row wins.
        Returns True when at least one key was written.
        """
        written = 0
        with self._write() as db:
            for key in outgoing.keys:
                written += self._upsert(db, key, outgoing, message_id, state, why, now)
        return written > 0

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
        self, db: sqlite3.Connection, key: str, outgoing: Outgoing, message_id: str,
        state: SendState, why: Reason | None, now: datetime, pending: bool = True,
    ) -> int:
        """Insert a key's row; an existing row is replaced only if `pending` allows it."""
        cursor = db.execute(
            _UPSERT.format(guard=_IF_PENDING if pending else ""),
            (
                self.book, key, message_id, outgoing.kind, outgoing.code, outgoing.recipient,
                "; ".join(outgoing.to), invoice_list(line.invoice for line in outgoing.lines),
                state, reason_text(why), why.code if why else "",
                _iso(now), _iso(now), self.pid, self.host,
            ),
        )
        return cursor.rowcount

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

    def _abandoned(self, row: sqlite3.Row, now: datetime) -> bool:
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
        for row in self._each("SELECT * FROM sends WHERE book = ?", (self.book,)):
            key = stored_key(row["key"], row["kind"], row["recipient"], row["code"])
            if _refused(row):
                refused[key] = Refusal(row["to"], row["reason"])
            elif not _retry_due(row, now):
                final.add(key)
            if row["kind"] == Kind.NOTICE and row["state"] in (
                SendState.SENT, SendState.UNCERTAIN, SendState.SENDING):
                when = _dt(row["updated_at"]).astimezone(now.tzinfo)
                contacts.setdefault(row["recipient"], set()).add(when)
        return History(
            frozenset(final), {c: tuple(sorted(t)) for c, t in contacts.items()}, refused
        )

    def rows(self) -> list[SentRow]:
        """One row per message for the Envíos sheet, newest first."""
        seen: dict[str, SentRow] = {}
        for row in self._each("SELECT * FROM sends WHERE book = ? "
                              "ORDER BY updated_at DESC, key", (self.book,)):
            if row["message_id"] not in seen:
                seen[row["message_id"]] = _sent_row(row)
        return list(seen.values())

    def waiting(self, now: datetime) -> list[SentRow]:
        """Messages recorded ``pendiente`` before `now`: waiting for their next try (the
        planner does not plan them again until then)."""
        seen: dict[str, SentRow] = {}
        for row in self._each("SELECT * FROM sends WHERE book = ? AND state = 'pendiente' "
                              "AND updated_at < ? ORDER BY updated_at, key",
                              (self.book, _iso(now))):
            seen.setdefault(row["message_id"], _sent_row(row))
        return list(seen.values())

    def state_of(self, key: str) -> str | None:
        rows = self._read("SELECT state FROM sends WHERE book = ? AND key = ?", (self.book, key))
        return rows[0]["state"] if rows else None


def _refused(row: sqlite3.Row) -> bool:
    """A customer notice the mail server refused for good (a first-release row says so by
    an `error` reached after a send attempt)."""
    if row["state"] != SendState.ERROR or row["kind"] != Kind.NOTICE:
        return False
    code = row["reason_code"]
    return code == ReasonCode.SMTP_REFUSED or (code == "" and row["attempts"] > 0)


def _retry_due(row: sqlite3.Row, now: datetime) -> bool:
    """A pendiente row whose next try has come may be claimed again."""
    return row["state"] == SendState.PENDING and (_dt(row["next_try"]) or now) <= now


def _sent_row(row: sqlite3.Row) -> SentRow:
    return SentRow(
        when=_dt(row["updated_at"]), kind=Kind(row["kind"]), code=row["code"],
        recipient=row["recipient"], to=row["to"], invoices=row["invoices"],
        subject=row["subject"], state=SendState(row["state"]), reason=row["reason"],
        reason_code=row["reason_code"],
    )
