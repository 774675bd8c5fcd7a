"""What the mail provider has been sent, kept in the ledger file: the pacing's memory.

Each message the provider took (enviado, or incierto: it may have) carries, on its
ledger rows, the instant it went (`sent_at`, with microseconds) and its recipients
(To + Cc), for `Correos por minuto` (rolling 60 s) and `Destinatarios por día` (rolling
24 h); the provider's last "slow down" replies in a row and when sending may resume are
one row of `provider_pause` (`sync.mail.pacing`), made at the first such reply.

The sends counted are the mailbox's, not one workbook's: every workbook whose ledger is
this file counts (they send through the same COBRANZA_SMTP_* mailbox). The columns are
added to an older file on first use: no new table, so a ledger grows by no page for it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sync.ledger.store import LedgerCore

_COLUMNS = (("sent_at", "TEXT"), ("recipients", "INTEGER NOT NULL DEFAULT 0"))
_PAUSE = ("CREATE TABLE IF NOT EXISTS provider_pause (id INTEGER PRIMARY KEY CHECK (id = 1), "
          "throttles INTEGER NOT NULL, resume_at TEXT)")


def _stamp(moment: datetime) -> str:
    """UTC with microseconds: fixed width, so text order is time order."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class ProviderLog:
    """The provider's sends and pause, in `ledger`'s file."""

    def __init__(self, ledger: LedgerCore) -> None:
        self.ledger = ledger
        present = ledger._columns("sends")  # noqa: SLF001
        missing = [(name, kind) for name, kind in _COLUMNS if name not in present]
        if missing:
            with ledger._write() as db:  # noqa: SLF001 - same file, same transactions
                present = self.ledger._columns("sends")  # noqa: SLF001 - SQLite: no lock
                for name, kind in missing:
                    if name not in present:
                        db.execute(f"ALTER TABLE sends ADD COLUMN {name} {kind}")

    def sends_since(self, since: datetime) -> list[tuple[datetime, int]]:
        """(instant, recipients) of every message sent after `since`, oldest first."""
        rows = self.ledger._read(  # noqa: SLF001
            "SELECT MAX(sent_at) AS at, MAX(recipients) AS recipients FROM sends "
            "WHERE sent_at > ? GROUP BY book, message_id ORDER BY at", (_stamp(since),))
        return [(datetime.fromisoformat(r["at"]), r["recipients"]) for r in rows]

    def add(self, at: datetime, recipients: int, message_id: str) -> None:
        with self.ledger._write() as db:  # noqa: SLF001
            db.execute("UPDATE sends SET sent_at = ?, recipients = ? "
                       "WHERE book = ? AND message_id = ?",
                       (_stamp(at), recipients, self.ledger.book, message_id))

    def pause(self) -> tuple[int, datetime | None]:
        """(throttling replies in a row, when sending may resume)."""
        tables = self.ledger._has_table("provider_pause")  # noqa: SLF001
        rows = self.ledger._read(  # noqa: SLF001
            "SELECT throttles, resume_at FROM provider_pause WHERE id = 1") if tables else []
        if not rows:
            return 0, None
        resume = rows[0]["resume_at"]
        return rows[0]["throttles"], datetime.fromisoformat(resume) if resume else None

    def set_pause(self, throttles: int, resume_at: datetime | None) -> None:
        with self.ledger._write() as db:  # noqa: SLF001
            db.execute(_PAUSE)
            db.execute("INSERT INTO provider_pause VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE "
                       "SET throttles = excluded.throttles, resume_at = excluded.resume_at",
                       (throttles, _stamp(resume_at) if resume_at else None))
