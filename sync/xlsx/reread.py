"""Read one sheet again when python-calamine fails on a cell's value.

calamine turns every number in a date- or duration-formatted cell into a date while it
builds the rows. A number no date can hold makes it fail for the whole sheet: from about
-1.07E11 down (-1E12 in a dd/mm/aaaa cell) its native code panics (chrono's
"TimeDelta::milliseconds out of bounds", raised as `pyo3_runtime.PanicException`, a
BaseException), and from a billion days up a [h]:mm cell overflows Python's timedelta.

The fallback copies the package with the number format taken off exactly the cells whose
number is that large, and lets calamine read the copy. It cannot crash on such a cell any
more, and every other cell gets the very value the fast path gives, because it is the
same reader. The large number arrives as itself, as calamine already hands back every
date serial it cannot show (3E6, -1E9): validation then reports it like any other bad date
(`"-1000000000000" no es una fecha válida`) and keeps the rest of the sheet.
"""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import python_calamine

from sync.xlsx.package import Package

# At or above this magnitude calamine never returns a date (it gives the plain number),
# and a duration overflows: Python's timedelta holds at most 999 999 999 days.
HUGE = 999_999_999.0
# A cell value that may be that large: nine integer digits, an exponent or "inf". The
# literal "v>" first lets the scan skip ahead fast (a quarter second for 100 000 rows).
_VALUE = re.compile(rb"v>([-+]?\d{9}[^<]*|[^<]*[eEiI][^<]*)<")
_PREFIX = re.compile(rb"[A-Za-z_][\w.-]*:")
_TAG_END = (b" ", b"\t", b"\r", b"\n", b">", b"/")
_STYLE = re.compile(rb"""\ss\s*=\s*(?:"[^"]*"|'[^']*')""")


def reread_sheet(path: Path, sheet: str) -> list[list] | None:
    """`sheet`'s rows as `to_python` gives them, huge numbers without their date format.

    None when the sheet has no such cell (its failure is something else: damage).
    """
    with Package(path) as package:
        part = next((e.part for e in package.sheet_entries() if e.name == sheet), None)
        xml = package.read(part) if part else None
        fixed = without_huge_dates(xml) if xml else None
        if fixed is None:
            return None
        package.put(part, fixed)
        copy = io.BytesIO()
        package.write(copy)
    copy.seek(0)
    book = python_calamine.CalamineWorkbook.from_filelike(copy)
    try:
        return book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    finally:
        book.close()


def without_huge_dates(xml: bytes) -> bytes | None:
    """The sheet XML with the style (`s`) removed from cells holding a huge or infinite
    number; None when there is none. Removing a style changes nothing but calamine's
    date detection: the value, its type and its position stay."""
    edits: list[tuple[int, int, bytes]] = []
    for match in _VALUE.finditer(xml):
        prefix = _value_prefix(xml, match.start())
        if prefix is None:
            continue
        try:
            number = float(match[1])
        except ValueError:
            continue
        if not (math.isinf(number) or abs(number) >= HUGE):
            continue
        start = _cell_start(xml, match.start(), prefix)
        if start < 0:
            continue
        end = xml.index(b">", start)
        tag = _STYLE.sub(b"", xml[start:end])
        if len(tag) != end - start:
            edits.append((start, end, tag))
    if not edits:
        return None
    pieces, at = [], 0
    for start, end, tag in edits:
        pieces += [xml[at:start], tag]
        at = end
    pieces.append(xml[at:])
    return b"".join(pieces)


def _value_prefix(xml: bytes, at: int) -> bytes | None:
    """The namespace prefix of the `<v>` tag whose "v>" is at `at` ("" or "x:"); None
    when "v>" ends some other tag or text."""
    lt = xml.rfind(b"<", 0, at)
    prefix = xml[lt + 1:at]
    if lt < 0 or prefix and not _PREFIX.fullmatch(prefix):
        return None
    return prefix


def _cell_start(xml: bytes, before: int, prefix: bytes) -> int:
    """Position of the `<c ` start tag holding the `<v>` at `before` (-1 if none)."""
    opening = b"<" + prefix + b"c"
    at = xml.rfind(opening, 0, before)
    while at >= 0 and xml[at + len(opening):at + len(opening) + 1] not in _TAG_END:
        at = xml.rfind(opening, 0, at)  # "<col", "<cfRule": not a cell
    return at
