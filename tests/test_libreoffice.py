"""A second, independent consumer opens what the writer produced: LibreOffice headless."""

from __future__ import annotations

import csv
import re
import zipfile
from datetime import datetime
from pathlib import Path

import pytest

from cobranza.layout.sheets import Sheet, Table
from sync.xlsx import package as xlsx_package
from sync.xlsx.writer import write_outputs
from tests import rich_book
from tests.lo import convert_to_csv, convert_to_pdf


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    book = rich_book.build(tmp_path_factory.mktemp("lo") / "Cobranza.xlsm")
    result = write_outputs(book, [rich_book.alertas(), rich_book.tablero()],
                           now=datetime(2026, 11, 25, 9, 30))
    assert result.changed == ("Alertas", "Tablero")
    return book


def test_written_workbook_converts_to_pdf(written: Path) -> None:
    pdf = convert_to_pdf(written, written.parent / "pdf")
    assert pdf == written.parent / "pdf" / "Cobranza.pdf"
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF-")
    # at least one page per sheet; the exact split depends on the LibreOffice version
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) >= 5


def test_libreoffice_reads_the_output_cells_as_text(written: Path) -> None:
    files = convert_to_csv(written, written.parent / "csv")
    assert sorted(files) == ["Alertas", "Clientes", "Configuración", "Facturas", "Tablero"]
    with files["Alertas"].open(encoding="utf-8", newline="") as f:
        rows = [row[:5] for row in csv.reader(f)]  # dates left out: shown in LO's locale
    assert rows == [
        ["Alertas de cobranza", "", "", "", ""],
        ["Total", "3", "", "", ""],
        ["", "", "", "", ""],
        ["Tipo", "Cliente", "Nombre", "Saldo", "Días"],
        ["Acciones", "C1", '=HYPERLINK("http://evil","x")', "1500.5", "75"],
        ["Mora > 30", "C2", "Café del Sur", "99", "31"],
        ["Crédito", "C3", "+cmd", "0.25", ""],
    ]


@pytest.fixture(scope="module")
def written_in_pieces(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every new member deflated in many small pieces by the worker threads, as the big
    sheets of a real workbook are."""
    book = rich_book.build(tmp_path_factory.mktemp("lo-pieces") / "Cobranza.xlsm")
    rows = [(f"Cliente {i}", f"Nombre & <{i}>", i * 10.5, i) for i in range(3000)]
    sheet = Sheet("Alertas", tables=[Table("tblAlertas", ("Cliente", "Nombre", "Saldo", "N"),
                                           rows, formats={"Saldo": "money", "N": "int"})])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xlsx_package, "_FAST_DEFLATE_OVER", 1)
        mp.setattr(xlsx_package, "_PIECE", 4096)
        write_outputs(book, [sheet], now=datetime(2026, 11, 25, 9, 30))
    return book


def test_libreoffice_reads_members_deflated_in_pieces(written_in_pieces: Path) -> None:
    with zipfile.ZipFile(written_in_pieces) as z:
        info = z.getinfo("xl/worksheets/sheet4.xml")
        assert info.file_size > 40 * 4096  # so it really is many pieces
    files = convert_to_csv(written_in_pieces, written_in_pieces.parent / "csv")
    with files["Alertas"].open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert len(rows) == 3001
    assert rows[0] == ["Cliente", "Nombre", "Saldo", "N"]
    assert rows[1] == ["Cliente 0", "Nombre & <0>", "0", "0"]
    assert rows[3000] == ["Cliente 2999", "Nombre & <2999>", "31489.5", "2999"]
