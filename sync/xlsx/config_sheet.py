"""Add a parameter to the Configuración sheet of a workbook package (the workbook id).

The only input-sheet edit the product makes: one `Parámetro`/`Valor` row in the
parameters block (table `tblParametros` in the template), either filling the Valor of a
row whose Parámetro already names it, or on the first empty row of the block (growing
the table by one row when that row is just below it). Everything else in the sheet stays
as it was; the values are inline strings, never formulas.
"""

from __future__ import annotations

import re

from lxml import etree

from cobranza.book.text import normalize
from cobranza.book.validate import CONFIG_SHEET
from sync.xlsx.package import (
    NS_MAIN,
    Package,
    Relationships,
    SheetEntry,
    rels_path,
    resolve,
)
from sync.xlsx.sheet_xml import cell_xml, column_letter

_REF = re.compile(r"^\$?([A-Z]+)\$?(\d+)(?::\$?([A-Z]+)\$?(\d+))?$")
_SHARED = "xl/sharedStrings.xml"
_LABEL = "parametro"  # normalized header of the block's first column


class NoParameterTable(Exception):
    """The workbook has no Configuración sheet with a Parámetro/Valor block."""


def _q(tag: str) -> str:
    return f"{{{NS_MAIN}}}{tag}"


def _col(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


def _split(ref: str) -> tuple[int, int, int, int]:
    """"A1:B21" -> (first col, top row, last col, bottom row), 1-based."""
    m = _REF.match(ref)
    if m is None:
        raise NoParameterTable(ref)
    c1, r1, c2, r2 = m.groups()
    return _col(c1), int(r1), _col(c2 or c1), int(r2 or r1)


class _Sheet:
    """The Configuración worksheet XML, read once, with cell text lookup."""

    def __init__(self, package: Package, part: str) -> None:
        self.package, self.part = package, part
        self.root = etree.fromstring(package.read(part))
        self.data = self.root.find(_q("sheetData"))
        self._shared: list[str] | None = None

    def rows(self) -> dict[int, etree._Element]:
        return {int(r.get("r")): r for r in self.data.iter(_q("row"))}

    def cell(self, row: int, col: int) -> etree._Element | None:
        found = self.rows().get(row)
        if found is None:
            return None
        ref = f"{column_letter(col)}{row}"
        return next((c for c in found.iter(_q("c")) if c.get("r") == ref), None)

    def text(self, row: int, col: int) -> str:
        c = self.cell(row, col)
        if c is None:
            return ""
        kind = c.get("t")
        if kind == "inlineStr":
            return "".join(c.find(_q("is")).itertext()) if c.find(_q("is")) is not None else ""
        v = c.find(_q("v"))
        if v is None or v.text is None:
            return ""
        return self.shared()[int(v.text)] if kind == "s" else v.text

    def shared(self) -> list[str]:
        if self._shared is None:
            data = self.package.read(_SHARED)
            root = etree.fromstring(data) if data else etree.Element("sst")
            self._shared = ["".join(si.itertext()) for si in root.iter(_q("si"))]
        return self._shared

    def put(self, row: int, col: int, value: str, style_from: int) -> None:
        """Set one inline-string cell, keeping the row's other cells in column order."""
        above = self.cell(style_from, col)
        style = int(above.get("s", "0")) if above is not None else 0
        cell = cell_xml(f"{column_letter(col)}{row}", value, style)
        new = etree.fromstring(f'<row xmlns="{NS_MAIN}">{cell}</row>')[0]
        line = self._row(row)
        old = self.cell(row, col)
        if old is not None:
            line.replace(old, new)
            return
        before = [c for c in line.iter(_q("c")) if _split(c.get("r"))[0] < col]
        line.insert(line.index(before[-1]) + 1 if before else 0, new)
        line.attrib.pop("spans", None)  # an optional hint; stale once a cell is added

    def _row(self, row: int) -> etree._Element:
        found = self.rows().get(row)
        if found is not None:
            return found
        new = etree.Element(_q("row"), r=str(row))
        earlier = [r for r in self.data.iter(_q("row")) if int(r.get("r")) < row]
        self.data.insert(self.data.index(earlier[-1]) + 1 if earlier else 0, new)
        return new

    def grow_dimension(self, row: int, col: int) -> None:
        dim = self.root.find(_q("dimension"))
        if dim is None:
            return
        c1, r1, c2, r2 = _split(dim.get("ref"))
        dim.set("ref", f"{column_letter(min(c1, col))}{min(r1, row)}:"
                       f"{column_letter(max(c2, col + 1))}{max(r2, row)}")

    def save(self) -> None:
        self.package.put(self.part, etree.tostring(self.root, xml_declaration=True,
                                                   encoding="UTF-8", standalone=True))


def set_parameter(package: Package, label: str, value: str) -> int:
    """Write `label` = `value` in the parameters block of Configuración; returns the row.

    Raises NoParameterTable when the workbook has no such block.
    """
    entry = _config_entry(package)
    sheet = _Sheet(package, entry.part)
    table = _parameter_table(package, entry.part)
    if table is not None:
        col, top, _, bottom = _split(table[1].get("ref"))
    else:
        col, top = _header_column(sheet), 1
        bottom = top
    row = _target_row(sheet, col, top, label)
    sheet.put(row, col, label, style_from=row - 1)
    sheet.put(row, col + 1, value, style_from=row - 1)
    sheet.grow_dimension(row, col)
    sheet.save()
    if table is not None and row == bottom + 1:
        _grow_table(package, *table, row)
    return row


def _config_entry(package: Package) -> SheetEntry:
    for entry in package.sheet_entries():
        if normalize(entry.name) == normalize(CONFIG_SHEET) and package.has(entry.part):
            return entry
    raise NoParameterTable(CONFIG_SHEET)


def _parameter_table(package: Package, sheet_part: str) -> tuple[str, etree._Element] | None:
    """(part, root) of the sheet's table whose first column is Parámetro, if any."""
    rels = Relationships(package.read(rels_path(sheet_part)))
    for rel in rels.of_type("table"):
        part = resolve(sheet_part, rel.target)
        data = package.read(part)
        if data is None:
            continue
        root = etree.fromstring(data)
        first = next(root.iter(_q("tableColumn")), None)
        if first is not None and normalize(first.get("name", "")) == _LABEL:
            return part, root
    return None


def _header_column(sheet: _Sheet) -> int:
    """The column of a plain-range block: the row-1 cell that says Parámetro."""
    header = sheet.rows().get(1)
    for c in header.iter(_q("c")) if header is not None else ():
        col = _split(c.get("r"))[0]
        if normalize(sheet.text(1, col)) == _LABEL:
            return col
    raise NoParameterTable(CONFIG_SHEET)


def _target_row(sheet: _Sheet, col: int, top: int, label: str) -> int:
    """The row already naming `label` (its Valor is filled in), else the block's first
    empty row: the row where the reader stops reading the block."""
    row = top + 1
    while True:
        name = sheet.text(row, col)
        if normalize(name) == normalize(label):
            return row
        if name.strip() == "" and sheet.text(row, col + 1).strip() == "":
            return row
        row += 1


def _grow_table(package: Package, part: str, table: etree._Element, bottom: int) -> None:
    c1, top, c2, _ = _split(table.get("ref"))
    ref = f"{column_letter(c1)}{top}:{column_letter(c2)}{bottom}"
    table.set("ref", ref)
    auto = table.find(_q("autoFilter"))
    if auto is not None:
        auto.set("ref", ref)
    package.put(part, etree.tostring(table, xml_declaration=True, encoding="UTF-8",
                                     standalone=True))
