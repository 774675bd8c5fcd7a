"""What only the PostgreSQL ledger has: its URL, password, schema version, lock timeout,
the claim race between connections, the move of a folder's SQLite history, and
`cobranza ledger migrate` (the shared protocol is tests/test_ledger.py, on both)."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from cobranza.vocabulary import SendState
from sync.errors import CobranzaError
from sync.ledger import postgres
from sync.ledger.migrate import copy_ledger, take_from_sqlite
from sync.ledger.postgres import SCHEMA_VERSION, PgLedger
from sync.ledger.store import Ledger, LedgerBusy
from sync.ledger.url import ledger_url, redacted
from tests.cli import cobranza
from tests.test_ledger import notice

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def test_redacted_hides_every_password() -> None:
    assert redacted("postgresql://cobranza:s3creto@db.local:5432/cobranza") == (
        "postgresql://cobranza:***@db.local:5432/cobranza")
    assert redacted("postgresql://cobranza@db.local/cobranza") == (
        "postgresql://cobranza@db.local/cobranza")
    assert redacted("postgresql://db/c?password=s3creto&sslmode=require") == (
        "postgresql://db/c?password=***&sslmode=require")


def test_a_url_that_is_not_postgresql_is_refused_in_spanish(monkeypatch) -> None:
    monkeypatch.delenv("COBRANZA_LEDGER_URL", raising=False)
    assert ledger_url() is None
    with pytest.raises(CobranzaError) as info:
        ledger_url("mysql://u:clave@h/db")
    assert str(info.value) == (
        "El registro de envíos mysql://u:***@h/db no es una URL de PostgreSQL (use "
        "postgresql://usuario@servidor:5432/base en COBRANZA_LEDGER_URL o --ledger-url).")


def test_schema_is_created_once_with_its_version(pg_server) -> None:
    url = pg_server.new_database()
    PgLedger(url, "a").close()
    PgLedger(url, "b").close()
    with psycopg.connect(url) as db:
        assert db.execute("SELECT version FROM schema_version").fetchall() == [
            (SCHEMA_VERSION,)]


def test_a_newer_schema_is_refused(pg_server) -> None:
    url = pg_server.new_database()
    PgLedger(url, "a").close()
    with psycopg.connect(url) as db:
        db.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(CobranzaError, match="tiene el esquema 99, más nuevo"):
        PgLedger(url, "a")


def test_password_comes_from_the_keyring(pg_server, monkeypatch) -> None:
    """A role with a password, a URL without one: the keyring's secret is used; a wrong
    one is a Spanish error that never shows it."""
    url = pg_server.new_database()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("DROP ROLE IF EXISTS cobrador")
        db.execute("CREATE ROLE cobrador LOGIN PASSWORD 'clave-del-llavero'")
    asked: list[str] = []
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.setattr(postgres, "keyring_secret",
                        lambda name: asked.append(name) or "clave-del-llavero")
    # password is only checked over a password method: trust lets anything in, so check
    # that the secret reaches libpq (the connection's own record of it)
    user_url = url.replace("postgres@", "cobrador@")
    conn = postgres.connect(user_url)
    try:
        assert conn.info.password == "clave-del-llavero"
    finally:
        conn.close()
    assert asked == ["ledger-password"]
    monkeypatch.setenv("PGPASSWORD", "de-entorno")
    conn = postgres.connect(user_url)
    try:
        assert conn.info.password == "de-entorno"  # libpq's own source wins
    finally:
        conn.close()


def test_a_lock_held_too_long_is_ledger_busy(pg_server) -> None:
    url = pg_server.new_database()
    with PgLedger(url, "libro", busy_timeout=0.2) as ledger:
        holder = psycopg.connect(url)
        holder.execute("SELECT pg_advisory_xact_lock(hashtextextended('libro', 0))")
        try:
            with pytest.raises(LedgerBusy) as info:
                ledger.claim(notice(), "m1", NOW)
        finally:
            holder.rollback()
            holder.close()
        assert str(info.value) == (
            f"El registro de envíos {url} está ocupado por otro proceso desde hace más de "
            "0.2 s; se reintentará en el próximo ciclo.")
        assert ledger.claim(notice(), "m1", NOW)


def test_racing_claims_on_separate_connections_give_each_message_once(pg_server) -> None:
    url = pg_server.new_database()
    wins: list[int] = []
    start = threading.Barrier(4)

    def claimer(n: int) -> None:
        with PgLedger(url, "libro") as ledger:
            start.wait()
            wins.extend(n for i in range(30) if ledger.claim(
                notice(f"C{i}", ("F1", "F2")), f"m{i}", NOW))

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(wins) == 30
    with psycopg.connect(url) as db:
        assert db.execute("SELECT count(*) FROM sends WHERE state = 'enviando'").fetchone() \
            == (60,)


def _sqlite_ledger(path: Path, book: str) -> None:
    with Ledger.open(path, NOW, book) as ledger:
        ledger.adopt((), NOW)
        ledger.claim(notice("C1", ("F1",)), "m1", NOW)
        ledger.record("m1", SendState.SENT, None, NOW)
        ledger.claim(notice("C2", ("F9",)), "m2", NOW)


def test_a_folders_sqlite_history_moves_into_postgresql(pg_server, tmp_path) -> None:
    url = pg_server.new_database()
    path = tmp_path / "ledger.sqlite"
    _sqlite_ledger(path, "libro")
    _sqlite_ledger(path, "otro")
    with PgLedger.open(url, NOW, "libro") as ledger:
        assert take_from_sqlite(ledger, path, None) == 2
        assert take_from_sqlite(ledger, path, None) == 0  # moved: nothing left
        assert [(r.recipient, r.state) for r in ledger.rows()] == [
            ("C1", "enviado"), ("C2", "enviando")]
        assert not ledger.claim(notice("C1", ("F1",)), "m1", NOW)
    with sqlite3.connect(path) as db:  # the other workbook stays where it was
        assert db.execute("SELECT DISTINCT book FROM sends").fetchall() == [("otro",)]


def test_migrate_copies_a_ledger_and_a_second_run_adds_nothing(pg_server, tmp_path) -> None:
    url = pg_server.new_database()
    book = tmp_path / "libro.xlsm"
    book.write_bytes(b"")  # the command names the workbook; only its folder is read here
    path = tmp_path / ".cobranza" / "ledger.sqlite"
    _sqlite_ledger(path, "libro")
    _sqlite_ledger(path, "otro")
    secret = url.replace("postgres@", "postgres:clave@")
    first = cobranza("ledger", "migrate", "--to", secret, book).stdout
    shown = secret.replace(":clave@", ":***@")
    assert first.splitlines() == [
        f"Registro {path} copiado a {shown}: books 2 filas nuevas, paths 0 filas nuevas, "
        "inbound 0 filas nuevas, sends 4 filas nuevas.",
        "Para usarlo, defina COBRANZA_LEDGER_URL en cada equipo (o --ledger-url)."]
    with psycopg.connect(url) as db:
        before = db.execute("SELECT book, key, state, message_id FROM sends ORDER BY 1, 2"
                            ).fetchall()
    assert copy_ledger(path, url) == {"books": 0, "paths": 0, "inbound": 0, "sends": 0}
    with psycopg.connect(url) as db:
        assert db.execute("SELECT book, key, state, message_id FROM sends ORDER BY 1, 2"
                          ).fetchall() == before
    assert [(b, s) for b, _, s, _ in before] == [
        ("libro", "enviado"), ("libro", "enviando"), ("otro", "enviado"), ("otro", "enviando")]
    missing = cobranza("ledger", "migrate", "--to", secret, tmp_path / "x" / "y.xlsm",
                       check=False)
    assert missing.returncode == 2
    assert missing.stderr == (f"Error: No existe el registro de envíos "
                              f"{tmp_path / 'x' / '.cobranza' / 'ledger.sqlite'}; nada que "
                              "migrar.\n")
