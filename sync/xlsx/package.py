"""The .xlsm as an OPC zip package: members, content types, relationships, sheet list.

`Package` reads a workbook zip and keeps an overlay of replaced/added/removed members;
`Package.write` streams the result, copying every untouched member's *compressed* bytes
as they are (no inflate/deflate: ten times faster, and byte-identical by construction).
Big new members are deflated in worker threads from the moment they are `stage`d (zlib
releases the GIL), chunk by chunk as an iterator yields them, so compressing a sheet
overlaps generating it; only their deflated pieces are kept, and a sheet's XML is never
held whole.
"""

from __future__ import annotations

import itertools
import os
import posixpath
import struct
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from isal import isal_zlib as fast_zlib  # zlib's format, ~4x faster at level 1
from lxml import etree

from sync.xlsx.fileops import file_identity

NS_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
NS_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
NS_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
NS_CT = "http://schemas.openxmlformats.org/package/2006/content-types"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
CT = "application/vnd.openxmlformats-officedocument."
CONTENT_TYPES = {
    "worksheet": CT + "spreadsheetml.worksheet+xml",
    "table": CT + "spreadsheetml.table+xml",
    "drawing": CT + "drawing+xml",
    "chart": CT + "drawingml.chart+xml",
}
Content = bytes | Iterable[bytes]  # a member's bytes, whole or in chunks to be concatenated
_XML_DECL = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
_CHUNK = 1 << 20
_FAST_DEFLATE_OVER = 1 << 20  # members this big: level 1 (5x faster, ~20% larger), in threads
_PIECE = 1 << 20  # big members are deflated in independent pieces (+0.3% size),
_WORKERS = 2  # two threads at a time
# Pieces handed to the workers beyond the oldest unfinished one: past that, this thread
# waits (letting them run) instead of piling up XML they have not deflated yet; the
# workers need the GIL at each piece, and this thread holds it while making the XML.
_AHEAD = 32
_NEW_MEMBER_TIME = (1980, 1, 1, 0, 0, 0)  # fixed, so identical content gives identical bytes


def to_xml(root: etree._Element) -> bytes:
    return _XML_DECL + etree.tostring(root, encoding="UTF-8")


def rels_path(part: str) -> str:
    """xl/worksheets/sheet1.xml -> xl/worksheets/_rels/sheet1.xml.rels"""
    folder, name = posixpath.split(part)
    return posixpath.join(folder, "_rels", name + ".rels")


def resolve(source_part: str, target: str) -> str:
    """Target of a relationship from `source_part`, as a zip member name."""
    if target.startswith("/"):
        return target.lstrip("/")
    return posixpath.normpath(posixpath.join(posixpath.dirname(source_part), target))


def relative(source_part: str, part: str) -> str:
    # rooted at "/": relpath of relative paths would ask the OS for the working directory
    return posixpath.relpath("/" + part, "/" + posixpath.dirname(source_part))


@dataclass(frozen=True)
class Rel:
    id: str
    type: str  # full relationship type URI
    target: str
    external: bool = False


class Relationships:
    """A `.rels` part: ordered relationships with stable ids."""

    def __init__(self, xml: bytes | None = None) -> None:
        self.rels: list[Rel] = []
        if xml:
            for el in etree.fromstring(xml):
                if not isinstance(el.tag, str):  # a comment or processing instruction
                    continue
                rel_id, kind, target = el.get("Id"), el.get("Type"), el.get("Target")
                if not (rel_id and kind and target is not None):
                    raise ValueError("a relationship without Id, Type or Target")
                external = el.get("TargetMode") == "External"
                self.rels.append(Rel(rel_id, kind, target, external))

    def of_type(self, kind: str) -> list[Rel]:
        return [r for r in self.rels if r.type == REL + kind]

    def add(self, kind: str, target: str) -> str:
        taken = {r.id for r in self.rels}
        n = len(self.rels) + 1
        while f"rId{n}" in taken:
            n += 1
        self.rels.append(Rel(f"rId{n}", REL + kind, target))
        return f"rId{n}"

    def remove(self, rel_id: str) -> None:
        self.rels = [r for r in self.rels if r.id != rel_id]

    def to_bytes(self) -> bytes:
        root = etree.Element(f"{{{NS_PKG_RELS}}}Relationships", nsmap={None: NS_PKG_RELS})
        for r in self.rels:
            el = etree.SubElement(root, f"{{{NS_PKG_RELS}}}Relationship")
            el.set("Id", r.id)
            el.set("Type", r.type)
            el.set("Target", r.target)
            if r.external:
                el.set("TargetMode", "External")
        return to_xml(root)


class ContentTypes:
    """[Content_Types].xml, edited in place so every existing entry stays as it was."""

    def __init__(self, xml: bytes) -> None:
        self.root = etree.fromstring(xml)
        if any(not el.get("PartName") or not el.get("ContentType")
               for el in self.root.iter(f"{{{NS_CT}}}Override")):
            raise ValueError("an Override without PartName or ContentType")

    def overrides(self) -> dict[str, str]:
        return {
            el.get("PartName").lstrip("/"): el.get("ContentType")
            for el in self.root.iter(f"{{{NS_CT}}}Override")
        }

    def set_override(self, part: str, content_type: str) -> bool:
        """Declare a part's type; False (and no edit) when it is already declared so."""
        if self.overrides().get(part) == content_type:
            return False
        self.remove_override(part)
        el = etree.SubElement(self.root, f"{{{NS_CT}}}Override")
        el.set("PartName", "/" + part)
        el.set("ContentType", content_type)
        return True

    def remove_override(self, part: str) -> bool:
        found = [el for el in self.root.iter(f"{{{NS_CT}}}Override")
                 if el.get("PartName").lstrip("/").lower() == part.lower()]
        for el in found:
            self.root.remove(el)
        return bool(found)

    def to_bytes(self) -> bytes:
        return to_xml(self.root)


@dataclass(frozen=True)
class SheetEntry:
    name: str
    sheet_id: int
    rel_id: str
    part: str  # zip member name of the worksheet part


class Workbook:
    """xl/workbook.xml and its rels: the sheet list."""

    PART = "xl/workbook.xml"

    def __init__(self, xml: bytes, rels: Relationships) -> None:
        self.root = etree.fromstring(xml)
        self.rels = rels
        if self.root.find(f"{{{NS_MAIN}}}sheets") is None:
            raise ValueError("a workbook without <sheets>")
        for el in self.root.iter(f"{{{NS_MAIN}}}sheet"):
            if not el.get("name"):
                raise ValueError("a sheet without name")
            int(el.get("sheetId", ""))  # ValueError when missing or not a number

    def sheets(self) -> list[SheetEntry]:
        targets = {r.id: resolve(self.PART, r.target) for r in self.rels.rels}
        return [
            SheetEntry(el.get("name"), int(el.get("sheetId")), rid, targets.get(rid, ""))
            for el in self.root.iter(f"{{{NS_MAIN}}}sheet")
            if (rid := el.get(f"{{{NS_R}}}id"))
        ]

    def defined_names(self) -> list[str]:
        return [el.get("name") for el in self.root.iter(f"{{{NS_MAIN}}}definedName")]

    def add_sheet(self, name: str, part: str) -> SheetEntry:
        """Append a sheet (at the end, so localSheetId of defined names stays valid)."""
        rel_id = self.rels.add("worksheet", relative(self.PART, part))
        sheet_id = max((s.sheet_id for s in self.sheets()), default=0) + 1
        el = etree.SubElement(self.root.find(f"{{{NS_MAIN}}}sheets"), f"{{{NS_MAIN}}}sheet")
        el.set("name", name)
        el.set("sheetId", str(sheet_id))
        el.set(f"{{{NS_R}}}id", rel_id)
        return SheetEntry(name, sheet_id, rel_id, part)

    def to_bytes(self) -> bytes:
        return to_xml(self.root)


def sheet_entries(read: Callable[[str], bytes | None]) -> list[SheetEntry]:
    """The sheets xl/workbook.xml and its relationships list, their parts read by `read`
    (a member's bytes, None when missing)."""
    rels = Relationships(read(rels_path(Workbook.PART)))
    return Workbook(read(Workbook.PART) or b"", rels).sheets()


class Package:
    """A workbook zip opened for editing: reads from the file, writes to another stream."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # One open file for reading and for the raw copies in write(): if another
        # process replaces the workbook meanwhile, we keep reading the version we parsed.
        self._file = open(path, "rb")  # noqa: SIM115 - closed in __exit__
        try:
            self._zip = zipfile.ZipFile(self._file)
        except BaseException:
            self._file.close()
            raise
        self.identity = file_identity(os.fstat(self._file.fileno()))
        self._infos = {i.filename: i for i in self._zip.infolist()}
        self._new: dict[str, list[bytes] | _Packed] = {}  # in the order they were put
        self._removed: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
        self._zip.close()
        self._file.close()

    def names(self) -> list[str]:
        kept = [n for n in self._infos if n not in self._removed]
        return kept + [n for n in self._new if n not in self._infos]

    def has(self, name: str) -> bool:
        return name in self._new or (name in self._infos and name not in self._removed)

    def read(self, name: str) -> bytes | None:
        if name in self._new:
            new = self._new[name]
            # one chunk: that very object, no copy
            return new.inflated() if isinstance(new, _Packed) else b"".join(new)
        if name in self._removed or name not in self._infos:
            return None
        return self._zip.read(name)

    def sheet_entries(self) -> list[SheetEntry]:
        """The workbook's sheets as xl/workbook.xml and its relationships list them
        (ValueError or an lxml error when those parts are missing or damaged)."""
        return sheet_entries(self.read)

    def head(self, name: str, size: int) -> bytes:
        """The first `size` bytes of a member, without inflating all of it."""
        if name in self._new:
            return self.read(name)[:size]
        if not self.has(name):
            return b""
        with self._zip.open(name) as f:
            return f.read(size)

    def stage(self, data: Content) -> Staged:
        """`data` made ready to store (`put`) or compare (`same`): small content as its
        chunks; big content deflating in worker threads as its chunks come, of which only
        the deflated pieces are kept."""
        chunks = iter([data] if isinstance(data, bytes) else data)
        head, size = [], 0
        for chunk in chunks:
            head.append(chunk)
            size += len(chunk)
            if size >= _FAST_DEFLATE_OVER:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="deflate")
                return _packing(self._pool, itertools.chain(head, chunks))
        return head

    def same(self, name: str, data: Content | Staged) -> bool:
        """Whether the member holds exactly `data`; size and CRC first, so a changed
        member is told apart without inflating it."""
        staged = data if isinstance(data, _Packed) else self.stage(data)
        info = self._infos.get(name)
        if name in self._new or info is None or name in self._removed:
            return self.read(name) == _content(staged)
        if info.file_size != _size(staged) or _crc(staged) != info.CRC:
            return False
        return self._zip.read(name) == _content(staged)

    def put(self, name: str, data: Content | Staged) -> None:
        """Store `data` (or what `stage` made of it) as the member `name`; given in
        chunks, it is never joined whole unless read back."""
        self._removed.discard(name)
        self._new[name] = data if isinstance(data, _Packed) else self.stage(data)

    def remove(self, name: str) -> None:
        self._new.pop(name, None)
        if name in self._infos:
            self._removed.add(name)

    def write(self, out: BinaryIO) -> None:
        """Stream the edited package to `out` (original member order, new members last)."""
        writer = ZipWriter(out)
        for name in self.names():
            new = self._new.get(name)
            if isinstance(new, _Packed):
                writer.add_deflated(name, new.size, new.crc, [p.result() for p in new.pieces])
            elif new is not None:
                writer.add_bytes(name, b"".join(new))
            else:
                writer.add_raw(self._infos[name], self._file)
        writer.close()


@dataclass(frozen=True)
class _Packed:
    """A big member being deflated by worker threads: its size, CRC and pieces."""

    size: int
    crc: int
    pieces: list[Future[bytes]]

    def inflated(self) -> bytes:
        return zlib.decompress(b"".join(p.result() for p in self.pieces), -15)


Staged = list[bytes] | _Packed  # content ready to store: small in chunks, big deflating


def _content(staged: Staged) -> bytes:
    return staged.inflated() if isinstance(staged, _Packed) else b"".join(staged)


def _size(staged: Staged) -> int:
    return staged.size if isinstance(staged, _Packed) else sum(map(len, staged))


def _crc(staged: Staged) -> int:
    if isinstance(staged, _Packed):
        return staged.crc
    crc = 0
    for chunk in staged:
        crc = zlib.crc32(chunk, crc)
    return crc


def _packing(pool: ThreadPoolExecutor, chunks: Iterator[bytes]) -> _Packed:
    """Deflate the content in `chunks` in `pool` as they come (the CRC here, ISA-L's
    takes ~60 ms a GB).

    Each piece (at most _PIECE bytes, within one chunk) is a raw deflate stream of its
    own, ended by a sync flush (the last one by the final block): concatenated they are
    one valid stream, as pigz writes them. A piece is handed over once the next one is
    known, so the last is known to be last.
    """
    pieces: list[Future[bytes]] = []
    crc = size = 0
    waiting: memoryview | None = None
    for chunk in chunks:
        crc, size = fast_zlib.crc32(chunk, crc), size + len(chunk)
        view = memoryview(chunk)
        for i in range(0, len(view), _PIECE):
            if waiting is not None:
                pieces.append(pool.submit(_deflate, waiting, False))
                if len(pieces) > _AHEAD:  # wait for the workers rather than hold the XML
                    pieces[-_AHEAD - 1].result()
            waiting = view[i:i + _PIECE]
    if waiting is not None:
        pieces.append(pool.submit(_deflate, waiting, True))
    return _Packed(size, crc, pieces)


def _deflate(data: memoryview, last: bool) -> bytes:
    packer = fast_zlib.compressobj(1, zlib.DEFLATED, -15)
    end = fast_zlib.Z_FINISH if last else fast_zlib.Z_SYNC_FLUSH
    return packer.compress(data) + packer.flush(end)


class ZipWriter:
    """Minimal zip writer: raw copies of existing members plus deflated new ones.

    zipfile has no public way to write already-compressed data, hence this ~50 lines of
    the (stable, documented) zip format. No zip64: a workbook never needs it.
    """

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.offset = 0
        self.central: list[bytes] = []

    def add_raw(self, info: zipfile.ZipInfo, src: BinaryIO, lead: bytes = b"",
                lead_size: int = 0, crc: int | None = None) -> None:
        """A member of `src` copied as it is compressed; with `lead`, those compressed
        bytes (`lead_size` bytes of text) put before it, `crc` being the CRC-32 of the
        whole text (see `sync.xlsx.calamine_open`)."""
        src.seek(info.header_offset)
        local = src.read(30)
        name_len, extra_len = struct.unpack("<HH", local[26:30])
        src.seek(info.header_offset + 30 + name_len + extra_len)
        flags = info.flag_bits & ~0x08  # sizes go in the header, no data descriptor
        self._header(info.filename, flags, info.compress_type, info.date_time,
                     info.CRC if crc is None else crc, len(lead) + info.compress_size,
                     lead_size + info.file_size, info.external_attr, info.create_system)
        if lead:
            self._write(lead)
        left = info.compress_size
        while left:
            chunk = src.read(min(left, _CHUNK))
            if not chunk:
                raise zipfile.BadZipFile(f"truncated member {info.filename}")
            self._write(chunk)
            left -= len(chunk)

    def add_bytes(self, name: str, data: bytes) -> None:
        packer = zlib.compressobj(6, zlib.DEFLATED, -15)
        packed = packer.compress(data) + packer.flush()
        self.add_deflated(name, len(data), zlib.crc32(data), [packed])

    def add_deflated(self, name: str, size: int, crc: int, pieces: list[bytes]) -> None:
        """A member from its already deflated pieces (one raw deflate stream)."""
        self._header(name, 0, zipfile.ZIP_DEFLATED, _NEW_MEMBER_TIME,
                     crc, sum(map(len, pieces)), size, 0, 0)
        for piece in pieces:
            self._write(piece)

    def close(self) -> None:
        start = self.offset
        for record in self.central:
            self._write(record)
        size, count = self.offset - start, len(self.central)
        if count > 0xFFFF or start > 0xFFFFFFFF:
            raise ValueError("el libro es demasiado grande para el formato zip sin zip64")
        self._write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, count, count, size, start, 0))

    def _header(self, name: str, flags: int, method: int, date_time: tuple,
                crc: int, csize: int, usize: int, external: int, system: int) -> None:
        raw_name = name.encode("utf-8")
        if not name.isascii():
            flags |= 0x800
        if max(csize, usize, self.offset) > 0xFFFFFFFF:
            raise ValueError("el libro es demasiado grande para el formato zip sin zip64")
        y, mo, d, h, mi, s = date_time
        dos_time, dos_date = (h << 11) | (mi << 5) | (s // 2), ((y - 1980) << 9) | (mo << 5) | d
        common = struct.pack("<HHHHLLLH", flags, method, dos_time, dos_date,
                             crc, csize, usize, len(raw_name))
        self.central.append(struct.pack("<4sBB", b"PK\x01\x02", 20, system) + struct.pack("<H", 20)
                            + common + struct.pack("<HHHHLL", 0, 0, 0, 0, external, self.offset)
                            + raw_name)
        self._write(b"PK\x03\x04" + struct.pack("<H", 20) + common + struct.pack("<H", 0)
                    + raw_name)

    def _write(self, data: bytes) -> None:
        self.out.write(data)
        self.offset += len(data)
