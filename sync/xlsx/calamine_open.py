"""Open a workbook for python-calamine so that each input sheet's XML is scanned once.

python-calamine's `get_sheet_by_name` reads a sheet's XML twice: once for its cells, and
once more, whole, looking for `<mergeCells>` (calamine's `worksheet_merge_cells`), which
a sync never uses: ~40 % of the time of parsing Facturas (0.75 -> 0.45 s at 100 000
invoices). `open_workbook` hands calamine an in-memory copy of the package in which each
input sheet's XML starts with an empty `<mergeCells></mergeCells>`, so the second scan
stops at the first element; the cells read the same (quick-xml reads the declaration
after it like any other event).

The copy inflates nothing: a deflate stream is a sequence of blocks and never refers back
past its own start, so one stored block holding those bytes, put before the member's own
compressed bytes, makes a valid stream of the longer text; the CRC-32 is combined from
the member's. Worksheets other than the input sheets (the output sheets: the biggest
members after Facturas once a book has been synced) are left out; every other member
is copied as it is. Anything unexpected: calamine opens the file itself, as before.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any

from isal import isal_zlib

from cobranza.book.text import match_names

STOPPER = b"<mergeCells></mergeCells>"
# A stored deflate block that is not the last: BFINAL 0, BTYPE 00, padded to the byte,
# then LEN and its complement, then the bytes.
_STORED_BLOCK = b"\x00" + struct.pack("<HH", len(STOPPER), len(STOPPER) ^ 0xFFFF) + STOPPER
_STOPPER_CRC = zlib.crc32(STOPPER)
_HEAD = 256  # bytes of a sheet's text inflated to check it is UTF-8 XML
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([^"']*)["']""")


def open_workbook(path: Path, sheets: Collection[str]) -> Any:
    """A `python_calamine.CalamineWorkbook` of the file at `path` in which the `sheets`
    (names matched ignoring case, accents and spaces) parse without the second scan;
    the file itself when the copy cannot be made (or calamine refuses it), so errors
    are the file's own."""
    import python_calamine

    try:
        copy = package_copy(path, sheets)
    except Exception:  # noqa: BLE001 - a speed-up only: calamine reads (and judges) the file
        copy = None
    if copy is not None:
        try:
            return python_calamine.CalamineWorkbook.from_filelike(copy)
        except Exception:  # noqa: BLE001 - as above
            pass
    return python_calamine.CalamineWorkbook.from_path(str(path))


def package_copy(path: Path, sheets: Collection[str]) -> io.BytesIO | None:
    """The in-memory package described above; None when no input sheet can be changed."""
    from sync.xlsx.package import Relationships, Workbook, ZipWriter, rels_path

    with open(path, "rb") as src, zipfile.ZipFile(src) as package:
        rels = Relationships(package.read(rels_path(Workbook.PART)))
        entries = Workbook(package.read(Workbook.PART), rels).sheets()
        wanted = set(match_names([e.name for e in entries], tuple(sheets)).values())
        parts = {e.part: e.name in wanted for e in entries}
        out = io.BytesIO()
        writer = ZipWriter(out)
        changed = False
        for info in package.infolist():
            if not parts.get(info.filename, True):
                continue  # a worksheet calamine will not be asked for
            if parts.get(info.filename) and _utf8_deflated(info, package):
                writer.add_raw(info, src, lead=_STORED_BLOCK, lead_size=len(STOPPER),
                               crc=isal_zlib.crc32_combine(_STOPPER_CRC, info.CRC,
                                                           info.file_size))
                changed = True
            else:
                writer.add_raw(info, src)
        writer.close()
    out.seek(0)
    return out if changed else None


def _utf8_deflated(info: zipfile.ZipInfo, package: zipfile.ZipFile) -> bool:
    """Whether the member is deflated XML text in UTF-8 (a BOM, UTF-16 or another
    declared encoding must stay first: such a sheet is left as it is)."""
    if info.compress_type != zipfile.ZIP_DEFLATED or info.flag_bits & 0x1:
        return False
    with package.open(info) as member:
        head = member.read(_HEAD)
    return _is_utf8_xml(head)


def _is_utf8_xml(head: bytes) -> bool:
    if not head.startswith(b"<"):
        return False
    if not head.startswith(b"<?xml"):
        return True
    end = head.find(b"?>")
    if end < 0:
        return False
    found = _ENCODING.search(head, 0, end)
    return found is None or found.group(1).lower() in (b"utf-8", b"utf8")
