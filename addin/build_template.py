"""Build workbook_template.xlsm reproducibly from the text sources in `addin/`.

    python -m addin.build_template [OUT]

Sheets come from `addin/template/layout.py`, email texts from `plantillas.toml`, the
xlwings.conf sheet from `addin/xlwings_conf.py`; `finalize` then adds the ribbon
(`addin/customUI.xml`) and the VBA modules (`addin/vba/*.bas|*.cls`) when they exist.
The same code path writes the demo workbook, with data rows in the input tables.
Every zip entry gets a fixed timestamp and the document properties a fixed date, so
building twice gives the same bytes.
"""

from __future__ import annotations

import io
import re
import sys
import tomllib
import zipfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyopenvba
import xlsxwriter
from pyopenvba.cfb import CFB
from pyopenvba.vba import VBAModuleKind
from xlsxwriter.format import Format
from xlsxwriter.worksheet import Worksheet

from addin import xlwings_conf
from addin.template import layout

ADDIN = Path(__file__).resolve().parent
ROOT = ADDIN.parent
TEMPLATE_DIR = ADDIN / "template"
VBA_DIR = ADDIN / "vba"
CUSTOM_UI = ADDIN / "customUI.xml"
DEFAULT_OUT = ROOT / "workbook_template.xlsm"

FIXED_TIME = datetime(2026, 1, 1)
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
UI_PART = "customUI/customUI14.xml"
VBA_PART = "xl/vbaProject.bin"
# [MS-OVBA] 2.3.4.1 and its example 3.1.1: the _VBA_PROJECT stream without a cache
VBA_PROJECT_STREAM = b"\xcc\x61\xff\xff\x00\x00\x00"
UI_REL_TYPE = "http://schemas.microsoft.com/office/2007/relationships/ui/extensibility"
XLSX_MAIN = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
XLSM_MAIN = "application/vnd.ms-excel.sheet.macroEnabled.main+xml"
TABLE_STYLE = "Table Style Medium 2"
# Excel 365's calculation engine id: a file saved by an older engine (xlsxwriter's default
# 124519) is recalculated in full when Excel opens it, like fullCalcOnLoad, which is off.
CALC_ID = 191029
CUTOFF_KEY = "FechaCorte"  # `data` key of the cut-off date (blank = today, in the UDF)
CACHED_KEY = "_cached"  # `data` key of the Facturas formula columns' values, row by row
# A header note: shown on hover (red corner mark), wide enough to read without scrolling
NOTE_OPTIONS = {"author": "Cobranza XL", "width": 560, "height": 300, "font_size": 9}

Rows = Sequence[tuple[object, ...]]


def load_templates(path: Path = TEMPLATE_DIR / "plantillas.toml") -> list[tuple[str, ...]]:
    """Plantillas rows (Código, Asunto, Cuerpo, Aprobada), in file order."""
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    return [(code, t["asunto"], t["cuerpo"].rstrip("\n"), "Sí") for code, t in data.items()]


# --- rendering the sheets ------------------------------------------------------------


class _Formats:
    """The few cell formats the template uses, created once per workbook."""

    def __init__(self, wb: xlsxwriter.Workbook) -> None:
        self.header = wb.add_format(
            {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F4E78", "valign": "vcenter"}
        )
        self.title = wb.add_format({"bold": True, "font_size": 14, "font_color": "#1F4E78"})
        self.by_kind: dict[str, Format | None] = {
            "text": None,
            "date": wb.add_format({"num_format": "dd/mm/yyyy"}),
            "money": wb.add_format({"num_format": "#,##0.00"}),
            "int": wb.add_format({"num_format": "0"}),
            "phone": wb.add_format({"num_format": "@"}),
        }
        self.wrap = wb.add_format({"text_wrap": True, "valign": "top"})

    def of(self, column: layout.Column) -> Format | None:
        return self.by_kind[column.kind]


def _write_value(ws: Worksheet, row: int, col: int, value: object, fmt: Format | None) -> None:
    """Text is always written as text (never a formula); blanks are left empty."""
    if value is None or value == "":
        return
    if isinstance(value, str):
        ws.write_string(row, col, value, fmt)
    elif isinstance(value, datetime | date):
        ws.write_datetime(row, col, value, fmt)
    elif isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        ws.write_number(row, col, float(value), fmt)
    else:
        raise TypeError(f"cannot write {type(value).__name__} at row {row}, col {col}")


def _as_written(formula: str, expand_future_functions: bool = False) -> str:
    return formula.removeprefix("=")


def _write_table(
    ws: Worksheet, spec: layout.TableSpec, rows: Rows, fmt: _Formats,
    cell_fmt: Format | None = None, cached: Rows = (),
) -> int:
    """Rows plus the Excel table around them; returns the last data row (0-based)."""
    formats = [cell_fmt or fmt.of(c) for c in spec.columns]
    for r, values in enumerate(rows, start=1):
        for c, value in enumerate(values):
            _write_value(ws, r, spec.first_col + c, value, formats[c])
    last_row = max(len(rows), 1)  # an Excel table always has at least one data row
    columns = []
    for column, cfmt in zip(spec.columns, formats, strict=True):
        options: dict[str, object] = {"header": column.header, "header_format": fmt.header}
        if column.formula:
            options.update(formula=column.formula, format=cfmt)
        columns.append(options)
    last_col = spec.first_col + len(spec.columns) - 1
    options = {"name": spec.name, "style": TABLE_STYLE, "columns": columns}
    # xlsxwriter runs ~30 regex substitutions per formula cell to add "_xlfn." prefixes
    # that UDF calls never need (100 000 rows: ~50 s); skip them for this table only.
    ws._prepare_formula = _as_written  # type: ignore[method-assign]
    try:
        ws.add_table(0, spec.first_col, last_row, last_col, options)
        if spec.name == "tblFacturas":
            blank = ("",) * sum(1 for c in spec.columns if c.formula)  # no 0 in an empty row
            _cached_formula_cells(ws, spec, formats, cached or [blank] * last_row)
    finally:
        del ws._prepare_formula
    for c, column in enumerate(spec.columns):
        col = spec.first_col + c
        ws.set_column(col, col, column.width, fmt.of(column))
        if column.choices:
            _add_list(ws, 1, col, max(layout.VALIDATION_ROWS, last_row), col, column.choices)
        if column.note:
            ws.write_comment(0, col, column.note, NOTE_OPTIONS)
    return last_row


def _cached_formula_cells(ws: Worksheet, spec: layout.TableSpec,
                          formats: Sequence[Format | None], cached: Rows) -> None:
    """The formula cells again, each with its value as of the cut-off date as the cached
    result: what a program without Python (or before any recalculation) shows."""
    columns = [c for c, column in enumerate(spec.columns) if column.formula]
    for r, values in enumerate(cached, start=1):
        for c, value in zip(columns, values, strict=True):
            ws.write_formula(r, spec.first_col + c, spec.columns[c].formula, formats[c], value)


def _add_list(
    ws: Worksheet, first_row: int, col: int, last_row: int, last_col: int, choices: Sequence[str]
) -> None:
    ws.data_validation(first_row, col, last_row, last_col, {
        "validate": "list",
        "source": list(choices),
        "error_title": "Valor no válido",
        "error_message": "Elija un valor de la lista: " + ", ".join(choices) + ".",
    })


def _input_sheet(ws: Worksheet, sheet: layout.SheetSpec, data: Mapping[str, Rows],
                 fmt: _Formats) -> None:
    for spec in sheet.tables:
        rows = data.get(spec.name, spec.rows)
        if spec.name == "tblPlantillas":
            _write_table(ws, spec, rows, fmt, cell_fmt=fmt.wrap)
            for r, values in enumerate(rows, start=1):  # show the whole body
                ws.set_row(r, min(15 * (str(values[2]).count("\n") + 1), 300))
        else:
            _write_table(ws, spec, rows, fmt, cached=data.get(CACHED_KEY, ()))
        if spec.name == "tblParametros":
            _parameter_lists(ws, spec, rows)
    if sheet.name == "Configuración":
        _cutoff_cell(ws, data.get(CUTOFF_KEY), fmt)
    ws.freeze_panes(1, 0)


def _cutoff_cell(ws: Worksheet, value: object, fmt: _Formats) -> None:
    """The named cell FechaCorte (the UDFs' cut-off date) under its label."""
    row, col = layout.CUTOFF_CELL
    ws.write_string(row, col, "Fecha de corte", fmt.header)
    date_fmt = fmt.by_kind["date"]
    if value is None:
        ws.write_blank(row + 1, col, None, date_fmt)
    else:
        _write_value(ws, row + 1, col, value, date_fmt)
    ws.set_column(col, col, 14)
    ws.write_comment(row, col, "La fecha a la que se calculan Saldo, Días vencidos, Estatus,"
                     " Tramo y Próximo aviso de Facturas. El complemento pone la fecha de hoy"
                     " al abrir el libro y al actualizar.", NOTE_OPTIONS)


def _calc_sheet(ws: Worksheet, invoices: int, cached: Rows, fmt: _Formats) -> None:
    """The one CALCULO_FACTURAS call, spilling beside tblFacturas' rows (hidden sheet),
    with the spill's cached values as of the cut-off date."""
    for c, header in enumerate(layout.CALC_HEADERS):
        ws.write_string(0, c, header, fmt.header)
    last = max(invoices, 1)
    cached = list(cached) or [("",) * len(layout.CALC_HEADERS)] * last
    ws.write_dynamic_array_formula(1, 0, last, len(layout.CALC_HEADERS) - 1,
                                   "=" + layout.CALC_FORMULA, None, cached[0][0])
    for r, values in enumerate(cached, start=1):
        for c, value in enumerate(values):
            if r > 1 or c > 0:
                _write_cached(ws, r, c, value)


def _write_cached(ws: Worksheet, row: int, col: int, value: object) -> None:
    if isinstance(value, str):
        ws.write_string(row, col, value)
    else:
        ws.write_number(row, col, value)


def _parameter_lists(ws: Worksheet, spec: layout.TableSpec, rows: Rows) -> None:
    labels = [r[0] for r in rows]
    for label, choices in layout.PARAMETER_CHOICES.items():
        if label in labels:
            r = labels.index(label) + 1
            _add_list(ws, r, spec.first_col + 1, r, spec.first_col + 1, choices)


def render(data: Mapping[str, Rows] | None = None) -> bytes:
    """The workbook package (before `finalize`), with `data` rows in the named tables."""
    data = dict(data or {})
    data.setdefault("tblPlantillas", load_templates())
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {
        "in_memory": True, "strings_to_formulas": False,
        "strings_to_numbers": False, "strings_to_urls": False,
    })
    wb.set_properties({"title": "Cobranza XL", "author": "Cobranza XL", "created": FIXED_TIME})
    wb.set_calc_mode("auto", CALC_ID)
    wb.calc_on_load = False  # no forced full recalculation: Excel keeps the cached values
    row, col = layout.CUTOFF_CELL
    wb.define_name(layout.CUTOFF_NAME, f"='Configuración'!${_letter(col)}${row + 2}")
    fmt = _Formats(wb)
    for sheet in layout.SHEETS:
        ws = wb.add_worksheet(sheet.name)
        if sheet.tables:
            _input_sheet(ws, sheet, data, fmt)
        elif sheet.name == layout.CALC_SHEET:
            _calc_sheet(ws, len(data.get("tblFacturas", ())), data.get(CACHED_KEY, ()), fmt)
        elif sheet.name == layout.XLWINGS_SHEET:
            for r, (key, value) in enumerate(xlwings_conf.settings()):
                _write_value(ws, r, 0, key, None)
                _write_value(ws, r, 1, value, None)
            ws.set_column(0, 1, 22)
        else:
            ws.write_string(0, 0, sheet.title, fmt.title)
        if sheet.hidden:
            ws.hide()
    wb.close()
    return repack(buf.getvalue())


def _letter(col: int) -> str:
    from xlsxwriter.utility import xl_col_to_name

    return xl_col_to_name(col)


# --- the zip package -----------------------------------------------------------------


def repack(package: bytes, parts: Mapping[str, bytes] | None = None) -> bytes:
    """Rewrite the zip with fixed entry times, as a macro-enabled workbook.

    `parts` replace members of the same name or are appended, in the given order.
    """
    parts = dict(parts or {})
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(package)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            content = parts.pop(name) if name in parts else src.read(name)
            if name == "[Content_Types].xml":
                content = content.replace(XLSX_MAIN.encode(), XLSM_MAIN.encode())
            _write_entry(dst, name, content)
        for name, content in parts.items():
            _write_entry(dst, name, content)
    return out.getvalue()


def _write_entry(dst: zipfile.ZipFile, name: str, content: bytes) -> None:
    info = zipfile.ZipInfo(name, ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    dst.writestr(info, content, compresslevel=6)


def _with_ui_relationship(rels: str) -> str:
    if UI_REL_TYPE in rels:
        return rels
    numbers = [int(n) for n in re.findall(r'Id="rId(\d+)"', rels)]
    rel = (f'<Relationship Id="rId{max(numbers, default=0) + 1}" Type="{UI_REL_TYPE}" '
           f'Target="{UI_PART}"/>')
    return rels.replace("</Relationships>", rel + "</Relationships>", 1)


def add_custom_ui(path: Path, custom_ui: Path) -> None:
    """Put the ribbon XML in the package as customUI/customUI14.xml, related from the root."""
    package = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        rels = zf.read("_rels/.rels").decode("utf-8")
    parts = {
        "_rels/.rels": _with_ui_relationship(rels).encode("utf-8"),
        UI_PART: custom_ui.read_bytes(),
    }
    path.write_bytes(repack(package, parts))


def _vba_sources(vba_dir: Path) -> list[Path]:
    if not vba_dir.is_dir():
        return []
    return sorted(p for p in vba_dir.iterdir() if p.suffix.lower() in (".bas", ".cls"))


def add_vba(path: Path, sources: Sequence[Path]) -> None:
    """Write each .bas/.cls file as a VBA module (creating the project if needed).

    Office is to compile every module from its source ([MS-OVBA] 1.6): no module stream
    keeps a compiled cache and `_VBA_PROJECT` is the 7-byte form without one.
    """
    with pyopenvba.ExcelFile(path) as wb:
        if not wb.has_vba_project():
            wb.add_vba_project()
        project = wb.vba_project()
        ours = {src.stem.casefold() for src in sources}
        for module in project.modules:
            # pyOpenVBA's blank project keeps the compiled cache of ThisWorkbook and Sheet1
            # in front of their source; rewriting a module stores its source alone.
            if module.name.casefold() not in ours:
                wb.set_module(module.name, module.source)
        present = {m.name.casefold() for m in project.modules}
        for src in sources:
            text = src.read_text(encoding="utf-8").replace("\r\n", "\n").replace("\n", "\r\n")
            if src.stem.casefold() in present:
                wb.set_module(src.stem, text)
            else:
                is_bas = src.suffix.lower() == ".bas"
                kind = VBAModuleKind.standard if is_bas else VBAModuleKind.other
                project.add_module(src.stem, text, kind=kind)
        wb.save()
    _without_project_cache(path)


def _without_project_cache(path: Path) -> None:
    """Store `_VBA_PROJECT` as [MS-OVBA] 2.3.4.1 says to write it: Reserved1 0x61CC,
    Version 0xFFFF (so no cache of any version is used), Reserved2 0, Reserved3, no cache.

    pyOpenVBA keeps its blank project's header (Version 0x00B5, an Office build) and
    zeroes the cache body in place, which still claims a cache for that build.
    """
    package = path.read_bytes()
    with zipfile.ZipFile(io.BytesIO(package)) as zf:
        cfb = CFB.from_bytes(zf.read(VBA_PART))
    cfb.write_stream_in_storage("VBA", "_VBA_PROJECT", VBA_PROJECT_STREAM)
    path.write_bytes(repack(package, {VBA_PART: cfb.to_bytes()}))


def finalize(path: Path, *, vba_dir: Path = VBA_DIR, custom_ui: Path = CUSTOM_UI) -> None:
    """Add the ribbon and the VBA modules to a built workbook, for the sources that exist."""
    if custom_ui.is_file():
        add_custom_ui(path, custom_ui)
    sources = _vba_sources(vba_dir)
    if sources:
        add_vba(path, sources)


def build(
    out: Path = DEFAULT_OUT,
    data: Mapping[str, Rows] | None = None,
    *,
    vba_dir: Path = VBA_DIR,
    custom_ui: Path = CUSTOM_UI,
) -> Path:
    """Write the workbook to `out` (template when `data` is None, else with data rows)."""
    out = Path(out)
    out.write_bytes(render(data))
    if data and data.get("tblFacturas") and data.get(CUTOFF_KEY):
        cached = formula_values(out, data["tblFacturas"], data[CUTOFF_KEY])
        out.write_bytes(render({**data, CACHED_KEY: cached}))
    finalize(out, vba_dir=vba_dir, custom_ui=custom_ui)
    return out


def formula_values(path: Path, invoices: Rows, as_of: date) -> list[list]:
    """The Facturas formula columns of each row of `invoices` as of `as_of`: what the one
    CALCULO_FACTURAS call returns for the workbook at `path` (read by the sync's reader;
    a new workbook has no ledger, so nothing was sent)."""
    from addin import udfs
    from sync.xlsx.reader import read_book

    factura, vencimiento = (FACTURAS_COLUMNS.index(h) for h in ("Factura", "Vencimiento"))
    column = lambda i: [[_as_cell(row[i])] for row in invoices]  # noqa: E731
    udfs.clear_cache()
    try:
        return udfs.CORES["CALCULO_FACTURAS"](
            (column(factura), column(vencimiento)), read_book(path), as_of)
    finally:
        udfs.clear_cache()


FACTURAS_COLUMNS = [c.header for c in layout.FACTURAS.columns]


def _as_cell(value: object) -> object:
    """A data value as Excel passes the cell to a UDF (a date is a datetime)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = build(Path(args[0]) if args else DEFAULT_OUT)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
