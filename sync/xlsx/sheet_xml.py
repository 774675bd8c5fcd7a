"""SpreadsheetML for one output `Sheet`: worksheet XML and table parts.

Cell styles live in `sync.xlsx.style_xml`, charts in `sync.xlsx.chart_xml`.

Everything is generated as text (no DOM per cell): a 50 000-row sheet is ~500 000
cells. Table bodies go column by column: each column of one plain type becomes a few
"slots" (lists of row numbers and values, constant markup between them) checked and
escaped as a whole, and the rows are interleaved by list slicing and joined and encoded
~1 MB at a time (`worksheet_chunks`), so no Python code runs per cell on the common
paths. Strings are always inline strings, never `<f>`, so data that looks like a formula
(`=HYPERLINK(...)`, `+cmd`, `@SUM(1)`) stays text.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from typing import Any

import numpy as np

from cobranza.layout.sheets import CodedColumn, ColumnRows, Format, Sheet, Table
from sync.xlsx.package import NS_MAIN, NS_R
from sync.xlsx.style_xml import StyleBook

_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EXCEL_ESCAPE = re.compile(r"_(x[0-9A-Fa-f]{4}_)")  # Excel would decode "_x0041_" as "A"
_MAX_TEXT = 32767  # Excel's limit per cell
_MEMO_LEN = 80  # texts up to this long (codes, states, reasons) are escaped once per column
# Characters `text` changes, "_x" aside (tested apart: a class alone scans faster);
# _BAD_BYTES are the ASCII ones, for a C-speed `bytes.translate` check of a whole column.
_BAD_BYTES = bytes([*range(9), 11, 12, *range(14, 32)]) + b"&<>"
_SPECIAL = re.compile("[&<>\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_EPOCH = date(1899, 12, 30).toordinal()
_DEFAULT_WIDTH, _MAX_WIDTH, _WIDTH_SAMPLE = 8.43, 60.0, 500
TABLE_STYLE = "TableStyleMedium2"
_CHUNK_PIECES = 1 << 16  # strings per encoded chunk of a worksheet: ~1 MB of cells
_WINDOW = 1 << 16  # table rows turned into slots at a time


_ATTRIBUTE = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;",
                            "\n": "&#10;", "\r": "&#13;", "\t": "&#9;"})


def escape(value: str) -> str:
    """&, < and > as entities: xml.sax.saxutils.escape, whose module imports urllib.request
    and with it http.client and ssl (~10 ms of every sync) for functions the writer never
    calls."""
    return value.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")


def quoteattr(value: str) -> str:
    """`value` as a double-quoted attribute value; line breaks and tabs as character
    references, which an XML parser does not normalize to spaces."""
    return f'"{value.translate(_ATTRIBUTE)}"'


def clean(value: str) -> str:
    """Text Excel stores as given: XML-illegal characters removed, "_xHHHH_" protected."""
    value = _ILLEGAL.sub("", value[:_MAX_TEXT])
    if "_x" in value:
        value = _EXCEL_ESCAPE.sub(r"_x005F_\1", value)
    return value


def text(value: str) -> str:
    """Element-content-safe text."""
    return escape(clean(value))


@lru_cache(maxsize=4096)
def column_letter(col: int) -> str:
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def ref(row: int, col: int, absolute: bool = False) -> str:
    d = "$" if absolute else ""
    return f"{d}{column_letter(col)}{d}{row}"


def is_missing(value: Any) -> bool:
    """None, "", NaN, NaT and pd.NA are blank cells."""
    if value is None or (isinstance(value, str) and value == ""):
        return True
    if type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return not math.isfinite(value)
    return isinstance(value, Decimal) and not value.is_finite()


def serial(value: date) -> float | int:
    """Excel 1900-system serial of a date or (naive or aware: wall clock) datetime."""
    days = value.toordinal() - _EPOCH
    if not isinstance(value, datetime):
        return days
    seconds = value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6
    return days + seconds / 86400


_NUMERIC_FORMATS = ("number", "int", "money", "percent")


# ---------------------------------------------------------------------------- cells


def cell_xml(ref_: str, value: Any, style: int) -> str:
    """One `<c>`; callers skip blanks (see `is_missing`)."""
    s = f' s="{style}"' if style else ""
    if isinstance(value, str):
        body = f'<is><t xml:space="preserve">{text(value)}</t></is>'
        return f'<c r="{ref_}"{s} t="inlineStr">{body}</c>'
    if isinstance(value, bool):
        return f'<c r="{ref_}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref_}"{s}><v>{serial(value)}</v></c>'
    if isinstance(value, numbers.Integral):
        return f'<c r="{ref_}"{s}><v>{int(value)}</v></c>'
    if isinstance(value, numbers.Number):
        return f'<c r="{ref_}"{s}><v>{float(value)!r}</v></c>'
    return cell_xml(ref_, str(value), style)


def value_format(value: Any, fmt: Format) -> str:
    """The format a value is shown with: dates always as dates, text as General."""
    if isinstance(value, datetime):
        return fmt if fmt in ("date", "datetime") else "datetime"
    if isinstance(value, date):
        return "date"
    if isinstance(value, str) or not isinstance(value, numbers.Number):
        return "text"
    return fmt if fmt in _NUMERIC_FORMATS else "number"


def column_names(table: Table) -> list[str]:
    """Header texts Excel accepts: non-empty, single line, unique ignoring case."""
    names: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(table.columns, start=1):
        base = " ".join(str(raw).split()) or f"Columna{i}"
        name, n = base, 1
        while name.lower() in seen:
            n += 1
            name = f"{base}{n}"
        seen.add(name.lower())
        names.append(name)
    return names


def table_ref(table: Table) -> str:
    last_row = table.row + max(len(table.rows), 1)  # Excel needs one body row
    return f"{ref(table.row, table.col)}:{ref(last_row, table.col + len(table.columns) - 1)}"


# row number -> pieces of that row: (first column, last column, cells XML)
Grid = dict[int, list[tuple[int, int, str]]]
# A column's cells as slots, left to right: a str is the same on every row, a list has
# one piece per row ("" where the cell is blank). Every piece holds its UTF-8 bytes as
# Latin-1 characters (`_as_latin1`): the same text when ASCII.
Slots = list[str | list[str]]


@dataclass
class _Block:
    """Body rows of one table, turned into column slots `_WINDOW` rows at a time and
    joined chunk by chunk (a 1 000 000-row table's slots are never all alive at once).

    The slots hold UTF-8 as Latin-1 characters, so a chunk is encoded by a plain copy
    (`encode("latin-1")`) instead of UTF-8 encoding character by character (~2x faster
    when a sheet has accented names)."""

    first: int  # first row
    numbers: list[str]  # str(row) of every row, in order
    start: int  # first column
    end: int  # last column
    columns: list[tuple[_ColumnEncoder, str, list[Any]]]  # encoder, letter, values

    @property
    def last(self) -> int:
        return self.first + len(self.numbers) - 1

    def slots(self, a: int, b: int) -> Slots:
        """Rows a..b-1 (from the first) as slots, column by column: one pass per column
        with its style and prefixes bound once."""
        out: Slots = []
        for encoder, letter, values in self.columns:
            out += encoder.slots(letter, values[a:b], self.numbers[a:b])
        return out

    def chunks(self) -> Iterator[bytes]:
        for a in range(0, len(self.numbers), _WINDOW):
            yield from _row_chunks(self.numbers[a:a + _WINDOW], self.slots(a, a + _WINDOW))

    def row_cells(self) -> list[str]:
        """Each row's cells as one string (when other cells share these rows)."""
        n = len(self.numbers)
        columns = [slot if isinstance(slot, list) else [slot] * n for slot in self.slots(0, n)]
        return [cells.encode("latin-1").decode() for cells in map(
            "".join, zip(*columns, strict=True))]


def _row_chunks(numbers: list[str], slots: Slots) -> Iterator[bytes]:
    """The `<row>` elements in UTF-8 chunks of about `_CHUNK_PIECES` strings each: a row
    template (adjacent constants merged) repeated, then each per-row slot assigned by
    slice. A chunk at a time, so its lists stay in the CPU cache."""
    template: list[str] = []
    varying: list[tuple[int, list[str]]] = []
    constant_last = False
    for slot in ['<row r="', numbers, '">', *slots, "</row>"]:
        if isinstance(slot, list):
            varying.append((len(template), slot))
            template.append("")
        elif constant_last:
            template[-1] += slot
        else:
            template.append(slot)
        constant_last = isinstance(slot, str)
    stride, n = len(template), len(numbers)
    step = max(1, _CHUNK_PIECES // stride)  # rows per chunk
    for a in range(0, n, step):
        flat = template * (min(a + step, n) - a)
        for i, slot in varying:
            flat[i::stride] = slot[a:a + step]
        yield "".join(flat).encode("latin-1")


def _grid(sheet: Sheet, styles: StyleBook) -> tuple[Grid, list[_Block]]:
    rows: Grid = {}
    for c in sheet.cells:
        if not is_missing(c.value):
            style = styles.xf(c.style, value_format(c.value, c.format))
            xml = cell_xml(ref(c.row, c.col), c.value, style)
            rows.setdefault(c.row, []).append((c.col, c.col, xml))
    blocks = [b for t in sheet.tables if (b := _table_cells(t, styles, rows))]
    return rows, _separate(rows, blocks)


def _separate(rows: Grid, blocks: list[_Block]) -> list[_Block]:
    """Blocks that share no row with other cells; the others go into `rows` row by row."""
    alone = []
    for b in blocks:
        shared = any(b.first <= r <= b.last for r in rows) or any(
            o is not b and o.first <= b.last and b.first <= o.last for o in blocks)
        if not shared:
            alone.append(b)
            continue
        for number, cells in zip(range(b.first, b.last + 1), b.row_cells(), strict=True):
            rows.setdefault(number, []).append((b.start, b.end, cells))
    return alone


def _table_cells(t: Table, styles: StyleBook, rows: Grid) -> _Block | None:
    """The header into `rows`; the body rows as a block, None when there are none."""
    last_col = t.col + len(t.columns) - 1
    header_style = styles.xf("header", "text")
    header = "".join(cell_xml(ref(t.row, t.col + i), name, header_style)
                     for i, name in enumerate(column_names(t)))
    rows.setdefault(t.row, []).append((t.col, last_col, header))
    widths = _widths(t.rows)
    if widths - {len(t.columns)}:
        bad = next(w for w in widths if w != len(t.columns))
        raise ValueError(f"la tabla {t.name} tiene una fila con {bad} valores")
    if not t.rows:
        return None
    first = t.row + 1
    columns = [(_ColumnEncoder(styles, t.formats.get(c)), column_letter(t.col + i),
                _column(t.rows, i)) for i, c in enumerate(t.columns)]
    return _Block(first, _row_numbers(first, len(t.rows)), t.col, last_col, columns)


def _widths(rows: Sequence[tuple[Any, ...]]) -> set[int]:
    """The lengths of a table's rows (those kept by column have one, by construction)."""
    if isinstance(rows, ColumnRows):
        return {len(rows.columns)} if rows else set()
    return set(map(len, rows))


def _column(rows: Sequence[tuple[Any, ...]], i: int) -> list[Any]:
    """Column i of a table's rows: as kept (`ColumnRows`), or picked out of the row tuples
    (no zip(*rows): one tuple iterator per row)."""
    if isinstance(rows, ColumnRows):
        return rows.columns[i]
    return list(map(itemgetter(i), rows))


_NUMBERS: list[str] = ["0"]  # str(r) at index r, grown on demand: every sync needs them


def _row_numbers(first: int, count: int) -> list[str]:
    """["first", ..., "first+count-1"]: row numbers are formatted once per process."""
    global _NUMBERS
    numbers = _NUMBERS
    if len(numbers) < first + count:  # a new list, never a change to one in use
        numbers = numbers + list(map(str, range(len(numbers), first + count)))
        _NUMBERS = numbers
    return numbers[first:first + count]


def _other_str(kind: type) -> bool:
    """A str subclass whose str() may not be its text (a StrEnum's text is its value)."""
    return kind is not str and issubclass(kind, str) and not issubclass(kind, StrEnum)


def _typed(values: Sequence[Any]) -> tuple[Sequence[Any], set[type]]:
    """`values`, any str subclass whose str() may not be its text made a plain str, and
    the set of their types."""
    kinds = set(map(type, values))
    if any(map(_other_str, kinds)):
        values = [str(v) if isinstance(v, str) else v for v in values]
        kinds = set(map(type, values))
    return values, kinds


_BLANK_REPR = frozenset({"None", "nan", "inf", "-inf"})  # repr of blank numeric cells


class _ColumnEncoder:
    """Per-column fast path for the common exact types; anything else goes the general way.

    Exact `type(...) is` checks avoid abc `isinstance` calls; a column of one plain type
    (text, numbers, dates) becomes slots without building a string per cell. Blank values
    give "".
    """

    def __init__(self, styles: StyleBook, fmt: Format | None) -> None:
        self.styles, self.fmt = styles, fmt or "text"
        self.text = self._attr("value", "text")
        self.number = self._attr("value", self.fmt if self.fmt in _NUMERIC_FORMATS else "number")
        self.date = self._attr("value", "date")
        self.datetime = self._attr("value", "date" if self.fmt == "date" else "datetime")
        # a CodedColumn's values and what `_distinct_bodies` made of them
        self._distinct: tuple[list[Any], tuple[np.ndarray, np.ndarray] | None] | None = None

    def _attr(self, role: str, fmt: str) -> str:
        style = self.styles.xf(role, fmt)
        return f' s="{style}"' if style else ""

    def slots(self, letter: str, values: Sequence[Any], numbers: list[str]) -> Slots:
        """The column's cells as slots (see `Slots`)."""
        if isinstance(values, CodedColumn):
            coded = self._coded(letter, values, numbers)
            if coded is not None:
                return coded
            values = values.tolist()
        values, kinds = _typed(values)
        blanks = type(None) in kinds
        kinds.discard(type(None))
        if all(issubclass(k, str) for k in kinds):  # a StrEnum's text is its value, as is
            texts = [v or "" for v in values] if blanks else values
            distinct = set(texts)
            # no None and no "": every row has a cell, no pass over the rows to say so
            present = values if blanks or "" in distinct else None
            middle = self.text + ' t="inlineStr"><is><t xml:space="preserve">'
            return _slots(letter, middle, "</t></is></c>", _bodies(texts, distinct), numbers,
                          present)
        if kinds <= {int, float}:
            texts = list(map(repr, values))  # int: digits; float: shortest round trip
            # a finite sum means no NaN/inf (an overflow only costs the exact check)
            if blanks or (float in kinds and not math.isfinite(sum(values))):
                present = [t not in _BLANK_REPR for t in texts]
                return _slots(letter, self.number + "><v>", "</v></c>", texts, numbers, present)
            return _slots(letter, self.number + "><v>", "</v></c>", texts, numbers, None)
        if kinds == {date}:  # few distinct days: each serial is formatted once
            serials = {v: str(v.toordinal() - _EPOCH) for v in set(values) if v is not None}
            texts = list(map(serials.get, values, repeat("")))
            return _slots(letter, self.date + "><v>", "</v></c>", texts, numbers, values)
        if kinds == {datetime}:
            texts = ["" if v is None else repr(serial(v)) for v in values]
            return _slots(letter, self.datetime + "><v>", "</v></c>", texts, numbers, values)
        return [self.column(letter, values, numbers)]

    def _coded(self, letter: str, column: CodedColumn, numbers: list[str]) -> Slots | None:
        """A column of texts kept as codes: each distinct text treated once (for all the
        windows of the table), and the rows a take of the results: no row's own object is
        read. None when a value is neither text nor None."""
        if self._distinct is None or self._distinct[0] is not column.values:
            self._distinct = (column.values, _distinct_bodies(column.values))
        treated = self._distinct[1]
        if treated is None:
            return None
        bodies, blank = treated
        blanks = blank[column.codes]
        present = (~blanks).tolist() if blanks.any() else None
        middle = self.text + ' t="inlineStr"><is><t xml:space="preserve">'
        return _slots(letter, middle, "</t></is></c>", bodies[column.codes].tolist(), numbers,
                      present)

    def column(self, letter: str, values: Sequence[Any], numbers: list[str]) -> list[str]:
        """The cells of one column; a short text repeated down the column is escaped once."""
        head = f'<c r="{letter}'
        middle = f'"{self.text} t="inlineStr"><is><t xml:space="preserve">'
        memo: dict[str, str] = {}
        out: list[str] = []
        append = out.append
        for r, value in zip(numbers, values, strict=True):
            if type(value) is not str:
                append(self(f"{letter}{r}", value))
            elif not value:
                append("")
            else:
                body = memo.get(value) if len(value) <= _MEMO_LEN else None
                if body is None:
                    body = _body(value)
                    if len(value) <= _MEMO_LEN:
                        memo[value] = body
                append(f"{head}{r}{middle}{body}</t></is></c>")
        return out if "".join(out).isascii() else _as_latin1(out)

    def __call__(self, ref_: str, value: Any) -> str:
        kind = type(value)
        if kind is not str and isinstance(value, str):  # StrEnum: its text
            value, kind = str(value), str
        if kind is str:
            if not value:
                return ""
            return (f'<c r="{ref_}"{self.text} t="inlineStr">'
                    f'<is><t xml:space="preserve">{_body(value)}</t></is></c>')
        if kind is int or (kind is float and math.isfinite(value)):
            return f'<c r="{ref_}"{self.number}><v>{value!r}</v></c>'
        if kind is Decimal and value.is_finite():
            return f'<c r="{ref_}"{self.number}><v>{float(value)!r}</v></c>'
        if kind is date:
            return f'<c r="{ref_}"{self.date}><v>{value.toordinal() - _EPOCH}</v></c>'
        if kind is datetime:
            return f'<c r="{ref_}"{self.datetime}><v>{serial(value)!r}</v></c>'
        if value is None or is_missing(value):
            return ""
        return cell_xml(ref_, value, self.styles.xf("value", value_format(value, self.fmt)))


def _distinct_bodies(values: list[Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Per value of a `CodedColumn`: its inline-string text (as `_bodies`) and whether it
    is blank (None or ""); None when a value is not text. Whole-list passes, as for a
    column's rows: a Book's 50 000 customers' names are values here."""
    values, kinds = _typed(values)
    if not all(issubclass(k, str) for k in kinds - {type(None)}):
        return None
    texts = [v or "" for v in values] if type(None) in kinds else values
    return np.array(_bodies(texts), dtype=object), np.array(list(map(len, texts))) == 0


def _slots(letter: str, middle: str, tail: str, texts: list[str], numbers: list[str],
           present: list[Any] | None) -> Slots:
    """Slots of `<c r="{letter}{row}"{middle}{text}{tail}`; no cell where `present` holds
    a false value (None = all present)."""
    head, middle = f'<c r="{letter}', '"' + middle
    if present is None or all(present):
        return [head, numbers, middle, texts, tail]
    empty = [i for i, p in enumerate(present) if not p]
    n = len(texts)
    if len(empty) * 5 > n * 4:  # mostly blank: build the few cells there are
        return [[f"{head}{r}{middle}{t}{tail}" if p else "" for r, t, p in zip(
            numbers, texts, present, strict=True)]]
    slots = [[head] * n, list(numbers), [middle] * n, list(texts), [tail] * n]
    for pieces in slots:  # mostly full: blank the few empty rows
        for i in empty:
            pieces[i] = ""
    return slots


def _bodies(values: list[str], distinct_values: set[str] | None = None) -> list[str]:
    """Inline-string texts of a column, as `Slots` hold them (`distinct_values`: the set
    of `values`, when the caller has it). Values are cut to Excel's limit first: a column
    of long texts (message bodies) is never joined whole. A column that repeats its texts
    (customers' names, states) is treated one distinct text at a time: scanning ~5 000
    names beats scanning 65 000 rows of them."""
    distinct = list(set(values) if distinct_values is None else distinct_values)
    if max(map(len, distinct), default=0) > _MAX_TEXT:
        values = [v[:_MAX_TEXT] for v in values]
        distinct = list(set(values))
    if len(distinct) * 2 > len(values):
        return _treated(values)
    bodies = _treated(distinct)
    if bodies is distinct:  # no text changes
        return values
    return list(map(dict(zip(distinct, bodies, strict=True)).__getitem__, values))


def _treated(values: list[str]) -> list[str]:
    """What `_bodies` makes of texts within Excel's limit: one scan of them all says what
    any value needs, then each distinct value gets only that; `values` itself when no
    text changes."""
    joined = "".join(values)
    treat = _treatment(joined)
    if joined.isascii():
        return values if treat is None else _each_distinct(values, treat)
    if treat is None:
        return _as_latin1(values)
    return _each_distinct(values, lambda v: treat(v).encode().decode("latin-1"))


def _as_latin1(texts: list[str]) -> list[str]:
    """Each text's UTF-8 bytes as Latin-1 characters (see `_Block`): the column at once,
    joined and split at NULs (one byte in UTF-8, part of no other character's bytes), when
    no text holds one (none that `clean` has seen); else one distinct text at a time."""
    joined = "\x00".join(texts)
    if texts and joined.count("\x00") == len(texts) - 1:
        return joined.encode().decode("latin-1").split("\x00")
    return _each_distinct(texts, lambda v: v.encode().decode("latin-1"))


def _each_distinct(values: list[str], change: Callable[[str], str]) -> list[str]:
    """`change` of every value, computed once per distinct value."""
    changed = {v: change(v) for v in set(values)}
    return list(map(changed.__getitem__, values))


def _treatment(joined: str) -> Callable[[str], str] | None:
    """What `text` does to the texts joined in `joined` (each within Excel's limit): None
    when it leaves every character as is, `escape` when only &, < and > change, else
    `text` itself. Same answer as `_SPECIAL`, `_ILLEGAL` and "_x", but C-speed: a regex
    scans ~5 times slower than `translate`."""
    if "\ufffe" in joined or "\uffff" in joined:
        return text
    try:
        raw = joined.encode("latin-1")
    except UnicodeEncodeError:
        try:
            raw = joined.encode()  # UTF-8: a multi-byte character has no byte below 0x80
        except UnicodeEncodeError:  # a lone surrogate
            return text
    kept = len(raw.translate(None, _BAD_BYTES))
    protect = "_x" in joined
    if kept == len(raw) and not protect:
        return None
    if protect or kept != len(raw.translate(None, b"&<>")):  # "_x" or an illegal character
        return text
    return escape


def _body(value: str) -> str:
    """Inline-string text: most values need no work, and one regex search says so."""
    needs_work = len(value) > _MAX_TEXT or _SPECIAL.search(value) or "_x" in value
    return text(value) if needs_work else value


def _sheet_data(rows: Grid, blocks: list[_Block]) -> list[list[str] | _Block]:
    """`<sheetData>` as segments, in row order: lists of loose rows' pieces and table
    blocks, alternating, a list first and last."""
    segments, loose = [], ["<sheetData>"]
    items: list[tuple[int, _Block | None]] = [(r, None) for r in rows]
    items += [(b.first, b) for b in blocks]
    for r, block in sorted(items, key=lambda item: item[0]):
        if block is not None:
            segments += [loose, block]
            loose = []
            continue
        pieces = rows[r]
        if len(pieces) > 1:
            pieces = sorted(pieces)
            for (_, end, _), (start, _, _) in zip(pieces, pieces[1:], strict=False):
                if start <= end:
                    raise ValueError(f"dos valores en la misma celda de la fila {r}")
        loose.append(f'<row r="{r}">{"".join(xml for _, _, xml in pieces)}</row>')
    loose.append("</sheetData>")
    return segments + [loose]


def _display_len(value: Any, fmt: Format) -> int:
    if isinstance(value, datetime):
        return 16
    if isinstance(value, date):
        return 10
    if fmt in ("money", "int") and isinstance(value, numbers.Real):
        return len(f"{float(value):,.2f}")
    return max((len(line) for line in str(value).splitlines()), default=0)


def _longest(t: Table, i: int) -> int:
    """Display length of column i's header and sampled values (the longest line)."""
    fmt = t.formats.get(t.columns[i], "text")
    sample = [row[i] for row in t.rows[:_WIDTH_SAMPLE]]
    texts = [v for v in sample if type(v) is str]  # all lines of all texts at once
    others = [v for v in sample if type(v) is not str and not is_missing(v)]
    if fmt in ("money", "int") and others and {type(v) for v in others} <= {int, float}:
        others = [min(others), max(others)]  # "#,##0.00" grows with the magnitude
    return max([len(str(t.columns[i])) + 2, *map(len, "\n".join(texts).splitlines())]
               + [_display_len(v, fmt) for v in others])


def column_widths(sheet: Sheet) -> dict[int, float]:
    """Table.widths when given, else the longest of header and sampled values, capped."""
    widths: dict[int, float] = {}
    for t in sheet.tables:
        for i, name in enumerate(t.columns):
            if name in t.widths:
                width = float(t.widths[name])
            else:
                width = min(max(_longest(t, i) + 2.0, _DEFAULT_WIDTH), _MAX_WIDTH)
            widths[t.col + i] = max(widths.get(t.col + i, 0.0), width)
    return widths


def _dimension(rows: Grid, blocks: list[_Block]) -> str:
    spans = [(r, start, end) for r, pieces in rows.items() for start, end, _ in pieces]
    spans += [(r, b.start, b.end) for b in blocks for r in (b.first, b.last)]
    if not spans:
        return "A1"
    top, bottom = min(r for r, _, _ in spans), max(r for r, _, _ in spans)
    first, last = min(s for _, s, _ in spans), max(e for _, _, e in spans)
    return f"{ref(top, first)}:{ref(bottom, last)}"


def _sheet_view(freeze_row: int) -> str:
    if freeze_row <= 1:
        return '<sheetViews><sheetView workbookViewId="0"/></sheetViews>'
    top = ref(freeze_row, 1)
    return (
        '<sheetViews><sheetView workbookViewId="0">'
        f'<pane ySplit="{freeze_row - 1}" topLeftCell="{top}" activePane="bottomLeft" '
        'state="frozen"/>'
        f'<selection pane="bottomLeft" activeCell="{top}" sqref="{top}"/>'
        "</sheetView></sheetViews>"
    )


@dataclass(frozen=True)
class SheetLinks:
    """What the worksheet XML points at outside itself (assigned by the writer)."""

    drawing: str | None  # relationship id of the drawing
    tables: tuple[str, ...]  # relationship ids of the table parts
    code_name: str | None = None  # the VBA document module bound to this sheet, kept as is


def worksheet_xml(sheet: Sheet, styles: StyleBook, links: SheetLinks) -> bytes:
    return b"".join(worksheet_chunks(sheet, styles, links))


def worksheet_chunks(sheet: Sheet, styles: StyleBook, links: SheetLinks) -> Iterator[bytes]:
    """The worksheet part in UTF-8 chunks of ~1 MB, made as `Package.stage` asks for them:
    encoding each chunk while it is in the CPU cache, and never joining the whole sheet
    (as text, then bytes), takes ~40% less time than one join and encode of a 50 MB
    sheet, and a chunk is deflated and freed while the next is made (a 1 000 000-row
    sheet's ~500 MB of XML is never held whole)."""
    rows, blocks = _grid(sheet, styles)
    parts = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{NS_MAIN}" xmlns:r="{NS_R}">',
        f"<sheetPr codeName={quoteattr(links.code_name)}/>" if links.code_name else "",
        f'<dimension ref="{_dimension(rows, blocks)}"/>',
        _sheet_view(sheet.freeze_row),
        '<sheetFormatPr defaultRowHeight="15"/>',
    ]
    widths = column_widths(sheet)
    if widths:
        parts.append("<cols>" + "".join(
            f'<col min="{c}" max="{c}" width="{w:.2f}" customWidth="1"/>'
            for c, w in sorted(widths.items())) + "</cols>")
    end = ['<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" '
           'header="0.3" footer="0.3"/>']
    if links.drawing:
        end.append(f'<drawing r:id="{links.drawing}"/>')
    if links.tables:
        end.append(f'<tableParts count="{len(links.tables)}">'
                   + "".join(f'<tablePart r:id="{rid}"/>' for rid in links.tables)
                   + "</tableParts>")
    end.append("</worksheet>")
    segments = _sheet_data(rows, blocks)
    segments[0][0:0] = parts
    segments[-1] += end
    for segment in segments:
        if isinstance(segment, _Block):
            yield from segment.chunks()
        elif segment:
            yield "".join(segment).encode()


def table_xml(table: Table, table_id: int, name: str) -> bytes:
    area = table_ref(table)
    columns = "".join(f'<tableColumn id="{i}" name={quoteattr(clean(n))}/>'
                      for i, n in enumerate(column_names(table), start=1))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<table xmlns="{NS_MAIN}" id="{table_id}" name="{name}" displayName="{name}" '
        f'ref="{area}" totalsRowShown="0"><autoFilter ref="{area}"/>'
        f'<tableColumns count="{len(table.columns)}">{columns}</tableColumns>'
        f'<tableStyleInfo name="{TABLE_STYLE}" showFirstColumn="0" showLastColumn="0" '
        'showRowStripes="1" showColumnStripes="0"/></table>'
    ).encode()
