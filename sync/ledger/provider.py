"""What the mail provider has been sent, kept in the ledger file: the pacing's memory.

One row per message the provider took (enviado, or incierto: it may have), with the
instant it went and its recipients (To + Cc), for `Correos por minuto` (rolling 60 s)
and `Destinatarios por día` (rolling 24 h); and one row with the provider's last
"slow down" replies in a row and when sending may resume (`sync.mail.pacing`).

The rows are the mailbox's, not one workbook's: every workbook whose ledger is this file
counts (they send through the same COBRANZA_SMTP_* mailbox). Rows older than two days
are deleted as new ones are written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.ledger.store import Ledger

KEEP = timedelta(days=2)
_TABLES = (
    "CREATE TABLE IF NOT EXISTS provider_sends (at TEXT NOT NULL, recipients INTEGER NOT NULL, "
    "book TEXT NOT NULL, message_id TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS provider_sends_at ON provider_sends(at)",
    "CREATE TABLE IF NOT EXISTS provider_pause (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "throttles INTEGER NOT NULL, resume_at TEXT)",
)


def _stamp(moment: datetime) -> str:
    """UTC with microseconds: fixed width, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class ProviderLog:
    """The provider's sends and pause, in `ledger`'s file."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        with ledger._write() as db:  # noqa: SLF001 - same file, same transactions
            for statement in _TABLES:
                db.execute(statement)

    def sends_since(self, since: datetime) -> list[tuple[datetime, int]]:
        """(instant, recipients) of every message sent after `since`, oldest first."""
        rows = self.ledger._read(  # noqa: SLF001
            "SELECT at, recipients FROM provider_sends WHERE at > ? ORDER BY at",
            (_stamp(since),))
        return [(datetime.fromisoformat(r["at"]), r["recipients"]) for r in rows]

    def add(self, at: datetime, recipients: int, message_id: str) -> None:
        with self.ledger._write() as db:  # noqa: SLF001
            db.execute("INSERT INTO provider_sends VALUES (?, ?, ?, ?)",
                       (_stamp(at), recipients, self.ledger.book, message_id))
            db.execute("DELETE FROM provider_sends WHERE at < ?", (_stamp(at - KEEP),))

    def pause(self) -> tuple[int, datetime | None]:
        """(throttling replies in a row, when sending may resume)."""
        rows = self.ledger._read(  # noqa: SLF001
            "SELECT throttles, resume_at FROM provider_pause WHERE id = 1")
        if not rows:
            return 0, None
        resume = rows[0]["resume_at"]
        return rows[0]["throttles"], datetime.fromisoformat(resume) if resume else None

    def set_pause(self, throttles: int, resume_at: datetime | None) -> None:
        with self.ledger._write() as db:  # noqa: SLF001
            db.execute("INSERT INTO provider_pause VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
                       "SET throttles = excluded.throttles, resume_at = excluded.resume_at",
                       (throttles, _stamp(resume_at) if resume_at else None))
