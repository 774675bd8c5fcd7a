"""The `cobranza` command as a user runs it: a real subprocess, real files, exact messages.

Fatal problems (missing file, not a workbook, missing sheet or column, an existing file
for `init`) exit 2 with one Spanish sentence on stderr and write nothing; `cobranza demo`
builds, syncs and summarizes a demo folder; an open workbook (Excel owner file) still
gets its notices sent, and its outputs are deferred without touching the file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from cobranza.book.records import STATUSES
from sync.cli import DEMO_AS_OF
from sync.cycle import compute, localize
from sync.ledger.store import Ledger, ledger_path
from sync.workbook.demo import generate
from sync.xlsx.reader import read_book

REPO = Path(__file__).resolve().parents[1]
# Exactly what the installed `cobranza` console script runs (sync.launch:console).
CLI = [sys.executable, "-c", "from sync.launch import console; console()"]
HINT = "Agréguela o use la plantilla (cobranza init)."
# Bad demo rows of Facturas (sync.workbook.demo._bad_rows) that the reader leaves out.
BAD_INVOICE_ROWS = 6


# Every output sheet changes on a first sync.
ALL_SHEETS = "Alertas, Tablero, Agenda, Cartera, Riesgo, Errores, Envíos, Vista previa, Respuestas"


def cobranza(*args: object, cwd: Path, smtp: dict[str, str] | None = None):
    """Run `cobranza ARGS` as a subprocess; no SMTP settings unless given (outbox)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
    env |= {"PYTHONPATH": str(REPO), **(smtp or {})}
    return subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180, check=False)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def assert_fatal(done: subprocess.CompletedProcess, sentence: str) -> None:
    """Exit 2, nothing on stdout, exactly one line on stderr: the Spanish sentence."""
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr == f"Error: {sentence}\n"


@pytest.fixture(scope="module")
def template_book(tmp_path_factory) -> Path:
    """An empty workbook made by `cobranza init` (the committed template)."""
    folder = tmp_path_factory.mktemp("plantilla")
    done = cobranza("init", folder / "libro.xlsm", cwd=folder)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"Libro creado: {folder / 'libro.xlsm'}\n"
    return folder / "libro.xlsm"


def edited_copy(template: Path, folder: Path, name: str, edit) -> Path:
    """The template opened with openpyxl (macros kept), edited, saved under `name`."""
    folder.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.load_workbook(template, keep_vba=True)
    edit(wb)
    path = folder / name
    wb.save(path)
    return path


# ============================================================ fatal: exit 2, nothing written


def test_sync_of_a_missing_file_says_so_and_creates_nothing(tmp_path):
    missing = tmp_path / "nada.xlsm"
    done = cobranza("sync", missing, "--as-of", "2026-12-01T10:00", cwd=tmp_path)
    assert_fatal(done, f'No se encuentra el libro "{missing}"; revise la ruta del archivo.')
    assert tree(tmp_path) == {}


def test_sync_of_a_text_file_renamed_xlsm(tmp_path):
    fake = tmp_path / "cartera.xlsm"
    fake.write_text("Factura;Cliente;Importe\nF-1;C1;100\n", encoding="utf-8")
    before = tree(tmp_path)
    done = cobranza("sync", fake, "--as-of", "2026-12-01T10:00", cwd=tmp_path)
    assert_fatal(done, 'El archivo "cartera.xlsm" no es un libro de Excel (.xlsx o .xlsm); '
                       "revise la ruta.")
    assert tree(tmp_path) == before


def test_sync_of_a_workbook_without_the_pagos_sheet(template_book, tmp_path):
    def drop_pagos(wb):
        del wb["Pagos"]

    book = edited_copy(template_book, tmp_path, "sin-pagos.xlsm", drop_pagos)
    before = tree(tmp_path)
    done = cobranza("sync", book, "--as-of", "2026-12-01T10:00", cwd=tmp_path)
    assert_fatal(done, f'El libro "sin-pagos.xlsm" no tiene la hoja "Pagos". {HINT}')
    assert tree(tmp_path) == before


def test_sync_of_facturas_without_the_vencimiento_column(template_book, tmp_path):
    def rename_due(wb):
        ws = wb["Facturas"]
        (cell,) = [c for c in ws[1] if c.value == "Vencimiento"]
        cell.value = "Fecha límite"
        table = ws.tables["tblFacturas"]
        for column in table.tableColumns:
            if column.name == "Vencimiento":
                column.name = "Fecha límite"

    book = edited_copy(template_book, tmp_path, "sin-vencimiento.xlsm", rename_due)
    before = tree(tmp_path)
    done = cobranza("sync", book, "--as-of", "2026-12-01T10:00", cwd=tmp_path)
    assert_fatal(done, 'La hoja "Facturas" del libro "sin-vencimiento.xlsm" no tiene la '
                       f'columna "Vencimiento". {HINT}')
    assert tree(tmp_path) == before


def test_a_bad_as_of_is_refused_in_spanish_before_anything_runs(template_book, tmp_path):
    book = tmp_path / "libro.xlsm"
    book.write_bytes(template_book.read_bytes())
    before = tree(tmp_path)
    for bad in ("2026-13-01", "01/12/2026"):
        done = cobranza("sync", book, "--as-of", bad, cwd=tmp_path)
        assert done.returncode == 2
        assert done.stdout == ""
        assert done.stderr.splitlines()[-1].endswith(
            f'"{bad}" no es una fecha válida para --as-of '
            "(use AAAA-MM-DD o AAAA-MM-DDTHH:MM)."), done.stderr
    assert tree(tmp_path) == before


def test_init_refuses_to_overwrite_an_existing_file(tmp_path):
    book = tmp_path / "libro.xlsm"
    book.write_bytes(b"PK\x03\x04 el libro de otra persona")
    done = cobranza("init", book, cwd=tmp_path)
    assert_fatal(done, f'Ya existe el archivo "{book}"; no se sobrescribe. '
                       "Elija otro nombre o mueva el archivo existente.")
    assert tree(tmp_path) == {"libro.xlsm": b"PK\x03\x04 el libro de otra persona"}
    demo = cobranza("init", "--demo", book, cwd=tmp_path)
    assert demo.returncode == 2 and demo.stderr == done.stderr
    assert tree(tmp_path) == {"libro.xlsm": b"PK\x03\x04 el libro de otra persona"}


# ============================================================ cobranza demo


def test_demo_creates_the_folder_syncs_and_prints_the_summary(tmp_path):
    folder = tmp_path / "mi demo"
    done = cobranza("demo", "--dir", folder, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    book = folder / "cobranza-demo.xlsm"
    assert book.is_file()
    emls = sorted((folder / "salida").glob("*.eml"))
    lines = done.stdout.splitlines()

    # What the rules say about the produced workbook, computed here independently of the
    # subprocess: the summary must tell the same.
    parsed = read_book(book)
    computed = compute(parsed, localize(DEMO_AS_OF, parsed))
    statuses = Counter(computed.invoices["status"])
    alerts = Counter(computed.alerts["type"])
    data = generate(DEMO_AS_OF.date())
    assert len(computed.invoices) == len(data.invoices) - BAD_INVOICE_ROWS

    wb = openpyxl.load_workbook(book, read_only=True)
    errores = [r for r in wb["Errores"].iter_rows(min_row=5, values_only=True) if any(r)]
    with Ledger(ledger_path(book), parsed.config.workbook_id) as ledger:
        sent = Counter(r.state for r in ledger.rows())

    expected = [
        f"Libro de demostración creado: {book}",
        "Corte: 01/12/2026 10:00 (America/Mexico_City)",
        f"Facturas: {len(computed.invoices)}",
        *[f"  {s}: {statuses[s]}" for s in STATUSES if statuses[s]],
        f"Alertas: {sum(alerts.values())}",
        *[f"  {t}: {n}" for t, n in sorted(alerts.items())],
        f"Agenda: {len(computed.agenda)} llamadas",  # the demo has more than one
    ]
    assert lines[: len(expected)] == expected
    assert set(STATUSES) == {s for s in STATUSES if statuses[s]}  # the demo shows them all
    envios = lines[len(expected)]
    assert envios.startswith("Envíos: ")
    shown = {k: int(n) for n, k in (part.split(" ", 1)
                                    for part in envios.removeprefix("Envíos: ").split(", "))}
    assert {k: n for k, n in shown.items() if k in ("enviados", "omitidos")} == {
        "enviados": sent["enviado"], "omitidos": sent["omitido"]}
    assert shown["enviados"] == len(emls) > 0  # one .eml per message sent
    assert lines[len(expected) + 1:] == [
        f"{len(errores)} errores en los datos (vea la hoja Errores)",
        f"Hojas de salida actualizadas en {book}: {ALL_SHEETS}",
        "",
        f"Abra {book} y revise las hojas Alertas, Tablero, Agenda, Cartera, Riesgo, Envíos y"
        " Errores.",
        f"Los correos quedaron como archivos .eml en {folder / 'salida'}.",
    ]
    # every bad row the reader found is on the sheet (plus the planner's own rows)
    assert {(e.sheet, e.row, e.column) for e in computed.errors} <= {r[:3] for r in errores}
    assert len(computed.errors) >= 9


# ============================================================ an open workbook


def test_owner_file_sends_but_defers_the_outputs_then_writes_them_when_closed(tmp_path):
    book = tmp_path / "libro.xlsm"
    done = cobranza("init", "--demo", "--as-of", "2026-12-01", "--facturas", "40", book,
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    owner = tmp_path / "~$libro.xlsm"
    owner.write_bytes(b"\x0bUsuario de Excel" + b"\x00" * 40)  # what Excel leaves beside it
    before = book.read_bytes()

    done = cobranza("sync", book, "--as-of", "2026-12-01T10:00", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[-1] == ("Aviso: El libro está abierto en Excel (libro.xlsm); las hojas de "
                         "salida se escribirán cuando se cierre.")
    assert not any(line.startswith("Hojas de salida actualizadas") for line in lines)
    assert book.read_bytes() == before  # not a byte changed
    assert not (tmp_path / ".cobranza" / "backups").exists() or not any(
        (tmp_path / ".cobranza" / "backups").iterdir())

    # ... but the notices went out (outbox: no SMTP settings) and are in the ledger.
    (envios,) = [line for line in lines if line.startswith("Envíos: ")]
    sent = int(re.search(r"(\d+) enviados?\b", envios).group(1))
    emls = sorted(p.name for p in (tmp_path / "salida").glob("*.eml"))
    with Ledger(ledger_path(book), read_book(book).config.workbook_id) as ledger:
        rows = ledger.rows()
    enviados = [r for r in rows if r.state == "enviado"]
    assert len(emls) == len(enviados) == sent > 0

    # Excel closes the workbook: the next sync sends nothing again and writes every
    # message of the deferred run into Envíos.
    owner.unlink()
    done = cobranza("sync", book, "--as-of", "2026-12-01T10:05", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == f"Hojas de salida actualizadas en {book}: {ALL_SHEETS}"
    assert "enviado" not in next(ln for ln in done.stdout.splitlines() if ln.startswith("Env"))
    assert sorted(p.name for p in (tmp_path / "salida").glob("*.eml")) == emls
    wb = openpyxl.load_workbook(book, read_only=True)
    sheet = [r for r in wb["Envíos"].iter_rows(min_row=5, values_only=True) if any(r)]
    got = sorted((r[2], r[3], r[5] or "") for r in sheet if r[7] == "enviado")
    assert got == sorted((r.code, r.recipient, r.invoices) for r in enviados)
    assert datetime(2026, 12, 1, 10, 0) in {r[0] for r in sheet}


def test_every_command_line_error_is_in_spanish(tmp_path):
    bad_date = cobranza("sync", tmp_path / "libro.xlsm", "--as-of", "2026-13-01", cwd=tmp_path)
    no_path = cobranza("sync", cwd=tmp_path)
    no_command = cobranza("sincronizar", cwd=tmp_path)
    for done in (bad_date, no_path, no_command):
        assert done.returncode == 2
        english = re.findall(r"\busage\b|\bargument\b|required|invalid choice|the following",
                             done.stderr)
        assert english == [], done.stderr
    assert "faltan los argumentos: path" in no_path.stderr


def test_a_cycle_that_changes_nothing_leaves_the_workbook_alone(tmp_path):
    """Later cycles the same evening (customers waiting for tomorrow's window, a customer
    without email) change no output: the file is not rewritten and no backup is made."""
    book = tmp_path / "libro.xlsm"
    assert cobranza("init", book, "--demo", "--as-of", "2026-12-01", cwd=tmp_path).returncode == 0
    first = cobranza("sync", book, "--as-of", "2026-12-01T19:50", cwd=tmp_path)
    assert "pendiente" in first.stdout
    cobranza("sync", book, "--as-of", "2026-12-01T19:52", cwd=tmp_path)  # Vista previa empties
    saved, backups = book.read_bytes(), sorted((tmp_path / ".cobranza" / "backups").iterdir())
    again = cobranza("sync", book, "--as-of", "2026-12-01T19:58", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == (
        "Hojas de salida sin cambios desde la última sincronización."
    )
    assert book.read_bytes() == saved
    assert sorted((tmp_path / ".cobranza" / "backups").iterdir()) == backups
