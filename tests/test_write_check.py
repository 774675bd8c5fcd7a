"""A package the write-back could not handle stops the sync before anything is sent.

Every workbook here is a real one (`cobranza init --demo`, synced once so its output
sheets have tables, a drawing and a chart), with one member damaged the way a crashed
tool or a bad copy leaves it. The sync runs against a real SMTP server.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from lxml import etree

from sync.cycle import process, run_cycle
from sync.errors import WorkbookError
from sync.ledger.store import Ledger, ledger_path
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.smtp_server import SmtpTestServer, _Handler

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
AT = datetime(2026, 12, 1, 10, 0)  # first business day of the month: a full batch is due
BACKUP = "libro-20261201-100000.xlsm"  # the dry run's backup, in .cobranza/backups
REMEDY = f"Ábralo en Excel y guárdelo de nuevo, o restaure la copia {BACKUP} de .cobranza/backups."

Members = dict[str, bytes]


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Path:
    """A demo workbook after a dry run: every output sheet with its tables, Tablero with
    its drawing and chart, and a backup of the previous version."""
    folder = tmp_path_factory.mktemp("synced")
    book = create_workbook(folder / "libro.xlsm", demo=True, as_of=date(2026, 12, 1),
                           invoices=40)
    run_cycle(book, AT, dry_run=True)
    return book


def damaged(synced: Path, folder: Path, change: Callable[[Members], None]) -> Path:
    """A copy of `synced` (and its backups) in `folder` with `change` applied to its members."""
    with zipfile.ZipFile(synced) as z:
        members = {name: z.read(name) for name in z.namelist()}
    change(members)
    folder.mkdir(parents=True, exist_ok=True)
    book = folder / "libro.xlsm"
    with zipfile.ZipFile(book, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    shutil.copytree(synced.parent / ".cobranza", folder / ".cobranza")
    return book


def part_of(synced: Path, sheet: str, kind: str) -> str:
    """The member of `sheet`'s first relationship of `kind` ("table", "drawing")."""
    with zipfile.ZipFile(synced) as z:
        ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
              "p": "http://schemas.openxmlformats.org/package/2006/relationships"}
        workbook = etree.fromstring(z.read("xl/workbook.xml"))
        rid = workbook.xpath(f'//m:sheet[@name="{sheet}"]/@r:id', namespaces={
            **ns, "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"})[0]
        rels = etree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
        target = rels.xpath(f'//p:Relationship[@Id="{rid}"]/@Target', namespaces=ns)[0]
        sheet_rels = etree.fromstring(z.read(f"xl/worksheets/_rels/{Path(target).name}.rels"))
        found = sheet_rels.xpath(f'//p:Relationship[contains(@Type, "/{kind}")]/@Target',
                                 namespaces=ns)[0]
    return f"xl/{found.removeprefix('../')}"


def truncate(part: str) -> Callable[[Members], None]:
    return lambda m: m.__setitem__(part, m[part][: len(m[part]) // 2])


def garbage(part: str) -> Callable[[Members], None]:
    return lambda m: m.__setitem__(part, b"esto no es XML")


def drop(part: str) -> Callable[[Members], None]:
    return lambda m: m.pop(part)


def edit(part: str, old: bytes, new: bytes) -> Callable[[Members], None]:
    def change(m: Members) -> None:
        assert old in m[part]
        m[part] = m[part].replace(old, new, 1)
    return change


def sent_or_claimed(book: Path) -> list[tuple[str, str]]:
    """(state, message id) of every message in the ledger but the skipped ones; no ledger
    at all is none."""
    path = ledger_path(book)
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT DISTINCT state, message_id FROM sends "
                          "WHERE state != 'omitido'").fetchall()


def test_a_damaged_content_types_part_is_exit_2_with_nothing_sent(synced, tmp_path):
    book = damaged(synced, tmp_path, truncate("[Content_Types].xml"))
    before = book.read_bytes()
    with SmtpTestServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
        env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}
        done = subprocess.run([*CLI, "sync", str(book), "--as-of", "2026-12-01T10:00"],
                              cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=180)
        assert server.messages == []
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        'Error: El libro "libro.xlsm" tiene dañada la parte interna "[Content_Types].xml" y '
        f"las hojas de salida no se pueden escribir; no se envió nada. {REMEDY}\n")
    assert sent_or_claimed(book) == []
    assert book.read_bytes() == before


CASES = {
    "content types not XML": (garbage("[Content_Types].xml"), "[Content_Types].xml", False),
    "styles missing": (drop("xl/styles.xml"), "xl/styles.xml", True),
    "styles without fonts": (
        lambda m: m.__setitem__("xl/styles.xml", re.sub(
            rb"<fonts\b.*?</fonts>", b"", m["xl/styles.xml"], flags=re.S)),
        "xl/styles.xml", False),
    "input table part without id": (
        edit("xl/tables/table1.xml", b' id="1"', b""), "xl/tables/table1.xml", False),
    "workbook sheet without sheetId": (
        edit("xl/workbook.xml", b' sheetId="9"', b""), "xl/workbook.xml", False),
    "Tablero drawing relationships": (
        garbage("xl/drawings/_rels/drawing1.xml.rels"), "xl/drawings/_rels/drawing1.xml.rels",
        False),
    "output sheet relationships": (
        garbage("xl/worksheets/_rels/sheet8.xml.rels"), "xl/worksheets/_rels/sheet8.xml.rels",
        False),
    "calc chain": (lambda m: m.__setitem__("xl/calcChain.xml", b"<calcChain"),
                   "xl/calcChain.xml", False),
}


@pytest.mark.parametrize("case", CASES)
def test_a_package_the_write_could_not_handle_sends_nothing(synced, tmp_path, case):
    change, part, missing = CASES[case]
    book = damaged(synced, tmp_path, change)
    read_book(book)  # the input sheets read fine: only the write-back would fail
    before = book.read_bytes()
    problem = ('Al libro "libro.xlsm" le falta' if missing
               else 'El libro "libro.xlsm" tiene dañada')
    with SmtpTestServer() as server, pytest.MonkeyPatch.context() as env:
        for key, value in server.env().items():
            env.setenv(key, value)
        with pytest.raises(WorkbookError) as raised:
            run_cycle(book, AT)
        assert server.messages == []
    assert str(raised.value) == (
        f'{problem} la parte interna "{part}" y las hojas de salida no se pueden escribir; '
        f"no se envió nada. {REMEDY}")
    assert sent_or_claimed(book) == []
    assert book.read_bytes() == before


def test_damaged_parts_the_write_replaces_stop_nothing(synced, tmp_path, monkeypatch):
    """An output sheet's own table, drawing and chart are regenerated, not read."""
    alertas = part_of(synced, "Alertas", "table")
    drawing = part_of(synced, "Tablero", "drawing")

    def change(m: Members) -> None:
        for part in (alertas, drawing, "xl/charts/chart1.xml"):
            m[part] = b"esto no es XML"

    book = damaged(synced, tmp_path, change)
    with SmtpTestServer() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        result = run_cycle(book, AT)
        received = len(server.messages)
    assert result.written and {"Alertas", "Tablero"} <= set(result.changed)
    assert received == result.counts()["enviado"] > 0
    with zipfile.ZipFile(book) as z:
        for part in (part_of(book, "Alertas", "table"), part_of(book, "Tablero", "drawing"),
                     "xl/charts/chart1.xml"):
            etree.fromstring(z.read(part))  # regenerated: well-formed again
    wb = openpyxl.load_workbook(book)
    assert wb["Alertas"].tables and wb["Tablero"]._charts


class _DamagingHandler(_Handler):
    """Accepts each message; at the first one, someone saves a damaged workbook."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.server.damage is not None:
            self.server.damage()
            self.server.damage = None
        return await super().handle_DATA(server, session, envelope)


class DamagingSmtpServer(SmtpTestServer):
    damage: Callable[[], None] | None = None

    def _handler(self) -> _DamagingHandler:
        return _DamagingHandler(self)


def test_a_package_damaged_while_sending_keeps_the_sends_and_reports_the_write(
        synced, tmp_path, monkeypatch):
    book = damaged(synced, tmp_path, lambda m: None)
    spoiled = damaged(synced, tmp_path / "dañado", drop("xl/styles.xml"))
    server = DamagingSmtpServer()
    server.damage = lambda: os.replace(spoiled, book)
    with server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        result = run_cycle(book, AT)
        received = len(server.messages)
    assert not result.written
    assert result.write_error == (
        'Al libro "libro.xlsm" le falta la parte interna "xl/styles.xml" y las hojas de '
        f"salida no se pueden escribir; el libro no se modificó. {REMEDY}")
    assert received == result.counts()["enviado"] > 0
    assert sorted(s for s, _ in sent_or_claimed(book)) == ["enviado"] * received
    # the next cycle, as long as the package stays damaged, sends nothing and says why
    with pytest.raises(WorkbookError, match="no se envió nada"):
        run_cycle(book, AT)


def test_the_service_logs_one_line_per_cycle_and_sends_nothing(synced, tmp_path):
    book = damaged(synced, tmp_path, drop("xl/styles.xml"))
    log = tmp_path / "servicio.log"
    with SmtpTestServer() as server, log.open("w") as out:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
        env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}
        proc = subprocess.Popen(
            [*CLI, "run", str(book), "--every-seconds", "0.3", "--as-of", "2026-12-01T10:00",
             "--as-of-step", "10"], cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
            stderr=out)
        try:
            deadline = time.monotonic() + 120
            while log.read_text(encoding="utf-8").count("ERROR libro.xlsm") < 3:
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(60) == 0
        assert server.messages == []
    lines = log.read_text(encoding="utf-8").splitlines()
    errors = [line for line in lines if " ERROR " in line]
    message = ('Al libro "libro.xlsm" le falta la parte interna "xl/styles.xml" y las hojas '
               f"de salida no se pueden escribir; no se envió nada. {REMEDY}")
    assert len(errors) >= 3
    assert {line.split(" ERROR ", 1)[1] for line in errors} == {
        f"libro.xlsm (inicio): {message}", f"libro.xlsm (ciclo): {message}"}
    assert not any("Traceback" in line for line in lines)
    assert sent_or_claimed(book) == []


def test_output_sheets_are_the_sheets_a_cycle_lays_out(synced, tmp_path):
    from sync.cycle import OUTPUT_SHEETS

    book = read_book(synced)
    now = AT.replace(tzinfo=book.config.zone)
    with Ledger.open(tmp_path / "ledger.sqlite", now, book.config.workbook_id) as ledger:
        done = process(book, now, ledger, None, dry_run=True)
    assert tuple(s.name for s in done.sheets) == OUTPUT_SHEETS
