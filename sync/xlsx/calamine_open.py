"""Open a workbook for python-calamine so that each input sheet's XML is scanned once.

python-calamine's `get_sheet_by_name` reads a sheet's XML twice: once for its cells, and
once more, whole, looking for `<mergeCells>` (calamine's `worksheet_merge_cells`), which
a sync never uses: ~40 % of the time of parsing Facturas (0.75 -> 0.45 s at 100 000
invoices). `open_workbook` hands calamine a copy of the package (a temporary file) in
which each input sheet's XML starts with an empty `<mergeCells></mergeCells>`, so the
second scan stops at the first element; the cells read the same (quick-xml reads the
declaration after it like any other event).

The copy inflates nothing: a deflate stream is a sequence of blocks and never refers back
past its own start, so one stored block holding those bytes, put before the member's own
compressed bytes, makes a valid stream of the longer text; the CRC-32 is combined from
the member's. Worksheets other than the input sheets (the output sheets: the biggest
members after Facturas once a book has been synced) are left out; every other member
is copied as it is. Anything unexpected: calamine opens the file itself, as before.
"""

from __future__ import annotations

import atexit
import re
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Collection
from pathlib import Path
from typing import Any, BinaryIO

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
    are the file's own.

    The copy is a temporary file, its name removed as soon as calamine has it open
    (calamine reads it by its handle): given as bytes (`from_filelike`), calamine would
    copy them into its own memory through Python, ~0.2 s and 100 MB at 1 000 000
    invoices, per handle."""
    import python_calamine

    copy = _temporary_copy(path, sheets)
    if copy is not None:
        try:
            return python_calamine.CalamineWorkbook.from_path(str(copy))
        except Exception:  # noqa: BLE001 - a speed-up only: calamine judges the file itself
            pass
        finally:
            _remove(copy)
    return python_calamine.CalamineWorkbook.from_path(str(path))


def _temporary_copy(path: Path, sheets: Collection[str]) -> Path | None:
    """The copy (`package_copy`) in a new temporary file; None when there is nothing to
    change or it cannot be made (the file is read as it is)."""
    copy = None
    try:
        with tempfile.NamedTemporaryFile(prefix="cobranza-", suffix=".xlsx",
                                         delete=False) as out:
            copy = Path(out.name)
            if package_copy(path, sheets, out):
                return copy
    except Exception:  # noqa: BLE001 - a full disk, a damaged package: read the file
        pass
    if copy is not None:
        _remove(copy)
    return None


def _remove(path: Path) -> None:
    """Remove the name now; where the system refuses while calamine has the file open,
    when the program ends."""
    try:
        path.unlink(missing_ok=True)
    except OSError:
        atexit.register(path.unlink, missing_ok=True)


def package_copy(path: Path, sheets: Collection[str], out: BinaryIO) -> bool:
    """Write to `out` the package described above; False when no input sheet could be
    changed (the copy is then useless)."""
    from sync.xlsx.package import ZipWriter, sheet_entries

    with open(path, "rb") as src, zipfile.ZipFile(src) as package:
        names = set(package.namelist())
        entries = sheet_entries(lambda name: package.read(name) if name in names else None)
        wanted = set(match_names([e.name for e in entries], tuple(sheets)).values())
        parts = {e.part: e.name in wanted for e in entries}
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
    return changed


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
