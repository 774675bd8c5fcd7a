"""Editing a workbook the way a user does in Excel, for tests that change data between
syncs: rows typed under a table (the table grows), saved as a whole new file."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

import openpyxl

from cobranza.book.text import normalize


def save_atomically(wb: openpyxl.Workbook, path: Path) -> None:
    """Save like Excel does at the end: a whole new file that replaces the old one."""
    temp = path.with_name("guardando.xlsm")
    wb.save(temp)
    os.replace(temp, path)


def append_rows(path: Path, rows: dict[str, list[dict[str, object]]]) -> None:
    """Add rows to each sheet's table, headers matched like the reader does. Strings are
    typed text, even when they start with "=" (a user's formula-looking name)."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    for sheet, records in rows.items():
        ws = wb[sheet]
        table = next(iter(ws.tables.values()))
        first, last = table.ref.split(":")
        column, row = re.sub(r"\d", "", last), int(re.sub(r"\D", "", last))
        if row > 1 and ws.cell(row=row, column=1).value is None:
            row -= 1  # the template's empty first row is filled, not skipped
        headers = {normalize(c.value): c.column for c in ws[1] if c.value}
        for values in records:
            row += 1
            for header, value in values.items():
                cell = ws.cell(row=row, column=headers[normalize(header)], value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
        table.ref = f"{first}:{column}{row}"
    save_atomically(wb, path)


def put_number(path: Path, sheet: str, ref: str, number: str,
               number_format: str | None = None) -> None:
    """Store `number` (as Excel writes it in the file, e.g. "-1E12") in cell `ref` of
    `sheet`, editing only that cell of the sheet's XML: the cell keeps its style (a date
    cell stays date-formatted) unless `number_format` gives it a new one."""
    from lxml import etree

    from sync.xlsx.package import NS_MAIN, Relationships, Workbook, rels_path

    with zipfile.ZipFile(path) as z:
        members = [(info, z.read(info.filename)) for info in z.infolist()]
    data = {info.filename: content for info, content in members}
    book = Workbook(data[Workbook.PART], Relationships(data[rels_path(Workbook.PART)]))
    part = next(e.part for e in book.sheets() if e.name == sheet)
    root = etree.fromstring(data[part])
    cell = _cell(root, ref, NS_MAIN)
    for child in list(cell):
        cell.remove(child)
    cell.attrib.pop("t", None)
    etree.SubElement(cell, f"{{{NS_MAIN}}}v").text = number
    if number_format is not None:
        styles = etree.fromstring(data["xl/styles.xml"])
        formats = styles.find(f"{{{NS_MAIN}}}numFmts")
        fmt_id = str(max(int(f.get("numFmtId")) for f in formats) + 1)
        etree.SubElement(formats, f"{{{NS_MAIN}}}numFmt", numFmtId=fmt_id,
                         formatCode=number_format)
        xfs = styles.find(f"{{{NS_MAIN}}}cellXfs")
        etree.SubElement(xfs, f"{{{NS_MAIN}}}xf", numFmtId=fmt_id, fontId="0", fillId="0",
                         borderId="0", xfId="0", applyNumberFormat="1")
        formats.set("count", str(len(formats)))
        xfs.set("count", str(len(xfs)))
        cell.set("s", str(len(xfs) - 1))
        data["xl/styles.xml"] = etree.tostring(styles, xml_declaration=True,
                                               encoding="UTF-8", standalone=True)
    data[part] = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)
    temp = path.with_name("editando.xlsm")
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as z:
        for info, _ in members:
            z.writestr(info, data[info.filename])
    os.replace(temp, path)


def _cell(root, ref: str, ns: str):
    """The `<c>` element of `ref`, created in column order when the cell is empty."""
    from lxml import etree

    def column(r: str) -> int:
        letters = re.sub(r"\d", "", r)
        return sum((ord(ch) - 64) * 26**i for i, ch in enumerate(reversed(letters)))

    found = root.find(f".//{{{ns}}}c[@r='{ref}']")
    if found is not None:
        return found
    number = re.sub(r"\D", "", ref)
    row = root.find(f".//{{{ns}}}row[@r='{number}']")
    cell = etree.Element(f"{{{ns}}}c", r=ref)
    after = [c for c in row if column(c.get("r")) < column(ref)]
    row.insert(row.index(after[-1]) + 1 if after else 0, cell)
    return cell


def set_cells(path: Path, sheet: str, key: tuple[str, object], values: dict[str, object]) -> None:
    """Change cells of the table row whose `key` column (header, value) matches, as a
    user retypes them; headers matched like the reader does."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb[sheet]
    headers = {normalize(c.value): c.column for c in ws[1] if c.value}
    column = headers[normalize(key[0])]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=column).value == key[1])
    for header, value in values.items():
        ws.cell(row=row, column=headers[normalize(header)], value=value)
    save_atomically(wb, path)


def lab_pace(book: Path) -> Path:
    """Correos por minuto 1000: the local test server is no mail provider, so a demo
    book's first cycle sends every due message at once (the pacing itself is
    tests/test_provider_limits.py's subject)."""
    set_cells(book, "Configuración", ("Parámetro", "Correos por minuto"), {"Valor": "1000"})
    return book


def overdue_workbook(folder: Path, customers: dict[str, str]) -> Path:
    """A new workbook with one invoice per customer (Cliente -> Email), issued 01/11/2026
    and due 24/11/2026: on 25/11 VENCIDA_1 is due and every earlier notice is past its
    window."""
    from datetime import datetime

    from sync.workbook.init import create_workbook

    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": e}
                     for c, e in customers.items()],
        "Facturas": [{"Factura": f"F-{c}", "Cliente": c, "Emisión": datetime(2026, 11, 1),
                      "Vencimiento": datetime(2026, 11, 24), "Moneda": "MXN", "Importe": 1500.0}
                     for c in customers],
    })
    return book
