"""xl/styles.xml: find-or-append of the few cell styles the output sheets use.

Existing style ids never move, so cells of every other sheet keep their look.
"""

from __future__ import annotations

import copy

from lxml import etree

from sync.xlsx.package import NS_MAIN, to_xml

HEADER_FILL = "FFD9E1F2"  # light blue, matches TableStyleMedium2's palette

_BUILTIN_FORMATS: dict[str, int | str] = {
    "text": 0,
    "number": 0,
    "int": 3,  # #,##0
    "money": 4,  # #,##0.00
    "percent": "0.0%",
    "date": "dd/mm/yyyy",
    "datetime": "dd/mm/yyyy hh:mm",
}
def _q(tag: str) -> str:
    return f"{{{NS_MAIN}}}{tag}"


def _key(el: etree._Element) -> tuple:
    """Structural identity of a style element, independent of attribute order."""
    children = tuple(_key(c) for c in el if isinstance(c.tag, str))
    return etree.QName(el).localname, tuple(sorted(el.attrib.items())), children


class StyleBook:
    """xl/styles.xml with find-or-append of the few styles we use; existing ids never move."""

    def __init__(self, xml: bytes) -> None:
        self.root = etree.fromstring(xml)
        self.changed = False
        self._cache: dict[tuple[str, str], int] = {}
        # What the find-or-append below relies on, checked now rather than mid-write.
        fonts = self.root.find(_q("fonts"))
        if fonts is None or fonts.find(_q("font")) is None:
            raise ValueError("a styles part without fonts")
        for el in self.root.iterfind(f"{_q('numFmts')}/{_q('numFmt')}"):
            int(el.get("numFmtId", ""))  # ValueError when missing or not a number

    def xf(self, role: str, fmt: str) -> int:
        """cellXfs index for a cell role (value/header/title/label/note) and a Format."""
        key = (role, fmt)
        if key not in self._cache:
            self._cache[key] = self._make_xf(role, fmt)
        return self._cache[key]

    def to_bytes(self) -> bytes:
        return to_xml(self.root)

    def _make_xf(self, role: str, fmt: str) -> int:
        num_fmt = self._num_fmt(_BUILTIN_FORMATS.get(fmt, 0))
        font = self._font(role)
        fill = self._append("fills", self._header_fill()) if role == "header" else 0
        xf = etree.Element(_q("xf"))
        for name, value in (("numFmtId", num_fmt), ("fontId", font), ("fillId", fill),
                            ("borderId", 0), ("xfId", 0)):
            xf.set(name, str(value))
        for name, value in (("applyNumberFormat", num_fmt), ("applyFont", font),
                            ("applyFill", fill)):
            if value:
                xf.set(name, "1")
        return self._append("cellXfs", xf)

    def _font(self, role: str) -> int:
        if role in ("value", ""):
            return 0
        font = copy.deepcopy(self._section("fonts")[0])
        for child in font.findall(_q("b")) + font.findall(_q("i")):
            font.remove(child)
        font.insert(0, etree.Element(_q("i" if role == "note" else "b")))
        if role == "title":
            size = font.find(_q("sz"))
            if size is None:
                size = etree.SubElement(font, _q("sz"))
            size.set("val", "14")
        return self._append("fonts", font)

    @staticmethod
    def _header_fill() -> etree._Element:
        fill = etree.Element(_q("fill"))
        pattern = etree.SubElement(fill, _q("patternFill"), patternType="solid")
        etree.SubElement(pattern, _q("fgColor"), rgb=HEADER_FILL)
        etree.SubElement(pattern, _q("bgColor"), indexed="64")
        return fill

    def _num_fmt(self, code: int | str) -> int:
        if isinstance(code, int):
            return code
        section = self._section("numFmts")
        for el in section:
            if el.get("formatCode") == code:
                return int(el.get("numFmtId"))
        new_id = max([163] + [int(el.get("numFmtId")) for el in section]) + 1
        etree.SubElement(section, _q("numFmt"), numFmtId=str(new_id), formatCode=code)
        section.set("count", str(len(section)))
        self.changed = True
        return new_id

    def _append(self, section_name: str, el: etree._Element) -> int:
        section = self._section(section_name)
        items = [c for c in section if isinstance(c.tag, str)]
        wanted = _key(el)
        for index, item in enumerate(items):
            if _key(item) == wanted:
                return index
        section.append(el)
        section.set("count", str(len(items) + 1))
        self.changed = True
        return len(items)

    def _section(self, name: str) -> etree._Element:
        found = self.root.find(_q(name))
        if found is None:  # only numFmts is optional in practice; it must come first
            found = etree.Element(_q(name), count="0")
            self.root.insert(0, found)
        return found
