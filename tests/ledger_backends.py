"""The ledger's back ends for tests: one suite, run on SQLite and on PostgreSQL.

`ledger_backend` is parametrized ["sqlite", "postgres"]; each test gets an empty ledger
of its own (a file in tmp_path, or a fresh database on the session's PostgreSQL server).
`execute` runs SQL written in SQLite's dialect (as the protocol is) on the same store, so
a test can plant rows an older release or another process wrote.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from sync.ledger.postgres import PgLedger, _translate
from sync.ledger.store import BUSY_TIMEOUT_S, Ledger, LedgerCore


class Backend:
    def __init__(self, name: str, where: str) -> None:
        self.name, self.where = name, where  # a file path, or a database URL

    def handle(self, book: str, busy_timeout: float = BUSY_TIMEOUT_S) -> LedgerCore:
        if self.name == "sqlite":
            return Ledger(Path(self.where), book, busy_timeout)
        return PgLedger(self.where, book, busy_timeout)

    def open(self, now: datetime, book: str) -> LedgerCore:
        if self.name == "sqlite":
            return Ledger.open(Path(self.where), now, book)
        return PgLedger.open(self.where, now, book)

    def execute(self, sql: str, args: tuple = ()) -> list[tuple]:
        if self.name == "sqlite":
            with sqlite3.connect(self.where) as db:
                return db.execute(sql, args).fetchall()
        with psycopg.connect(self.where, autocommit=True) as db:
            cursor = db.execute(_translate(sql), args)
            return cursor.fetchall() if cursor.description else []


def make_backend(request: pytest.FixtureRequest, name: str, tmp_path: Path,
                 label: str = "l") -> Backend:
    if name == "sqlite":
        return Backend(name, str(tmp_path / f"{label}.sqlite"))
    return Backend(name, request.getfixturevalue("pg_server").new_database())


@pytest.fixture(params=["sqlite", "postgres"])
def ledger_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    return make_backend(request, request.param, tmp_path)
