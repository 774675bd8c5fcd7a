"""sync.xlsx.sheet_xml's column fast paths give exactly what the one-cell-at-a-time way gives.

The reference below is the plain definition: every non-blank value through `cell_xml`
with the style of its `value_format`, rows in order, pieces of a row sorted by column.
"""

from __future__ import annotations

import math
import random
import re
import tracemalloc
import zipfile
from dataclasses import replace
from datetime import date, datetime
from enum import Enum
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cobranza.layout.sends import PreviewRow, preview_sheet
from cobranza.layout.sheets import Cell, CodedColumn, ColumnRows, Sheet, Table
from cobranza.vocabulary import SendState
from sync.xlsx import sheet_xml
from sync.xlsx.sheet_xml import (
    SheetLinks,
    _display_len,
    cell_xml,
    column_names,
    is_missing,
    ref,
    value_format,
    worksheet_chunks,
    worksheet_xml,
)
from sync.xlsx.style_xml import StyleBook

TEMPLATE = Path(__file__).resolve().parent.parent / "workbook_template.xlsm"
FORMATS = ("text", "number", "int", "money", "percent", "date", "datetime")


def styles() -> StyleBook:
    """The template's styles with every style we can use made up front, so the index of
    each one does not depend on the order the code under test asks for them."""
    with zipfile.ZipFile(TEMPLATE) as z:
        book = StyleBook(z.read("xl/styles.xml"))
    for role in ("header", "value", "title", "label", "note"):
        for fmt in FORMATS:
            book.xf(role, fmt)
    return book


def reference(sheet: Sheet, book: StyleBook) -> str:
    """`<dimension>` and `<sheetData>` built one cell at a time."""
    rows: dict[int, list[tuple[int, int, str]]] = {}
    for c in sheet.cells:
        if not is_missing(c.value):
            style = book.xf(c.style, value_format(c.value, c.format))
            rows.setdefault(c.row, []).append((c.col, c.col, cell_xml(ref(c.row, c.col),
                                                                      c.value, style)))
    for t in sheet.tables:
        end = t.col + len(t.columns) - 1
        header = "".join(cell_xml(ref(t.row, t.col + i), name, book.xf("header", "text"))
                         for i, name in enumerate(column_names(t)))
        rows.setdefault(t.row, []).append((t.col, end, header))
        for r, values in enumerate(t.rows, start=t.row + 1):
            cells = "".join(
                cell_xml(ref(r, t.col + i), v,
                         book.xf("value", value_format(v, t.formats.get(t.columns[i], "text"))))
                for i, v in enumerate(values) if not is_missing(v))
            rows.setdefault(r, []).append((t.col, end, cells))
    first = min(s for pieces in rows.values() for s, _, _ in pieces)
    last = max(e for pieces in rows.values() for _, e, _ in pieces)
    data = "".join(f'<row r="{r}">{"".join(x for _, _, x in sorted(rows[r]))}</row>'
                   for r in sorted(rows))
    dimension = f"{ref(min(rows), first)}:{ref(max(rows), last)}"
    return (f'<dimension ref="{dimension}"/>', f"<sheetData>{data}</sheetData>",
            reference_widths(sheet))


def reference_widths(sheet: Sheet) -> dict[int, float]:
    """Given widths, else the longest of header and 500 sampled values (+2), capped."""
    widths: dict[int, float] = {}
    for t in sheet.tables:
        for i, name in enumerate(t.columns):
            fmt = t.formats.get(name, "text")
            sample = [row[i] for row in t.rows[:500] if not is_missing(row[i])]
            longest = max([len(name) + 2] + [_display_len(v, fmt) for v in sample])
            widths[t.col + i] = round(min(max(longest + 2.0, 8.43), 60.0), 2)
    return widths


def rendered(sheet: Sheet, book: StyleBook) -> tuple[str, str, dict[int, float]]:
    xml = worksheet_xml(sheet, book, SheetLinks(None, ())).decode()
    cols = re.findall(r'<col min="(\d+)" max="\d+" width="([\d.]+)"', xml)
    widths = {int(c): float(w) for c, w in cols}
    return (re.search(r"<dimension [^>]*/>", xml).group(),
            re.search(r"<sheetData>.*</sheetData>", xml, re.S).group(), widths)


def assert_same(sheet: Sheet) -> None:
    book = styles()
    got, want = rendered(sheet, book), reference(sheet, book)
    assert got[0] == want[0]
    assert got[1] == want[1]
    assert got[2] == want[2]


LONG = "x" * 40_000  # past Excel's 32 767 characters: cut, like every other path does
SPECIAL = ["a&b", "<b>", "1 > 0", "_x0041_", "ctl\x01\x1f", "\ufffe", "tab\tnl\nret\r",
           "", "=SUM(A1)", "+cmd", "@SUM(1)", "Café", "€ 1", "💶", "x_y", "\ud800", LONG]
texts = st.one_of(st.text(max_size=12), st.sampled_from(SPECIAL))
floats = st.floats(allow_nan=True, allow_infinity=True)
dates = st.dates(date(1950, 1, 1), date(2100, 1, 1))
datetimes = st.datetimes(datetime(1950, 1, 1), datetime(2100, 1, 1))
anything = st.one_of(st.none(), texts, st.integers(-10**12, 10**12), floats, dates, datetimes,
                     st.booleans(), st.decimals(allow_nan=True, places=2),
                     st.sampled_from([np.int64(7), np.float64(0.5), float("nan")]))
# one kind per column most of the time (the fast paths), sometimes with blanks mixed in
KINDS = [texts, st.integers(-10**6, 10**6), floats, dates, datetimes, anything]


@st.composite
def tables(draw: st.DrawFn) -> Table:
    width = draw(st.integers(1, 5))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(width)]
    blank = [draw(st.sampled_from([0.0, 0.1, 0.9, 1.0])) for _ in range(width)]
    height = draw(st.integers(0, 30))
    rows = []
    for _ in range(height):
        rows.append(tuple(draw(st.sampled_from([None, ""])) if draw(st.floats(0, 1)) < b
                          else draw(k) for k, b in zip(kinds, blank, strict=True)))
    columns = tuple(f"C{i}" for i in range(width))
    formats = {c: draw(st.sampled_from(FORMATS)) for c in columns if draw(st.booleans())}
    return Table("tblT", columns, rows, row=draw(st.integers(1, 4)),
                 col=draw(st.integers(1, 30)), formats=formats)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_any_table_renders_like_cell_by_cell(table: Table) -> None:
    assert_same(Sheet("T", cells=[Cell(3, 40, "Título", style="title")], tables=[table]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables())
def test_a_table_kept_by_column_renders_like_its_rows(table: Table) -> None:
    columns = [list(c) for c in zip(*table.rows, strict=True)] or [[] for _ in table.columns]
    by_column = replace(table, rows=ColumnRows(columns))
    book = styles()
    want = rendered(Sheet("T", tables=[table]), book)
    assert rendered(Sheet("T", tables=[by_column]), book) == want
    assert_same(Sheet("T", cells=[Cell(3, 40, "Título", style="title")], tables=[by_column]))


def coded(column: list, rnd: random.Random) -> CodedColumn:
    """A CodedColumn over some of `column`'s values and the blanks, -1 codes included."""
    pool = [*column[::2], None, ""]
    return CodedColumn(pool, np.array([rnd.randrange(-1, len(pool)) for _ in column],
                                      dtype=np.intp))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(), st.randoms())
def test_a_table_of_coded_columns_renders_like_its_rows(table: Table,
                                                         rnd: random.Random) -> None:
    """Columns kept as codes (texts, blanks, any other values: the general way) give the
    cells their rows give, beside plain columns, and read as the same rows."""
    columns = [list(c) for c in zip(*table.rows, strict=True)] or [[] for _ in table.columns]
    kept = [coded(c, rnd) if i % 2 == 0 else c for i, c in enumerate(columns)]
    by_code = replace(table, rows=ColumnRows(kept))
    plain = replace(table, rows=list(by_code.rows))
    assert [by_code.rows[i] for i in range(len(plain.rows))] == plain.rows
    assert by_code.rows[1:3] == plain.rows[1:3]
    book = styles()
    assert rendered(Sheet("T", tables=[by_code]), book) == rendered(Sheet("T", tables=[plain]),
                                                                    book)


def test_coded_text_columns_in_windows_give_the_same_sheet(monkeypatch) -> None:
    """A coded column's distinct texts are treated once for all the windows of its table:
    windows of any size give the rows' cells."""
    names = ["Ñandú & hijos", "Café <b>", "plain", "", "_x0041_", "ctl\x01"]
    codes = np.array([i % 7 - 1 for i in range(300)], dtype=np.intp)
    rows = ColumnRows([CodedColumn(names + [None], codes), list(range(300))])
    sheet = Sheet("C", tables=[Table("tblA", ("Nombre", "N"), rows, row=4)])
    whole = worksheet_xml(Sheet("C", tables=[Table("tblA", ("Nombre", "N"), list(rows),
                                                   row=4)]), styles(), SheetLinks(None, ()))
    for window in (1, 7, 64, 1 << 16):
        monkeypatch.setattr(sheet_xml, "_WINDOW", window)
        assert worksheet_xml(sheet, styles(), SheetLinks(None, ())) == whole


def test_utf8_as_latin1_of_a_column_with_and_without_nuls() -> None:
    texts = ["Café", "", "plain", "€ 1", "💶", "Ñ"]
    want = [t.encode().decode("latin-1") for t in texts]
    assert sheet_xml._as_latin1(texts) == want
    assert sheet_xml._as_latin1([*texts, "a\x00ñ"]) == [*want, "a\x00Ã±"]
    assert sheet_xml._as_latin1([]) == []


def test_columns_of_one_kind_with_and_without_blanks() -> None:
    n = 50
    rows = [(f"t{i}", i, i + 0.25, date(2026, 1, 1 + i % 28), datetime(2026, 1, 1, i % 24),
             "" if i % 3 else "casi vacía", None if i == 7 else i * 1.5,
             "a&b" if i == 3 else "plana", float("nan") if i == 9 else 1.0)
            for i in range(n)]
    columns = tuple(f"C{i}" for i in range(len(rows[0])))
    table = Table("tblK", columns, rows, row=4, formats={"C1": "int", "C2": "money",
                                                           "C4": "date"})
    assert_same(Sheet("K", tables=[table]))


def test_cells_beside_a_table_body_and_tables_side_by_side() -> None:
    left = Table("tblL", ("A", "B"), [("x", 1), ("", None), ("z", 3)], row=2)
    right = Table("tblR", ("C",), [(1.5,), ("w",)], row=3, col=4)
    cells = [Cell(4, 8, "nota", style="note"), Cell(1, 1, "Hoja", style="title")]
    assert_same(Sheet("S", cells=cells, tables=[left, right]))


def test_non_ascii_text_in_blocks_and_in_rows_shared_with_cells() -> None:
    # a block's pieces hold UTF-8 as Latin-1 characters: alone, beside cells, mixed kinds
    names = ["Café", "Ñandú & <hijos>", "€ 1", "💶", "plain", "x_y", "\ud800"]
    alone = Table("tblA", ("N", "M"), [(n, i if i % 2 else n) for i, n in enumerate(names)],
                  row=2)
    shared = Table("tblB", ("N",), [(n,) for n in names], row=2, col=5)
    assert_same(Sheet("A", tables=[alone]))
    assert_same(Sheet("B", cells=[Cell(4, 1, "Año ñ", style="note")], tables=[shared]))


def test_table_without_rows_and_sheet_without_tables() -> None:
    assert_same(Sheet("E", tables=[Table("tblE", ("A", "B"), [], row=3)]))
    assert_same(Sheet("F", cells=[Cell(2, 2, 5, format="int")]))


def test_overlapping_tables_are_refused() -> None:
    a = Table("tblA", ("A", "B"), [("x", "y")], row=1)
    b = Table("tblB", ("C",), [("z",)], row=2, col=2)
    with pytest.raises(ValueError, match="dos valores"):
        worksheet_xml(Sheet("O", tables=[a, b]), styles(), SheetLinks(None, ()))


def test_ragged_row_is_refused() -> None:
    table = Table("tblR", ("A", "B"), [("x", "y"), ("z",)])
    with pytest.raises(ValueError, match="una fila con 1 valores"):
        worksheet_xml(Sheet("R", tables=[table]), styles(), SheetLinks(None, ()))


def test_data_text_is_escaped_and_never_a_formula() -> None:
    """One value needing escapes among many plain ones: the whole column still escapes it."""
    rows = [(f"cliente {i}",) for i in range(200)]
    rows[117] = ('=HYPERLINK("http://evil","x") & <script>',)
    rows[5] = ("@SUM(1)",)
    xml = worksheet_xml(Sheet("X", tables=[Table("tblX", ("Nombre",), rows)]), styles(),
                        SheetLinks(None, ())).decode()
    assert "<f>" not in xml and "<f " not in xml
    evil = '=HYPERLINK("http://evil","x") &amp; &lt;script&gt;'
    cell = f'<c r="A119"[^>]* t="inlineStr"><is><t xml:space="preserve">{re.escape(evil)}</t>'
    assert re.search(cell, xml)
    assert '<t xml:space="preserve">@SUM(1)</t>' in xml


def test_widths_read_only_the_longest_line() -> None:
    body = "línea corta\n" + "y" * 20 + "\nfin"
    table = Table("tblW", ("Cuerpo", "Monto"), [(body, 1234567.5), ("", None)],
                  formats={"Monto": "money"})
    xml = worksheet_xml(Sheet("W", tables=[table]), styles(), SheetLinks(None, ())).decode()
    # 20 characters + 2 = 22; "1,234,567.50" is 12 + 2 = 14
    assert '<col min="1" max="1" width="22.00" customWidth="1"/>' in xml
    assert '<col min="2" max="2" width="14.00" customWidth="1"/>' in xml
    assert math.isclose(float(re.search(r'max="1" width="([\d.]+)"', xml).group(1)), 22.0)


def test_long_texts_are_cut_before_their_column_is_joined() -> None:
    """Vista previa of 40 messages whose body is 2 MB each (a runaway template once sent
    47 emails of 30 MB, then the write died of MemoryError): each Cuerpo cell holds
    Excel's 32 767 characters, and the writer's memory follows the cut cells, not the
    bodies (it used to join, encode and scan the whole 80 MB column)."""
    rows = [PreviewRow("VENCIDA_1", f"C{i}", "Ferretería López", "pagos@lopez.mx", "", "",
                       "Aviso", "x" * 2_000_000, SendState.SENT, "") for i in range(40)]
    sheet = preview_sheet(rows, date(2026, 12, 1))
    book = styles()
    tracemalloc.start()
    try:
        xml = worksheet_xml(sheet, book, SheetLinks(None, ()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    bodies = re.findall(rb'<t xml:space="preserve">(x+)</t>', xml)
    assert [len(b) for b in bodies] == [32_767] * 40
    assert peak < 16_000_000


def test_chunk_size_changes_only_where_the_bytes_are_cut(monkeypatch) -> None:
    """Loose cells, two tables and a blank-heavy column, in chunks of 1 string or of
    many: the same worksheet, every chunk is whole UTF-8."""
    rows = [(f"Ñandú {i}", i, None if i % 3 else 1.5, date(2026, 1, 1 + i % 28))
            for i in range(300)]
    sheet = Sheet("C", cells=[Cell(1, 1, "Título", "title"), Cell(2, 2, 7, "value", "int")],
                  tables=[Table("tblA", ("Nombre", "N", "Monto", "Día"), rows, row=4),
                          Table("tblB", ("Nota",), [("más",), ("",)], row=310)])
    whole = worksheet_xml(sheet, styles(), SheetLinks(None, ("rId1", "rId2")))
    monkeypatch.setattr(sheet_xml, "_CHUNK_PIECES", 1)
    chunks = list(worksheet_chunks(sheet, styles(), SheetLinks(None, ("rId1", "rId2"))))
    assert len(chunks) > 300 and b"".join(chunks) == whole
    assert all(chunk.decode() for chunk in chunks)


def test_tables_turned_into_cells_a_few_rows_at_a_time_give_the_same_sheet(monkeypatch) -> None:
    """A big table's cells are made `_WINDOW` rows at a time (memory): windows of any
    size, cutting through runs of blanks, repeated texts and a table sharing rows with
    loose cells, give the same worksheet."""
    rows = [(f"Ñandú {i % 4}", i, None if i % 3 else 1.5, date(2026, 1, 1 + i % 28),
             "x & y" if i % 5 else None) for i in range(300)]
    sheet = Sheet("C", cells=[Cell(1, 1, "Título", "title"), Cell(20, 7, "al lado", "note")],
                  tables=[Table("tblA", ("Nombre", "N", "Monto", "Día", "Nota"), rows, row=4),
                          Table("tblB", ("Nota",), [("más",), ("",)], row=310)])
    whole = worksheet_xml(sheet, styles(), SheetLinks(None, ("rId1", "rId2")))
    for window in (1, 7, 64):
        monkeypatch.setattr(sheet_xml, "_WINDOW", window)
        assert worksheet_xml(sheet, styles(), SheetLinks(None, ("rId1", "rId2"))) == whole
    assert b'<c r="G20"' in whole and whole.count(b"<row ") == 1 + 1 + 300 + 1 + 2


def test_a_strenum_column_is_written_as_its_values() -> None:
    """StrEnum members (alone, mixed with texts, with blanks) give the cells their values
    give; a text enum whose str() is not its value keeps its str()."""
    class Loud(str, Enum):  # noqa: UP042 - the old kind on purpose: str() is "Loud.A"
        A = "a"

    states = [SendState.SENT, "pendiente", None, SendState.ERROR, "x & y"] * 40
    as_text = [None if s is None else str(s) for s in states]

    def xml(column: list) -> bytes:
        table = Table("tblE", ("Estado", "Solo"), [(v, SendState.SENT) for v in column])
        return worksheet_xml(Sheet("E", tables=[table]), styles(), SheetLinks(None, ()))

    assert xml(states) == xml(as_text)
    assert xml([SendState.SENT] * 200) == xml([str(SendState.SENT)] * 200)
    assert b">Loud.A</t>" in xml([Loud.A, "b"] * 5)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, min_size=1, max_size=4), st.integers(3, 40), st.randoms())
def test_a_column_repeating_its_texts_renders_like_cell_by_cell(
        pool: list[str], height: int, rnd: random.Random) -> None:
    # few distinct texts down many rows: each distinct text is treated once, then mapped
    rows = [(rnd.choice(pool), rnd.choice(SPECIAL)) for _ in range(height)]
    assert_same(Sheet("T", tables=[Table("tblT", ("A", "B"), rows, row=2, col=1)]))


@given(st.text())
def test_attribute_and_element_text_read_back_as_written(value: str) -> None:
    """The writer's own escape and quoteattr (not xml.sax.saxutils': see `escape`): an XML
    parser reads back exactly the cleaned text, quotes, line breaks and tabs included."""
    from lxml import etree

    cleaned = sheet_xml.clean(value)
    node = etree.fromstring(f"<a b={sheet_xml.quoteattr(cleaned)}>{sheet_xml.escape(cleaned)}</a>")
    assert node.get("b") == cleaned
    # element text: XML reads a carriage return as a line feed, as it always did here
    assert (node.text or "") == cleaned.replace("\r\n", "\n").replace("\r", "\n")
