"""sync.xlsx.reader on real files: raw frames, and the refusals that stop a run."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from cobranza.book.columns import READ_COLUMNS
from cobranza.book.validate import CONFIG_SHEET, TABLES
from sync.errors import WorkbookBusy, WorkbookError
from sync.xlsx import prefetch
from sync.xlsx.reader import frame_from_rows, read_book, read_raw


def write_book(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in sheets.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def minimal() -> dict[str, list[list]]:
    return {
        "Clientes": [["Cliente", "Nombre"], ["C1", "Uno"]],
        "Facturas": [["Factura", "Cliente", "Vencimiento", "Importe"],
                     ["F1", "C1", date(2026, 3, 1), 100]],
        "Pagos": [["Fecha", "Factura", "Importe"]],
        "Gestiones": [["Fecha", "Cliente", "Resultado"]],
    }


def test_read_raw_matches_sheet_names_and_keeps_excel_rows(tmp_path: Path) -> None:
    sheets = {
        "CLIENTES": [[" Cliente ", "Nombre", None, "Nota"], ["C1", "Uno", None, 7],
                     [None, None, None, None], ["C2", "Dos", None, None]],
        "facturas": [["Factura", "cliente", "Vencimiento", "Importe"]],
        "Pagos": [["Fecha", "Factura", "Importe"]],
        "Gestiones": [["Fecha", "Cliente", "Resultado"]],
        "Configuracion": [["Parámetro", "Valor"], ["Zona horaria", "America/Lima"]],
        "Notas": [["cualquier cosa"]],
    }
    raw = read_raw(write_book(tmp_path / "libro.xlsm", sheets))

    assert list(raw) == ["Clientes", "Facturas", "Pagos", "Gestiones", "Configuración"]
    assert list(raw["Clientes"].columns) == ["Cliente", "Nombre", "", "Nota", "row"]
    assert raw["Clientes"].values.tolist() == [["C1", "Uno", "", 7.0, 2], ["C2", "Dos", "", "", 4]]
    assert raw["Facturas"].empty and list(raw["Facturas"].columns)[-1] == "row"
    assert raw["Configuración"].values.tolist() == [["Zona horaria", "America/Lima", 2]]


def test_a_grid_from_excel_becomes_the_same_raw_frame() -> None:
    """`frame_from_rows` is the step the add-in uses for a workbook open in Excel (its used
    range, None as ""): the same frame the file reader builds."""
    grid = [[" Cliente ", "Nombre", "", "Nota"], ["C1", "Uno", "", 7.0],
            ["", "", "", ""], ["C2", "Dos", "", ""]]
    frame = frame_from_rows(grid)
    assert list(frame.columns) == ["Cliente", "Nombre", "", "Nota", "row"]
    assert frame.values.tolist() == [["C1", "Uno", "", 7.0, 2], ["C2", "Dos", "", "", 4]]


def test_read_book_of_a_minimal_workbook(tmp_path: Path) -> None:
    book = read_book(write_book(tmp_path / "libro.xlsx", minimal()))
    assert book.invoices[["invoice", "amount", "row"]].values.tolist() == [["F1", 10000, 2]]
    assert book.payments.empty and book.contacts.empty
    assert [e.sheet for e in book.errors] == ["Configuración", "Plantillas"]


def test_meanwhile_sees_the_small_sheets_before_facturas(tmp_path: Path) -> None:
    """`read_book`'s `meanwhile` runs once, with Configuración and the small sheets
    validated and Facturas not yet: what a cycle prepares while the worker parses it."""
    sheets = minimal() | {
        "Plantillas": [["Código", "Asunto", "Cuerpo"],
                       ["NUEVA", "Factura {{ x }}", "Hola {{ cliente.nombre }}"]],
        "Configuración": [["Parámetro", "Valor"], ["Zona horaria", "America/Lima"]],
    }
    seen = []

    def meanwhile(validation) -> None:
        seen.append((str(validation.config.zone), validation.texts("templates", "subject", "body"),
                     validation.texts("invoices", "invoice")))

    book = read_book(write_book(tmp_path / "libro.xlsm", sheets), meanwhile=meanwhile)
    assert seen == [("America/Lima", ["Factura {{ x }}", "Hola {{ cliente.nombre }}"], [])]
    assert book.invoices["invoice"].tolist() == ["F1"]


def test_read_book_reads_only_the_columns_it_uses(tmp_path: Path) -> None:
    """The formula columns (and any other unread column) are never read: a row with a
    value only there is no record, and the rows keep their Excel numbers; the first of
    two columns with one header is the one read."""
    sheets = minimal()
    sheets["Facturas"] = [
        ["Saldo", "Factura", "Cliente", "Vencimiento", "Importe", "Cliente", "Estatus"],
        [1, "F1", "C1", date(2026, 3, 1), 100, "C9", "Vencida"],
        [2, "", "", "", "", "", "Por vencer"],  # formula results only
        [None, " ", None, None, None, "C1", None],  # a blank and an unread cell
        [3, "F2", "C1", "pronto", -5, None, None],
    ]
    book = read_book(write_book(tmp_path / "libro.xlsx", sheets))
    assert book.invoices[["invoice", "customer", "row"]].values.tolist() == [["F1", "C1", 2]]
    assert [(e.sheet, e.row, e.column) for e in book.errors if e.sheet == "Facturas"] == [
        ("Facturas", 5, "Vencimiento"), ("Facturas", 5, "Importe")]


def test_a_sheet_that_does_not_start_at_a1_is_read_the_same(tmp_path: Path) -> None:
    """calamine's row iterator starts at the first used cell; the reader starts at A1."""
    sheets = minimal()
    sheets["Facturas"] = [[None, "Factura", "Cliente", "Vencimiento", "Importe", "Saldo"],
                          [None, "F1", "C1", date(2026, 3, 1), 100, 5],
                          [None, "F2", "C1", "pronto", 100, 5]]
    book = read_book(write_book(tmp_path / "libro.xlsx", sheets))
    assert book.invoices[["invoice", "row"]].values.tolist() == [["F1", 2]]
    assert [(e.row, e.column) for e in book.errors if e.sheet == "Facturas"] == [
        (3, "Vencimiento")]


def test_the_read_columns_are_those_the_validation_maps() -> None:
    validated = {sheet: spec for sheet, spec in TABLES.values() if sheet != CONFIG_SHEET}
    assert validated == READ_COLUMNS


def test_the_read_columns_of_a_sheet() -> None:
    headers = ["Saldo", " factura", "Cliente", "FACTURA", "Notas ", 7.0, ""]
    assert prefetch.read_columns("facturas", headers) == [1, 2, 4]
    assert prefetch.read_columns("Configuración", headers) is None
    assert prefetch.read_columns("Pagos", ["x"]) == []


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "no-existe.xlsm"
    with pytest.raises(WorkbookError) as err:
        read_book(path)
    assert str(err.value) == f'No se encuentra el libro "{path}"; revise la ruta del archivo.'


@pytest.mark.parametrize("content", [b"Factura;Cliente\nF1;C1\n", b""])
def test_a_file_that_is_not_a_workbook(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "datos.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as err:
        read_book(path)
    assert str(err.value) == (
        'El archivo "datos.xlsx" no es un libro de Excel (.xlsx o .xlsm); revise la ruta.'
    )


def test_a_zip_that_is_not_a_workbook(tmp_path: Path) -> None:
    path = tmp_path / "datos.xlsx"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("leame.txt", "hola")
    with pytest.raises(WorkbookError) as err:
        read_book(path)
    assert str(err.value) == (
        'El archivo "datos.xlsx" no es un libro de Excel (.xlsx o .xlsm); revise la ruta.'
    )


def test_missing_required_sheet(tmp_path: Path) -> None:
    sheets = minimal()
    del sheets["Pagos"]
    with pytest.raises(WorkbookError) as err:
        read_book(write_book(tmp_path / "x.xlsm", sheets))
    assert str(err.value) == (
        'El libro "x.xlsm" no tiene la hoja "Pagos". Agréguela o use la plantilla (cobranza init).'
    )


def test_missing_required_column(tmp_path: Path) -> None:
    sheets = minimal()
    sheets["Facturas"] = [["Factura", "Cliente", "Importe", "Vence"], ["F1", "C1", 100, 46082]]
    with pytest.raises(WorkbookError) as err:
        read_book(write_book(tmp_path / "x.xlsm", sheets))
    assert str(err.value) == (
        'La hoja "Facturas" del libro "x.xlsm" no tiene la columna "Vencimiento". '
        "Agréguela o use la plantilla (cobranza init)."
    )


def test_a_half_written_file_is_busy(tmp_path: Path) -> None:
    path = write_book(tmp_path / "x.xlsm", minimal())
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WorkbookBusy) as err:
        read_book(path)
    assert str(err.value) == (
        'El libro "x.xlsm" está incompleto (probablemente se está guardando); '
        "se reintentará en el próximo ciclo."
    )
