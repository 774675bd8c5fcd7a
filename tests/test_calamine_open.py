"""calamine reads each input sheet's XML once (issue 18): the reader hands it a copy of
the package whose input sheets start with an empty <mergeCells>, made without inflating
them (`sync.xlsx.calamine_open`). The cells must read exactly as from the file."""

from __future__ import annotations

import io
import tempfile
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from cobranza.book.validate import SHEETS
from sync.cli import main as cli_main
from sync.workbook.init import create_workbook
from sync.xlsx import calamine_open
from sync.xlsx.calamine_open import STOPPER, open_workbook, package_copy
from sync.xlsx.package import Package


@pytest.fixture(scope="module")
def synced(tmp_path_factory) -> Path:
    """The demo workbook after one dry-run sync: input and output sheets."""
    book = tmp_path_factory.mktemp("copia") / "demo.xlsm"
    create_workbook(book, demo=True, as_of=date(2026, 11, 25), invoices=300)
    cli_main(["sync", str(book), "--dry-run", "--as-of", "2026-11-25T10:00",
              "--ledger", str(book.parent / "l.sqlite")])
    return book


def _sheet_parts(book: Path) -> dict[str, str]:
    with Package(book) as package:
        return {e.name: e.part for e in package.sheet_entries()}


def test_every_input_sheet_reads_the_same_cells_from_the_copy(synced) -> None:
    original = python_calamine.CalamineWorkbook.from_path(str(synced))
    copy = open_workbook(synced, SHEETS)
    assert copy.path != str(synced)  # the copy, not the file
    assert not Path(copy.path).exists()  # its name removed once calamine has it open
    for sheet in SHEETS:
        expected = original.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        assert copy.get_sheet_by_name(sheet).to_python(skip_empty_area=False) == expected
    rows = copy.get_sheet_by_name("Facturas").to_python()
    assert rows[1][0] == "F-000001" and isinstance(rows[1][2], date)  # Emisión, a date


def _copy(book: Path) -> zipfile.ZipFile:
    out = io.BytesIO()
    assert package_copy(book, SHEETS, out)
    return zipfile.ZipFile(out)


def test_each_input_sheet_text_is_the_stopper_then_the_original(synced) -> None:
    copy = _copy(synced)
    assert copy.testzip() is None  # every member's CRC-32 checks
    parts = _sheet_parts(synced)
    with zipfile.ZipFile(synced) as original:
        for sheet in SHEETS:
            text = original.read(parts[sheet])
            assert copy.read(parts[sheet]) == STOPPER + text
        kept = set(original.namelist()) - {parts[s] for s in parts if s not in SHEETS}
        assert set(copy.namelist()) == kept
        assert copy.read("xl/sharedStrings.xml") == original.read("xl/sharedStrings.xml")


def test_the_output_sheets_are_left_out(synced) -> None:
    names = _copy(synced).namelist()
    parts = _sheet_parts(synced)
    for sheet in ("Alertas", "Cartera", "Envíos", "Tablero"):
        assert parts[sheet] not in names
    out = io.BytesIO()
    package_copy(synced, SHEETS, out)
    out.seek(0)
    assert {"Alertas", "Facturas"} <= set(
        python_calamine.CalamineWorkbook.from_filelike(out).sheet_names)


def test_a_sheet_with_merged_cells_reads_the_same(tmp_path) -> None:
    book = tmp_path / "unido.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Facturas"
    ws.append(["Factura", "Cliente", "Notas"])
    ws.append(["F-1", "C1", "nota larga"])
    ws.merge_cells("C2:E2")
    ws.append(["F-2", "C2", 3.5])
    wb.save(book)
    original = python_calamine.CalamineWorkbook.from_path(str(book))
    copy = open_workbook(book, ["Facturas"])
    assert copy.path != str(book)
    assert (copy.get_sheet_by_name("Facturas").to_python()
            == original.get_sheet_by_name("Facturas").to_python()
            == [["Factura", "Cliente", "Notas"], ["F-1", "C1", "nota larga"],
                ["F-2", "C2", 3.5]])


def _with_sheet_text(book: Path, out: Path, part: str, text: bytes) -> Path:
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, text if info.filename == part else src.read(info))
    return out


@pytest.mark.parametrize("start", [
    b"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"UTF-8\"?>",  # a byte order mark
    b"<?xml version=\"1.0\" encoding=\"windows-1252\"?>",
])
def test_a_sheet_whose_text_must_stay_first_is_copied_as_it_is(synced, tmp_path, start) -> None:
    part = _sheet_parts(synced)["Pagos"]
    with zipfile.ZipFile(synced) as z:
        text = z.read(part)
    body = text[text.index(b"?>") + 2:]
    odd = _with_sheet_text(synced, tmp_path / "raro.xlsm", part, start + body)
    copy = _copy(odd)
    assert copy.read(part) == start + body  # untouched
    assert copy.read(_sheet_parts(odd)["Facturas"]).startswith(STOPPER)


def test_what_is_not_a_workbook_is_judged_by_calamine_as_before(tmp_path) -> None:
    bad = tmp_path / "roto.xlsm"
    bad.write_bytes(b"PK\x03\x04 no es un zip")
    with pytest.raises(Exception) as from_file:
        python_calamine.CalamineWorkbook.from_path(str(bad))
    with pytest.raises(type(from_file.value)):
        open_workbook(bad, SHEETS)


def test_a_copy_calamine_refuses_falls_back_to_the_file(synced, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def garbage(path, sheets, out) -> bool:
        out.write(b"PK no es un zip")
        return True

    monkeypatch.setattr(calamine_open, "package_copy", garbage)
    book = open_workbook(synced, SHEETS)
    assert book.path == str(synced)
    assert list(tmp_path.iterdir()) == []  # the refused copy removed
    assert book.get_sheet_by_name("Facturas").to_python()[1][0] == "F-000001"


@pytest.mark.parametrize(("head", "changed"), [
    (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet>', True),
    (b"<?xml version='1.0' encoding='utf8'?><worksheet>", True),
    (b'<?xml version="1.0"?><worksheet>', True),  # no encoding: UTF-8
    (b"<worksheet xmlns='x'>", True),
    (b'<?xml version="1.0" encoding="ISO-8859-1"?><worksheet>', False),
    (b'<?xml version="1.0" encoding="UTF-8"', False),  # the declaration cut short
    ("<?xml version='1.0'?>".encode("utf-16"), False),
    (b"", False),
])
def test_only_utf8_xml_text_is_changed(head, changed) -> None:
    assert calamine_open._is_utf8_xml(head) is changed


def test_a_copy_that_cannot_be_written_falls_back_to_the_file(synced, monkeypatch,
                                                              tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-existe"))
    book = open_workbook(synced, SHEETS)
    assert book.path == str(synced)
    assert book.get_sheet_by_name("Facturas").to_python()[1][0] == "F-000001"


def test_nothing_is_left_in_the_temporary_folder(synced, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    book = open_workbook(synced, SHEETS)
    assert book.path.startswith(str(tmp_path))
    assert list(tmp_path.iterdir()) == []
    assert book.get_sheet_by_name("Pagos").to_python()[0][0] == "Fecha"
