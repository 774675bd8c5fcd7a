"""`cobranza status` reports any workbook a cycle ran on: by `cobranza sync`, by the ribbon
or by the service, and says which of them ran the last cycle and when (issue 11).

Real `cobranza sync` / `cobranza status` subprocesses, the ribbon handler on a real file
(`FileBook`), a real aiosmtpd server.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime

from addin import ribbon
from addin.book import FileBook
from tests.cli import cobranza
from tests.test_ledger_location import AT, open_in_excel, smtp_env  # noqa: F401
from tests.test_service import AS_OF, small_book

WHEN = r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d"


def report(book) -> tuple[int, str, dict]:
    """`cobranza status` as text (exit code, stdout) and as JSON."""
    text = cobranza("status", book, check=False)
    state = json.loads(cobranza("status", book, "--json", check=False).stdout)
    return text.returncode, text.stdout, state


def test_status_after_a_plain_sync_names_it_and_gives_the_counts(tmp_path, smtp_env):  # noqa: F811
    book = small_book(tmp_path)
    before = datetime.now().astimezone().replace(microsecond=0)
    out = cobranza("sync", book, "--as-of", AT, server=smtp_env).stdout
    assert "Envíos: 2 enviados, 2 omitidos\n" in out  # two statements; NUEVA too late
    code, text, state = report(book)
    assert code == 0
    lines = text.splitlines()
    assert lines[0] == f"Libro: {book.resolve()}"
    assert lines[1] == "Servicio: no se ha ejecutado sobre este libro"
    assert re.fullmatch(rf"Último ciclo: {WHEN}, por cobranza sync \(correcto; ciclos "
                        r"registrados: 1\)", lines[2])
    assert lines[3:] == [
        "Envíos: 2 enviados, 0 pendientes, 2 omitidos, 0 fallidos, 0 inciertos",
        "0 errores en los datos (vea la hoja Errores)",
        "Hojas de salida: escritas",
        f"Registro de envíos: {book.parent / '.cobranza' / 'ledger.sqlite'}",
        "  En el registro (todos los ciclos): 2 enviados, 2 omitidos",
        "Pendiente: nada",
    ]
    assert state["source"] == "cobranza sync"
    assert datetime.fromisoformat(state["last_cycle"]) >= before
    assert state["as_of"] == "2026-12-01T10:00:00-06:00"


def test_status_after_the_ribbon_names_it_and_gives_the_counts(tmp_path, smtp_env):  # noqa: F811
    book = small_book(tmp_path)
    open_in_excel(book)  # as it is while the ribbon is used: the sheets wait
    io = FileBook(book)
    assert ribbon.enviar_recordatorios(io, AS_OF) == {"enviado": 2, "omitido": 2}
    assert len(smtp_env.received()) == 2
    code, text, state = report(book)
    assert code == 0
    lines = text.splitlines()
    assert re.fullmatch(r"Último ciclo: 01/12/2026 10:00:00, por cinta de Excel \(correcto; "
                        r"ciclos registrados: 1\)", lines[2])
    deferred = ("El libro está abierto en Excel (libro.xlsm); las hojas de salida se "
                "escribirán cuando se cierre.")
    assert lines[3:] == [
        "Envíos: 2 enviados, 0 pendientes, 2 omitidos, 0 fallidos, 0 inciertos",
        "0 errores en los datos (vea la hoja Errores)",
        f"Hojas de salida: pendientes — {deferred}",
        f"Registro de envíos: {book.parent / '.cobranza' / 'ledger.sqlite'}",
        "  En el registro (todos los ciclos): 2 enviados, 2 omitidos",
        "Pendiente:",
        "  libro abierto: 1",
        f"    {deferred}",
    ]
    assert (state["source"], state["written"]) == ("cinta de Excel", False)


def test_status_reads_the_postgresql_ledger(tmp_path, smtp_env, pg_server):  # noqa: F811
    """Synced against PostgreSQL: status counts what the database holds, the URL shown
    without its password; a database that cannot be reached is one Spanish line."""
    book = small_book(tmp_path)
    url = pg_server.new_database()
    with_password = url.replace("postgres@", "postgres:clave-secreta@")
    cobranza("sync", book, "--as-of", AT, "--ledger-url", url, server=smtp_env)
    assert not (book.parent / ".cobranza" / "ledger.sqlite").exists()
    text = cobranza("status", book, "--ledger-url", with_password).stdout
    shown = with_password.replace(":clave-secreta@", ":***@")
    assert f"Registro de envíos: {shown}\n  En el registro (todos los ciclos): 2 enviados, " \
           "2 omitidos\n" in text
    state = json.loads(cobranza("status", book, "--json", check=False,
                                extra_env={"COBRANZA_LEDGER_URL": url}).stdout)
    assert state["ledger"] == {"where": url, "messages": {"enviado": 2, "omitido": 2}}
    gone = with_password.rsplit(":", 1)[0] + ":1/nada"  # nothing listens on port 1
    text = cobranza("status", book, "--ledger-url", gone).stdout
    assert "clave-secreta" not in text
    assert "Registro de envíos: No se pudo usar el registro de envíos en PostgreSQL " \
           "postgresql://postgres:***@127.0.0.1:1/nada" in text


def test_switching_a_folder_to_postgresql_keeps_its_history(
    tmp_path, smtp_env, pg_server, monkeypatch,  # noqa: F811
):
    """A workbook synced on SQLite, then the same instant with COBRANZA_LEDGER_URL (as the
    ribbon gets it): the history moves into the database, nothing is sent again; the
    ribbon's Enviar recordatorios then also finds everything sent."""
    book = small_book(tmp_path)
    cobranza("sync", book, "--as-of", AT, server=smtp_env)
    assert len(smtp_env.received()) == 2
    url = pg_server.new_database()
    out = cobranza("sync", book, "--as-of", AT, server=smtp_env,
                   extra_env={"COBRANZA_LEDGER_URL": url}).stdout
    assert "\nEnvíos: ninguno\n" in out
    assert len(smtp_env.received()) == 2
    with sqlite3.connect(book.parent / ".cobranza" / "ledger.sqlite") as db:
        assert db.execute("SELECT count(*) FROM sends").fetchone() == (0,)  # moved out
    monkeypatch.setenv("COBRANZA_LEDGER_URL", url)
    assert ribbon.enviar_recordatorios(FileBook(book), AS_OF) == {}
    assert len(smtp_env.received()) == 2
    state = json.loads(cobranza("status", book, "--json", check=False,
                                extra_env={"COBRANZA_LEDGER_URL": url}).stdout)
    assert state["ledger"] == {"where": url, "messages": {"enviado": 2, "omitido": 2}}
