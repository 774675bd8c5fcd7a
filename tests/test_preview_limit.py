"""Vista previa shows the first `Filas en Vista previa` messages; a dry run renders only
those (issue 18), yet finds the same template failures and counts the same messages."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import python_calamine
from cli import cobranza, table
from workbook_edit import set_cells

from cobranza.book.config import parse_config
from cobranza.layout.sends import PreviewRow, preview_sheet
from cobranza.vocabulary import SendState

AT = "2026-12-01T10:00"
# A body that passes the syntax check and fails only when rendered.
FAILS = "Hola {{ cliente.nombre.upper(1) }}"


def _rows(book: Path, sheet: str) -> list[list]:
    return python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        sheet).to_python()


def _dry_run(book: Path, rows: int) -> str:
    set_cells(book, "Configuración", ("Parámetro", "Filas en Vista previa"), {"Valor": str(rows)})
    return cobranza("sync", book, "--dry-run", "--as-of", AT, cwd=book.parent).stdout


def test_dry_run_renders_what_vista_previa_shows_and_counts_the_rest(tmp_path) -> None:
    """The demo at 01/12: 7 digests, then the customer emails most severe first. NUEVA's
    template fails at render time: a part of the eighth email, and of one after the
    tenth row, which is still rendered to hold its NUEVA back as the full run does."""
    book = tmp_path / "capado" / "cobranza.xlsm"
    book.parent.mkdir()
    cobranza("init", "--demo", "--facturas", "120", "--as-of", "2026-12-01", book,
             cwd=tmp_path)
    set_cells(book, "Plantillas", ("Código", "NUEVA"), {"Cuerpo": FAILS})
    whole = tmp_path / "entero" / "cobranza.xlsm"
    whole.parent.mkdir()
    shutil.copyfile(book, whole)

    capped, full = _dry_run(book, 10), _dry_run(whole, 1000)

    shown, every = (table(b, "Vista previa", "Código") for b in (book, whole))
    assert len(every) == 35 and shown == every[:10]
    assert all(r[5] and r[6] for r in shown if r[7] == "listo")  # Asunto and Cuerpo rendered
    assert [r[0] for r in every if r[0].startswith("NUEVA")] == ["NUEVA", "NUEVA"]
    note = _rows(book, "Vista previa")[1][3]
    assert note == "35 mensajes; se muestran los primeros 10 (Configuración: Filas en Vista previa)"
    # the same failure found, the same messages held back and counted
    assert table(book, "Errores", "Hoja") == table(whole, "Errores", "Hoja")
    assert any(r[0] == "Plantillas" and r[3] == "NUEVA" and "upper()" in r[4]
               for r in table(book, "Errores", "Hoja"))
    assert table(book, "Envíos", "Fecha") == table(whole, "Envíos", "Fecha")
    assert ("Listos para enviar: 31 mensajes (Vista previa muestra 10 de 35, lo más grave "
            "primero)") in capped.splitlines()
    assert "Listos para enviar: 31 mensajes" in full.splitlines()


def test_preview_sheet_counts_what_it_does_not_show() -> None:
    rows = [PreviewRow(f"C{i}", f"R{i}", "", "", "", "", "", "", SendState.READY, "")
            for i in range(5)]
    sheet = preview_sheet(rows, date(2026, 12, 1), limit=3)
    assert [r[0] for r in sheet.tables[0].rows] == ["C0", "C1", "C2"]
    notes = [c.value for c in sheet.cells if c.row == 2 and c.col == 4]
    assert notes == [
        "5 mensajes; se muestran los primeros 3 (Configuración: Filas en Vista previa)"]
    assert [c.value for c in preview_sheet(rows, date(2026, 12, 1), limit=5).cells
            if c.row == 2 and c.col == 4] == ["5 mensajes"]


def test_filas_en_vista_previa_is_a_whole_number_of_at_least_one() -> None:
    config, issues = parse_config({"Filas en Vista previa": "2.000"})
    assert config.preview_rows == 2000 and issues == []
    config, issues = parse_config({"Filas en Vista previa": "0"})
    assert config.preview_rows == 500
    assert [(i.parameter, i.problem) for i in issues] == [
        ("Filas en Vista previa", "debe ser un número entero mayor que cero, por ejemplo 500")]
