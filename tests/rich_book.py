"""A workbook with everything a real one has, to prove the writer leaves it alone.

xlsxwriter builds it (openpyxl cannot add a picture without Pillow, which we do not
install): user sheets with a table + data validation list, defined names, a chart, a
picture, merged cells, styles, comments, an old `Alertas` sheet with its own table and
chart; then a real VBA project (pyOpenVBA), a ribbon part (customUI14.xml with its root
relationship) and a calcChain with cells on Facturas and on Alertas are added.
"""

from __future__ import annotations

import io
import shutil
import struct
import zipfile
import zlib
from datetime import date
from decimal import Decimal
from pathlib import Path

import pyopenvba
import xlsxwriter

from cobranza.layout.sheets import BarChart, Cell, Sheet, Table

EVIL = '=HYPERLINK("http://evil","x")'
CUSTOM_UI = (
    '<customUI xmlns="http://schemas.microsoft.com/office/2009/07/customui">'
    '<ribbon><tabs><tab id="cobranza" label="Cobranza"/></tabs></ribbon></customUI>'
)
UI_REL = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
CALC_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/calcChain"
CALC_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.calcChain+xml"
# Sheet ids: Clientes 1, Facturas 2, Configuración 3, Alertas 4.
CALC_CHAIN = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<calcChain xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    '<c r="E2" i="2"/><c r="E3"/><c r="B2" i="4"/><c r="B3"/></calcChain>'
)


def png() -> bytes:
    """A 1x1 red PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def vba_project(folder: Path) -> bytes:
    donor = folder / "donor.xlsm"
    with pyopenvba.ExcelFile.create_new(donor) as book:
        book.set_module("Module1", "Sub Hola()\nEnd Sub\n")
        book.save()
    with pyopenvba.ExcelFile(donor) as book:
        return book.vba_project_bytes()


def build(path: Path) -> Path:
    wb = xlsxwriter.Workbook(str(path))
    wb.add_vba_project(io.BytesIO(vba_project(path.parent)), is_stream=True)
    bold = wb.add_format({"bold": True, "bg_color": "#FFF2CC", "border": 1})
    money = wb.add_format({"num_format": "#,##0.00"})
    _clientes(wb, bold)
    _facturas(wb, money)
    _configuracion(wb, bold)
    _alertas_old(wb)
    wb.define_name("Tasa", "=Configuración!$B$2")
    wb.define_name("Facturas!Local", "=Facturas!$A$1")
    wb.close()
    _add_parts(path)
    return path


def _clientes(wb: xlsxwriter.Workbook, bold: object) -> None:
    ws = wb.add_worksheet("Clientes")
    ws.merge_range("A1:C1", "Clientes de la empresa", bold)
    ws.write_row(1, 0, ["Cliente", "Nombre", "Email"], bold)
    ws.write_row(2, 0, ["C1", "Ferretería López", "pagos@lopez.mx"])
    ws.write_comment("B3", "Cliente desde 2019")
    ws.insert_image("E2", "logo.png", {"image_data": io.BytesIO(png())})


def _facturas(wb: xlsxwriter.Workbook, money: object) -> None:
    ws = wb.add_worksheet("Facturas")
    rows = [["F1", "C1", date(2026, 10, 1), 1500.5, None],
            ["F2", "C1", date(2026, 11, 1), 99, None]]
    ws.add_table("A1:E3", {
        "name": "tblFacturas",
        "data": rows,
        "columns": [{"header": "Factura"}, {"header": "Cliente"}, {"header": "Vencimiento"},
                    {"header": "Importe", "format": money},
                    {"header": "Doble", "formula": "=[@Importe]*2"}],
    })
    ws.data_validation("B2:B100", {"validate": "list", "source": ["C1", "C2"]})
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"categories": "=Facturas!$A$2:$A$3", "values": "=Facturas!$D$2:$D$3"})
    ws.insert_chart("G2", chart)


def _configuracion(wb: xlsxwriter.Workbook, bold: object) -> None:
    ws = wb.add_worksheet("Configuración")
    ws.write_row(0, 0, ["Parámetro", "Valor"], bold)
    ws.write_row(1, 0, ["Tasa", 0.16])


def _alertas_old(wb: xlsxwriter.Workbook) -> None:
    """The output sheet as a previous version left it: a table, a formula and a chart."""
    ws = wb.add_worksheet("Alertas")
    ws.add_table("A1:B3", {"name": "tblAlertas", "data": [["viejo", 1], ["viejo", 2]],
                           "columns": [{"header": "Tipo"}, {"header": "Total"}]})
    ws.write_formula("C2", "=B2*2")
    chart = wb.add_chart({"type": "bar"})
    chart.add_series({"values": "=Alertas!$B$2:$B$3"})
    ws.insert_chart("E2", chart)


def _add_parts(path: Path) -> None:
    """Ribbon and calcChain, as Excel would store them (re-zips once, fixture only)."""
    temp = path.with_suffix(".tmp")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "_rels/.rels":
                data = data.replace(b"</Relationships>", (
                    f'<Relationship Id="rIdUI" Type="{UI_REL}" '
                    'Target="customUI/customUI14.xml"/></Relationships>').encode())
            elif info.filename == "xl/_rels/workbook.xml.rels":
                data = data.replace(b"</Relationships>", (
                    f'<Relationship Id="rIdCalc" Type="{CALC_REL}" '
                    'Target="calcChain.xml"/></Relationships>').encode())
            elif info.filename == "[Content_Types].xml":
                data = data.replace(b"</Types>", (
                    f'<Override PartName="/xl/calcChain.xml" ContentType="{CALC_CT}"/>'
                    "</Types>").encode())
            dst.writestr(info, data)
        dst.writestr("customUI/customUI14.xml", CUSTOM_UI)
        dst.writestr("xl/calcChain.xml", CALC_CHAIN)
    shutil.move(temp, path)


def alertas(rows: int = 3) -> Sheet:
    data = [
        ("Acciones", "C1", EVIL, Decimal("1500.50"), 75, date(2026, 9, 1)),
        ("Mora > 30", "C2", "Café \x07del\x1b Sur", 99.0, 31, date(2026, 10, 1)),
        ("Crédito", "C3", "+cmd", 0.25, None, None),
        ("Sin gestión", "C4", "@SUM(1)", 10, 16, date(2026, 11, 1)),
    ][:rows]
    table = Table("tblAlertas", ("Tipo", "Cliente", "Nombre", "Saldo", "Días", "Vencimiento"),
                  data, row=4, formats={"Saldo": "money", "Días": "int"},
                  widths={"Nombre": 40})
    cells = [Cell(1, 1, "Alertas de cobranza", "title"), Cell(2, 1, "Total", "label"),
             Cell(2, 2, rows, "value", "int")]
    return Sheet("Alertas", cells=cells, tables=[table], freeze_row=5)


def tablero() -> Sheet:
    table = Table("tblTramos", ("Tramo", "Saldo", "Facturas"),
                  [("Por vencer", 100.0, 2), ("1-30", 250.5, 3), ("91+", 75.25, 1)],
                  row=3, formats={"Saldo": "money", "Facturas": "int"})
    chart = BarChart("Antigüedad de saldos", "tblTramos", "Tramo", ("Saldo",), anchor=(3, 6))
    return Sheet("Tablero", cells=[Cell(1, 1, "Tablero", "title"),
                                   Cell(2, 1, 0.853, "value", "percent")],
                 tables=[table], charts=[chart])
