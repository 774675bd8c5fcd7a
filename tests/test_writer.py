"""sync.xlsx.writer on a real, rich .xlsm: outputs written, everything else left as it was."""

from __future__ import annotations

import errno
import posixpath
import re
import zipfile
import zlib
from concurrent.futures import Future
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
from isal import isal_zlib
from lxml import etree

from cobranza.layout.sheets import Sheet, Table
from sync.errors import WorkbookOpen
from sync.xlsx import fileops, sheet_xml
from sync.xlsx import package as xlsx_package
from sync.xlsx.sheet_xml import clean
from sync.xlsx.style_xml import _key
from sync.xlsx.writer import write_outputs
from tests import rich_book

NOW = datetime(2026, 11, 25, 9, 30, 0)
# Shared parts we edit additively; checked semantically instead of byte for byte.
SEMANTIC = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
            "xl/styles.xml", "xl/calcChain.xml"}
# What the old Alertas sheet owned: its worksheet, rels, table, drawing with one chart.
OLD_ALERTAS = {"xl/worksheets/sheet4.xml", "xl/worksheets/_rels/sheet4.xml.rels",
               "xl/tables/table2.xml", "xl/drawings/drawing3.xml",
               "xl/drawings/_rels/drawing3.xml.rels", "xl/charts/chart2.xml"}


@pytest.fixture
def book(tmp_path: Path) -> Path:
    return rich_book.build(tmp_path / "Cobranza.xlsm")


def members(path: Path) -> dict[str, tuple[bytes, int, int]]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: (z.read(i), i.CRC, i.compress_size) for i in z.infolist()}


def xml(path: Path, part: str) -> etree._Element:
    with zipfile.ZipFile(path) as z:
        return etree.fromstring(z.read(part))


def entries(root: etree._Element) -> set[tuple]:
    """Leaf elements (a sheet, a relationship, an override...) with their text."""
    return {(_key(el), el.text) for el in root.iter()
            if isinstance(el.tag, str) and not len(el)}


def write(book: Path, *sheets: Sheet, **kw: object):
    return write_outputs(book, list(sheets or (rich_book.alertas(), rich_book.tablero())),
                         now=kw.pop("now", NOW), **kw)


def test_every_other_member_is_carried_over_untouched(book: Path) -> None:
    before = members(book)
    result = write(book)
    after = members(book)
    assert result.changed == ("Alertas", "Tablero")
    assert result.bytes_written == book.stat().st_size
    for name, (data, crc, size) in before.items():
        if name in SEMANTIC or name in OLD_ALERTAS:
            continue
        assert after[name] == (data, crc, size), name  # same compressed size: raw copy
    assert {"xl/vbaProject.bin", "customUI/customUI14.xml", "xl/media/image1.png"} <= set(after)


def test_shared_parts_keep_all_old_entries(book: Path) -> None:
    old = {p: xml(book, p) for p in SEMANTIC - {"xl/calcChain.xml"}}
    write(book)
    for part, root in old.items():
        if part != "xl/styles.xml":  # its sections' counts grow; checked entry by entry below
            assert entries(root) <= entries(xml(book, part)), part
    styles_before, styles_after = old["xl/styles.xml"], xml(book, "xl/styles.xml")
    for section in styles_before:  # existing style indices never move
        new = styles_after.find(section.tag)
        assert [_key(e) for e in section] == [_key(e) for e in new][: len(section)]


def test_workbook_sheet_list_and_names(book: Path) -> None:
    write(book)
    wb = xml(book, "xl/workbook.xml")
    ns = {"m": xlsx_package.NS_MAIN}
    sheets = [(s.get("name"), s.get("sheetId")) for s in wb.iterfind("m:sheets/m:sheet", ns)]
    assert sheets == [("Clientes", "1"), ("Facturas", "2"), ("Configuración", "3"),
                      ("Alertas", "4"), ("Tablero", "5")]
    names = [(d.get("name"), d.text) for d in wb.iterfind("m:definedNames/m:definedName", ns)]
    assert names == [("Local", "Facturas!$A$1"), ("Tasa", "Configuración!$B$2")]


def test_cells_read_back_exactly(book: Path) -> None:
    write(book)
    wb = openpyxl.load_workbook(book)
    ws = wb["Alertas"]
    assert [list(r) for r in ws.iter_rows(min_row=1, max_row=7, values_only=True)] == [
        ["Alertas de cobranza", None, None, None, None, None],
        ["Total", 3, None, None, None, None],
        [None] * 6,
        ["Tipo", "Cliente", "Nombre", "Saldo", "Días", "Vencimiento"],
        ["Acciones", "C1", rich_book.EVIL, 1500.5, 75, datetime(2026, 9, 1)],
        ["Mora > 30", "C2", "Café del Sur", 99.0, 31, datetime(2026, 10, 1)],
        ["Crédito", "C3", "+cmd", 0.25, None, None],
    ]
    assert ws["C5"].data_type == "s" and ws["C7"].data_type == "s"
    assert (ws["D5"].number_format, ws["E5"].number_format, ws["F5"].number_format) == (
        "#,##0.00", "#,##0", "dd/mm/yyyy")
    assert ws["A4"].font.b and ws["A4"].fill.fgColor.rgb == "FFD9E1F2"
    assert (ws["A1"].font.b, ws["A1"].font.sz) == (True, 14)
    assert ws.freeze_panes == "A5"
    assert ws.column_dimensions["C"].width == 40
    assert dict(ws.tables.items()) == {"tblAlertas": "A4:F7"}
    assert wb["Tablero"]["A2"].number_format == "0.0%"
    assert wb["Facturas"].tables["tblFacturas"].ref == "A1:E3"


def test_text_never_becomes_a_formula(book: Path) -> None:
    write(book)
    with zipfile.ZipFile(book) as z:
        sheet = z.read("xl/worksheets/sheet4.xml").decode()
    assert "<f>" not in sheet and "<f " not in sheet
    assert '<t xml:space="preserve">=HYPERLINK("http://evil","x")</t>' in sheet.replace(
        "&quot;", '"')
    assert '<t xml:space="preserve">@SUM(1)</t>' not in sheet  # 3 rows only
    assert clean("a\x00b\x1fc_x0041_") == "abc_x005F_x0041_"


def test_table_and_chart_parts(book: Path) -> None:
    write(book)
    table = xml(book, "xl/tables/table3.xml")
    assert (table.get("id"), table.get("name"), table.get("ref")) == ("3", "tblTramos", "A3:C6")
    ws = openpyxl.load_workbook(book)["Tablero"]
    (chart,) = ws._charts
    assert (chart.tagname, chart.type, chart.grouping) == ("barChart", "col", "clustered")
    (series,) = chart.series
    assert series.val.numRef.f == "'Tablero'!$B$4:$B$6"
    assert series.cat.strRef.f == "'Tablero'!$A$4:$A$6"
    assert [p.v for p in series.val.numRef.numCache.pt] == [100.0, 250.5, 75.25]
    with zipfile.ZipFile(book) as z:
        assert "xl/tables/table2.xml" in z.namelist()  # Alertas' table, reused number
        types = z.read("[Content_Types].xml").decode()
    assert types.count("/xl/charts/") == 2 and types.count("/xl/drawings/drawing") == 3


def test_calc_chain_loses_only_rewritten_sheets(book: Path) -> None:
    write(book)
    cells = [(c.get("r"), c.get("i")) for c in xml(book, "xl/calcChain.xml")]
    assert cells == [("E2", "2"), ("E3", "2")]


def test_same_sheets_twice_change_nothing(book: Path) -> None:
    write(book)
    before = book.read_bytes()
    result = write(book, now=datetime(2026, 11, 25, 10, 0, 0))
    assert (result.changed, result.backup, result.bytes_written) == ((), None, 0)
    assert book.read_bytes() == before


def test_a_change_that_keeps_the_size_is_written(book: Path) -> None:
    """Same length, other bytes: told apart by the CRC without inflating the old part."""
    def sheet(name: str) -> Sheet:
        return Sheet("Notas", tables=[Table("tblNotas", ("Nombre",), [(name,)])])

    write(book, sheet("Ana"))
    result = write(book, sheet("Eva"), now=datetime(2026, 11, 26))
    assert result.changed == ("Notas",)
    assert openpyxl.load_workbook(book)["Notas"]["A2"].value == "Eva"
    assert write(book, sheet("Eva"), now=datetime(2026, 11, 27)).changed == ()


@pytest.mark.parametrize("library", ["zlib", "isal"])
def test_big_members_deflated_in_pieces_read_back_the_same(book: Path, tmp_path: Path,
                                                           monkeypatch, library: str) -> None:
    """Worker threads deflate big members in independent pieces: one valid stream, also
    when the worksheet comes in many chunks (pieces never span two of them)."""
    module = zlib if library == "zlib" else isal_zlib
    monkeypatch.setattr(xlsx_package, "fast_zlib", module)
    other = tmp_path / "other" / book.name
    other.parent.mkdir()
    other.write_bytes(book.read_bytes())
    rows = [(f"C{i}", f"Nombre {i} & más", i * 1.5) for i in range(2000)]
    big = Sheet("Alertas", tables=[Table("tblAlertas", ("Cliente", "Nombre", "Saldo"), rows)])
    write(book, big)
    monkeypatch.setattr(xlsx_package, "_FAST_DEFLATE_OVER", 1)
    monkeypatch.setattr(xlsx_package, "_PIECE", 1000)
    monkeypatch.setattr(sheet_xml, "_CHUNK_PIECES", 37)
    write(other, big)
    with zipfile.ZipFile(book) as whole, zipfile.ZipFile(other) as pieces:
        assert pieces.testzip() is None  # every member inflates and matches its CRC
        assert whole.namelist() == pieces.namelist()
        for name in whole.namelist():
            assert whole.read(name) == pieces.read(name)
        assert pieces.getinfo("xl/worksheets/sheet4.xml").file_size > 50 * 1000
    assert openpyxl.load_workbook(other)["Alertas"]["B2001"].value == "Nombre 1999 & más"


def test_a_big_member_given_in_chunks_is_kept_only_deflated(book: Path, monkeypatch) -> None:
    """Package keeps a big member's deflated pieces, not its bytes: reading it back
    inflates them, and it compares equal to the same bytes whole or in other chunks."""
    monkeypatch.setattr(xlsx_package, "_PIECE", 1000)
    chunks = [bytes(range(i % 7, 250)) * 30 for i in range(200)]
    data = b"".join(chunks)
    assert len(data) >= xlsx_package._FAST_DEFLATE_OVER
    with xlsx_package.Package(book) as package:
        package.put("xl/big.bin", chunks)
        assert isinstance(package._new["xl/big.bin"], xlsx_package._Packed)
        assert package.read("xl/big.bin") == data
        assert package.head("xl/big.bin", 10) == data[:10]
        assert package.same("xl/big.bin", data) and package.same("xl/big.bin", [data])
        assert not package.same("xl/big.bin", data[:-1] + b"x")
        out = book.parent / "out.xlsm"
        with out.open("wb") as f:
            package.write(f)
    with zipfile.ZipFile(out) as z:
        assert z.testzip() is None and z.read("xl/big.bin") == data


def test_fewer_rows_shrink_the_table(book: Path) -> None:
    write(book)
    result = write(book, rich_book.alertas(1), rich_book.tablero(), now=datetime(2026, 11, 26))
    assert result.changed == ("Alertas",)
    ws = openpyxl.load_workbook(book)["Alertas"]
    assert ws.tables["tblAlertas"].ref == "A4:F5"
    assert ws.max_row == 5


def test_empty_table_keeps_one_body_row(book: Path) -> None:
    empty = Sheet("Errores", tables=[Table("tblErrores", ("Hoja", "Fila"), [])])
    write(book, empty)
    assert openpyxl.load_workbook(book)["Errores"].tables["tblErrores"].ref == "A1:B2"


def test_open_workbook_is_not_touched(book: Path) -> None:
    fileops.owner_file(book).write_bytes(b"owner")
    before = book.read_bytes()
    with pytest.raises(WorkbookOpen, match=r"El libro está abierto en Excel \(Cobranza.xlsm\)"):
        write(book)
    assert book.read_bytes() == before


def test_disk_full_leaves_original_and_no_temp(book: Path, monkeypatch) -> None:
    before = book.read_bytes()

    def full_disk(self, out) -> None:
        out.write(b"PK partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(xlsx_package.Package, "write", full_disk)
    with pytest.raises(OSError, match="No space"):
        write(book)
    assert book.read_bytes() == before
    assert sorted(p.name for p in book.parent.iterdir()) == ["Cobranza.xlsm", "donor.xlsm"]


def test_backups_are_dated_and_bounded(book: Path) -> None:
    for day, rows in ((1, 2), (2, 3), (3, 4), (4, 1)):
        write(book, rich_book.alertas(rows), now=datetime(2026, 11, day, 8, 0, 0))
    assert len(fileops.backups_of(book)) == 4
    write(book, rich_book.alertas(2), backups=2, now=datetime(2026, 11, 9, 8, 0, 0))
    names = [p.name for p in fileops.backups_of(book)]
    assert names == ["Cobranza-20261104-080000.xlsm", "Cobranza-20261109-080000.xlsm"]
    again = write(book, rich_book.alertas(3), backups=9, now=datetime(2026, 11, 9, 8, 0, 0))
    assert again.backup.name == "Cobranza-20261109-080000_1.xlsm"
    assert len(fileops.backups_of(book)) == 3


def test_backup_holds_the_previous_version(book: Path) -> None:
    before = book.read_bytes()
    result = write(book)
    assert result.backup == book.parent / ".cobranza/backups/Cobranza-20261125-093000.xlsm"
    assert result.backup.read_bytes() == before


def test_rendered_sheet_has_frozen_pane_and_widths(book: Path) -> None:
    write(book)
    with zipfile.ZipFile(book) as z:
        sheet = z.read("xl/worksheets/sheet4.xml").decode()
    assert sheet.startswith(  # the VBA document module of the old sheet stays bound
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet '
        f'xmlns="{xlsx_package.NS_MAIN}" xmlns:r="{xlsx_package.NS_R}">'
        '<sheetPr codeName="Sheet4"/><dimension ref="A1:F7"/>')
    assert '<pane ySplit="4" topLeftCell="A5" activePane="bottomLeft" state="frozen"/>' in sheet
    assert re.search(r'<col min="3" max="3" width="40.00" customWidth="1"/>', sheet)
    assert '<c r="F5" s="' in sheet and "<v>46266</v>" in sheet  # 01/09/2026 as a serial
    assert date(2026, 9, 1).toordinal() - date(1899, 12, 30).toordinal() == 46266


def test_table_name_taken_by_a_user_table_gets_a_suffix(book: Path) -> None:
    clash = Sheet("Agenda", tables=[Table("tblFacturas", ("Cliente",), [("C1",)])])
    write(book, clash)
    tables = openpyxl.load_workbook(book)["Agenda"].tables
    assert dict(tables.items()) == {"tblFacturas2": "A1:A2"}


def test_no_backup_when_zero_are_kept(book: Path) -> None:
    result = write(book, backups=0)
    assert (result.changed, result.backup, fileops.backups_of(book)) == (
        ("Alertas", "Tablero"), None, [])


def _one_table(name: str, value: str) -> Sheet:
    return Sheet(name, tables=[Table(f"tbl{name}", ("Cliente",), [(value,)])])


def _missing_targets(path: Path) -> list[tuple[str, str]]:
    """(rels part, target) of every internal relationship whose part is not in the zip."""
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        out = []
        for rels in (n for n in names if n.endswith(".rels")):
            folder = posixpath.dirname(posixpath.dirname(rels))
            for el in etree.fromstring(z.read(rels)):
                target = el.get("Target")
                if el.get("TargetMode") == "External" or target.startswith("/"):
                    continue
                if posixpath.normpath(posixpath.join(folder, target)) not in names:
                    out.append((rels, target))
    return out


def test_a_sheet_taking_a_freed_part_name_keeps_it(book: Path) -> None:
    """Dos, written first this time, takes the table name Uno had; Uno, rewritten under a
    new name, must not remove what is now Dos's table."""
    write(book, _one_table("Uno", "a"), _one_table("Dos", "b"))
    result = write(book, _one_table("Dos", "b2"), _one_table("Uno", "a"),
                   now=datetime(2026, 11, 26))
    assert set(result.changed) == {"Dos", "Uno"}
    assert _missing_targets(book) == []
    wb = openpyxl.load_workbook(book)
    assert [wb[s]["A2"].value for s in ("Uno", "Dos")] == ["a", "b2"]
    assert {name for s in ("Uno", "Dos") for name in wb[s].tables} == {"tblUno", "tblDos"}


def test_a_big_member_never_waits_on_more_than_a_few_pieces() -> None:
    """The writer's thread stops making XML while the workers are more than `_AHEAD`
    pieces behind (at 1 000 000 invoices an unbounded backlog held ~0.5 GB of XML)."""
    class LazyPool:  # a piece is deflated only when someone waits for it
        def __init__(self) -> None:
            self.pending = self.most = 0

        def submit(self, fn, *args) -> Future:
            pool = self

            class Lazy(Future):
                def result(self, timeout=None):
                    if not self.done():
                        self.set_result(fn(*args))
                        pool.pending -= 1
                    return super().result(timeout)

            pool.pending += 1
            pool.most = max(pool.most, pool.pending)
            return Lazy()

    pool = LazyPool()
    chunks = [bytes([i]) * xlsx_package._PIECE for i in range(3 * xlsx_package._AHEAD)]
    packed = xlsx_package._packing(pool, iter(chunks))
    assert pool.most <= xlsx_package._AHEAD + 1
    assert packed.inflated() == b"".join(chunks)
    assert packed.crc == zlib.crc32(b"".join(chunks)) and packed.size == len(b"".join(chunks))
