"""Write the output sheets into the workbook file, touching nothing else.

Only the parts of the named output sheets (worksheet, its tables, drawing and charts) are
replaced; workbook.xml, its rels, [Content_Types].xml, styles.xml and calcChain.xml get
minimal additive edits; every other member is copied with its compressed bytes as they
are. A sheet whose generated parts equal the stored ones is not rewritten, and when no
sheet changed the file is not touched at all.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import get_args

from lxml import etree

from cobranza.book.validate import CONFIG_SHEET
from cobranza.layout.sheets import BarChart, Cell, Format, Sheet, Table
from sync.errors import WorkbookError
from sync.xlsx import fileops
from sync.xlsx.chart_xml import chart_xml, drawing_xml
from sync.xlsx.config_sheet import NoParameterTable, set_parameter
from sync.xlsx.package import (
    CONTENT_TYPES,
    NS_MAIN,
    Content,
    ContentTypes,
    Package,
    Relationships,
    SheetEntry,
    Workbook,
    relative,
    rels_path,
    resolve,
)
from sync.xlsx.sheet_xml import SheetLinks, table_xml, worksheet_chunks
from sync.xlsx.style_xml import StyleBook

_CT_PART = "[Content_Types].xml"
_WB_RELS = "xl/_rels/workbook.xml.rels"
_STYLES = "xl/styles.xml"
_CALC_CHAIN = "xl/calcChain.xml"
_TABLE_NAME_BAD = re.compile(r"[^\w.]")
_CODE_NAME = re.compile(rb'<(?:\w+:)?sheetPr\b[^>]*?\bcodeName="([^"]*)"')


@dataclass(frozen=True)
class WriteResult:
    changed: tuple[str, ...]  # names of the output sheets rewritten
    backup: Path | None  # copy of the previous file, None when nothing was written
    bytes_written: int  # size of the new file, 0 when nothing was written
    parameters: tuple[str, ...] = ()  # Configuración parameters written


def write_outputs(
    path: Path, sheets: list[Sheet], *, backups: int = 5, now: datetime | None = None,
    parameters: Mapping[str, str] | None = None,
) -> WriteResult:
    """Put `sheets` into the workbook at `path` (see module docstring), and the
    Configuración `parameters` the workbook lacks (the workbook id).

    Raises `sync.errors.WorkbookOpen` when Excel or LibreOffice holds the file, and
    `WorkbookError` when a part it needs is missing or damaged (see `check_writable`);
    any failure while writing leaves the original file untouched. Removes first the
    temp files of killed writes (`fileops.remove_leftovers`).
    """
    path = Path(path)
    fileops.remove_leftovers(path.parent)
    fileops.check_not_open(path)
    with Package(path) as package, _damaged_is_fatal(path, "el libro no se modificó"):
        edit = _Edit(package, sheets)
        changed = tuple(s.name for s in sheets if edit.place(s))
        added = _set_parameters(package, parameters or {})
        if not changed and not added:
            return WriteResult((), None, 0)
        edit.finish()
        temp = fileops.write_temp(path, package.write)
        identity = package.identity
    size = temp.stat().st_size
    backup = fileops.commit(
        temp, path, backups=backups, now=now or datetime.now(), expected=identity
    )
    return WriteResult(changed, backup, size, added)


def _set_parameters(package: Package, parameters: Mapping[str, str]) -> tuple[str, ...]:
    """Write each parameter into Configuración; none when it has no parameters block."""
    try:
        for label, value in parameters.items():
            set_parameter(package, label, value)
    except NoParameterTable:
        return ()
    except _UNREADABLE as exc:
        raise _DamagedPart(f"hoja {CONFIG_SHEET}") from exc
    return tuple(parameters)


def check_writable(path: Path, sheet_names: Sequence[str],
                   parameters: Sequence[str] = ()) -> None:
    """Raise `WorkbookError` when the package lacks or has damaged a part that writing
    `sheet_names` (and the Configuración `parameters`) back would need; write nothing.

    It is the write's own preparation (`_Edit`: content types, workbook and its
    relationships, styles, the sheets' own and the other tables' parts, calc chain) with a
    placeholder for each sheet, so check and write cannot disagree. Members are neither
    inflated nor copied, so it costs little next to the write. For callers that must know
    before acting (the sync sends nothing then).
    """
    path = Path(path)
    probes = [_probe(name) for name in sheet_names]
    with Package(path) as package, _damaged_is_fatal(path, "no se envió nada"):
        edit = _Edit(package, probes)
        for probe in probes:
            edit.place(probe)
        edit.finish()
        _set_parameters(package, dict.fromkeys(parameters, "x"))


def _probe(name: str) -> Sheet:
    """A sheet with every cell style and format, a table and a chart: placing it takes
    every step a real output sheet takes."""
    formats: tuple[Format, ...] = get_args(Format)
    values = {"text": "x", "int": 1, "money": 1.5, "percent": 0.5, "date": date(2026, 1, 1),
              "datetime": datetime(2026, 1, 1, 8, 0), "number": 1.25}
    table = Table("Comprobacion", formats, [tuple(values[f] for f in formats)], row=3,
                  formats={f: f for f in formats})
    cells = [Cell(1, 1, name, "title"), Cell(2, 1, "x", "label"), Cell(2, 2, 1, "value", "int"),
             Cell(2, 3, "x", "note")]
    chart = BarChart("x", table.name, "text", ("int",))
    return Sheet(name, cells=cells, tables=[table], charts=[chart], freeze_row=4)


class _DamagedPart(Exception):
    """A package member the write needs is missing or cannot be understood."""

    def __init__(self, part: str, *, missing: bool = False) -> None:
        super().__init__(part)
        self.part, self.missing = part, missing


# What reading a damaged member raises: lxml's parse errors, zip/inflate errors, and the
# ValueErrors of the parsers in xlsx_package / style_xml (their required attributes).
_UNREADABLE = (etree.LxmlError, ValueError, zipfile.BadZipFile, zlib.error, EOFError)


@contextmanager
def _reading(part: str) -> Iterator[None]:
    """Failures to understand `part` become `_DamagedPart(part)`."""
    try:
        yield
    except _UNREADABLE as exc:
        raise _DamagedPart(part) from exc


def _member(package: Package, part: str) -> bytes:
    data = package.read(part)
    if data is None:
        raise _DamagedPart(part, missing=True)
    return data


@contextmanager
def _damaged_is_fatal(path: Path, consequence: str) -> Iterator[None]:
    """A damaged or missing member becomes one Spanish sentence: which part, what it
    means (`consequence`) and what to do."""
    try:
        yield
    except _DamagedPart as exc:
        problem = (f'Al libro "{path.name}" le falta' if exc.missing
                   else f'El libro "{path.name}" tiene dañada')
        backups = fileops.backups_of(path)
        restore = (f"restaure la copia {backups[-1].name} de {fileops.BACKUP_DIR.as_posix()}"
                   if backups else "restaure una copia de seguridad")
        raise WorkbookError(
            f'{problem} la parte interna "{exc.part}" y las hojas de salida no se pueden '
            f"escribir; {consequence}. Ábralo en Excel y guárdelo de nuevo, o {restore}."
        ) from exc


@dataclass
class _Allocation:
    """Part names, table ids and table names handed out in this run."""

    parts: set[str] = field(default_factory=set)
    table_ids: set[int] = field(default_factory=set)
    table_names: set[str] = field(default_factory=set)  # casefolded


class _Edit:
    """One write: the package plus the shared parts it edits."""

    def __init__(self, package: Package, sheets: list[Sheet]) -> None:
        self.pkg = package
        with _reading(_CT_PART):
            self.types = ContentTypes(_member(package, _CT_PART))
        with _reading(_WB_RELS):
            rels = Relationships(_member(package, _WB_RELS))
        with _reading(Workbook.PART):
            self.workbook = Workbook(_member(package, Workbook.PART), rels)
        with _reading(_STYLES):
            self.styles = StyleBook(_member(package, _STYLES))
        self.dirty: set[str] = set()
        self.rewritten_ids: set[int] = set()
        self.placed: set[str] = set()  # parts staged by this write, whichever sheet owns them
        wanted = {s.name.casefold() for s in sheets}
        self.entries = {e.name.casefold(): e for e in self.workbook.sheets()}
        if any(not e.part for e in self.entries.values()):  # a sheet without its relationship
            raise _DamagedPart(_WB_RELS)
        self.owned = {
            key: _owned_parts(package, entry.part)
            for key, entry in self.entries.items()
            if key in wanted
        }
        self.taken = self._taken()

    def _taken(self) -> _Allocation:
        """What other sheets use: output sheets' own old parts may be reused."""
        ours = set().union(*self.owned.values()) if self.owned else set()
        taken = _Allocation({n.lower() for n in self.pkg.names() if n not in ours})
        taken.table_names = {n.casefold() for n in self.workbook.defined_names()}
        for part, kind in self.types.overrides().items():
            if kind == CONTENT_TYPES["table"] and part not in ours and self.pkg.has(part):
                with _reading(part):
                    root = etree.fromstring(_member(self.pkg, part))
                    taken.table_ids.add(int(root.get("id", "")))
                taken.table_names.add(root.get("name", "").casefold())
        return taken

    def place(self, sheet: Sheet) -> bool:
        """Stage the sheet's parts; False when they equal what the file holds."""
        entry = self.entries.get(sheet.name.casefold())
        old = self.owned.get(sheet.name.casefold(), set())
        if entry:
            old = old | {entry.part}
        sheet_part = entry.part if entry else self._free("xl/worksheets/sheet{}.xml")
        # staged: the worksheet's chunks deflated as they are made, compared when done
        parts = {p: self.pkg.stage(b) for p, b in self._render(sheet, sheet_part).items()}
        if entry and set(parts) == old and all(self.pkg.same(p, b) for p, b in parts.items()):
            return False
        # An output sheet's old part name is free for the others: one placed earlier in
        # this write may already hold it, and then it is theirs, not ours to remove.
        for part in old - set(parts) - self.placed:
            self.pkg.remove(part)
            self.dirty |= {_CT_PART} if self.types.remove_override(part) else set()
        for part, data in parts.items():
            self.pkg.put(part, data)
            self.placed.add(part)
            kind = _kind_of(part)
            if kind and self.types.set_override(part, CONTENT_TYPES[kind]):
                self.dirty.add(_CT_PART)
        self._register(sheet, entry, sheet_part)
        return True

    def _register(self, sheet: Sheet, entry: SheetEntry | None, sheet_part: str) -> None:
        if entry:
            self.rewritten_ids.add(entry.sheet_id)
            return
        self.entries[sheet.name.casefold()] = self.workbook.add_sheet(sheet.name, sheet_part)
        self.dirty |= {Workbook.PART, _WB_RELS}

    def _render(self, sheet: Sheet, sheet_part: str) -> dict[str, Content]:
        parts: dict[str, Content] = {}
        rels = Relationships()
        drawing_id = None
        if sheet.charts:
            drawing = self._free("xl/drawings/drawing{}.xml")
            drawing_id = rels.add("drawing", relative(sheet_part, drawing))
            parts.update(self._charts(sheet, drawing))
        table_ids = []
        for table in sheet.tables:
            part = self._free("xl/tables/table{}.xml")
            table_ids.append(rels.add("table", relative(sheet_part, part)))
            parts[part] = table_xml(table, self._table_id(), self._table_name(table.name))
        links = SheetLinks(drawing_id, tuple(table_ids), self._code_name(sheet_part))
        parts[sheet_part] = worksheet_chunks(sheet, self.styles, links)
        if rels.rels:
            parts[rels_path(sheet_part)] = rels.to_bytes()
        return parts

    def _code_name(self, sheet_part: str) -> str | None:
        """The old sheet's VBA code name: dropping it would orphan its document module."""
        with _reading(sheet_part):
            found = _CODE_NAME.search(self.pkg.head(sheet_part, 4096))
        return found.group(1).decode() if found else None

    def _charts(self, sheet: Sheet, drawing: str) -> dict[str, bytes]:
        tables = {t.name: t for t in sheet.tables}
        rels, anchors, parts = Relationships(), [], {}
        for chart in sheet.charts:
            if chart.table not in tables:
                raise ValueError(f"el gráfico {chart.title!r} usa una tabla que no está en la hoja")
            part = self._free("xl/charts/chart{}.xml")
            anchors.append((chart, rels.add("chart", relative(drawing, part))))
            parts[part] = chart_xml(chart, tables[chart.table], sheet.name)
        parts[drawing] = drawing_xml(anchors)
        parts[rels_path(drawing)] = rels.to_bytes()
        return parts

    def _free(self, pattern: str) -> str:
        """Lowest-numbered free part name: the same sheet gets the same names every run."""
        n = 1
        while pattern.format(n).lower() in self.taken.parts:
            n += 1
        self.taken.parts.add(pattern.format(n).lower())
        return pattern.format(n)

    def _table_id(self) -> int:
        n = 1
        while n in self.taken.table_ids:
            n += 1
        self.taken.table_ids.add(n)
        return n

    def _table_name(self, wanted: str) -> str:
        base = _TABLE_NAME_BAD.sub("_", wanted) or "Tabla"
        base = base if base[0].isalpha() or base[0] == "_" else "_" + base
        name, n = base, 1
        while name.casefold() in self.taken.table_names:
            n += 1
            name = f"{base}{n}"
        self.taken.table_names.add(name.casefold())
        return name

    def finish(self) -> None:
        """Store the shared parts that this write edited."""
        if self.styles.changed:
            self.pkg.put(_STYLES, self.styles.to_bytes())
        if self.rewritten_ids:
            self._trim_calc_chain()
        if Workbook.PART in self.dirty:
            self.pkg.put(Workbook.PART, self.workbook.to_bytes())
        if _WB_RELS in self.dirty:
            self.pkg.put(_WB_RELS, self.workbook.rels.to_bytes())
        if _CT_PART in self.dirty:
            self.pkg.put(_CT_PART, self.types.to_bytes())

    def _trim_calc_chain(self) -> None:
        """Drop calc-chain cells of rewritten sheets; Excel would otherwise ask to repair."""
        data = self.pkg.read(_CALC_CHAIN)
        if data is None:
            return
        with _reading(_CALC_CHAIN):
            root = etree.fromstring(data)
            dropped = _drop_sheets(root, self.rewritten_ids)
        if not dropped:
            return
        if len(root):
            self.pkg.put(_CALC_CHAIN, etree.tostring(root, xml_declaration=True,
                                                     encoding="UTF-8", standalone=True))
            return
        self.pkg.remove(_CALC_CHAIN)  # an empty calcChain is invalid: drop part and links
        self.types.remove_override(_CALC_CHAIN)
        for rel in self.workbook.rels.of_type("calcChain"):
            self.workbook.rels.remove(rel.id)
        self.dirty |= {_CT_PART, _WB_RELS}


def _drop_sheets(root: etree._Element, sheet_ids: set[int]) -> bool:
    """Remove `<c>` entries of those sheets; `i` is inherited, so kept ones get it explicit."""
    current, dropped = 0, False
    for el in list(root.iter(f"{{{NS_MAIN}}}c")):
        current = int(el.get("i", current))
        if current in sheet_ids:
            root.remove(el)
            dropped = True
        else:
            el.set("i", str(current))
    return dropped


def _kind_of(part: str) -> str | None:
    for folder, kind in (("xl/worksheets/", "worksheet"), ("xl/tables/", "table"),
                         ("xl/drawings/", "drawing"), ("xl/charts/", "chart")):
        if part.startswith(folder) and "/_rels/" not in part:
            return kind
    return None


def _owned_parts(package: Package, sheet_part: str) -> set[str]:
    """The sheet's rels file and every part reachable only through it (tables, drawing,
    charts...); parts also referenced from elsewhere (a shared image) are kept."""
    owned: set[str] = set()
    queue = [sheet_part]
    while queue:
        source = queue.pop()
        rels_part = rels_path(source)
        data = package.read(rels_part)
        if data is None:
            continue
        owned.add(rels_part)
        with _reading(rels_part):
            rels = Relationships(data).rels
        for rel in rels:
            target = resolve(source, rel.target)
            if not rel.external and target not in owned and package.has(target):
                owned.add(target)
                queue.append(target)
    return owned - _referenced_elsewhere(package, owned | {sheet_part})


def _referenced_elsewhere(package: Package, parts: set[str]) -> set[str]:
    shared = set()
    for rels_part in package.names():
        if not rels_part.endswith(".rels") or rels_part in parts:
            continue
        source = rels_part.replace("_rels/", "").removesuffix(".rels")
        if source in parts:
            continue
        with _reading(rels_part):
            rels = Relationships(package.read(rels_part)).rels
        for rel in rels:
            if not rel.external and resolve(source, rel.target) in parts:
                shared.add(resolve(source, rel.target))
    return shared
