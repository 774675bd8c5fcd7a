"""Read back the Envíos sheet a workbook carries: what it says was already sent.

Only needed when a ledger has no record of the workbook's id (a copy, a moved file,
another PC): `cobranza.notices.seeding` turns these rows into ledger keys before anything is sent.
"""

from __future__ import annotations

import re
import zipfile
import zlib
from pathlib import Path

import pandas as pd
import python_calamine
from lxml import etree

from cobranza.book.text import match_names, normalize
from cobranza.layout.sends import ENVIOS_COLUMNS
from sync.errors import WorkbookError
from sync.xlsx.package import Package

ENVIOS_SHEET = "Envíos"
_HEADER_ROWS = 20  # the table's header is near the top (row 4 as we write it)
_ROW = re.compile(rb"<(?:\w+:)?row\b")
_SMALL_PART = 64 * 1024  # an Envíos part this small is looked at before calamine opens all
_HEADERS = {normalize(header): field for header, field in ENVIOS_COLUMNS.items()}


def read_sent(path: Path) -> pd.DataFrame:
    """The Envíos table as a frame with `ENVIOS_COLUMNS`' field names; empty when the
    workbook has no Envíos sheet (nothing was ever recorded in it)."""
    try:
        rows = _sheet_rows(Path(path))
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - calamine may panic (a BaseException) on a bad cell
        raise WorkbookError(
            f'La hoja "{ENVIOS_SHEET}" del libro "{Path(path).name}" no se puede leer, y sin '
            "ella no se sabe qué avisos ya se enviaron; no se envió nada. Ábralo en Excel y "
            "guárdelo de nuevo."
        ) from None
    return sent_frame(rows)


def _sheet_rows(path: Path) -> list[list]:
    if _lists_nothing(path):
        return []
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        name = match_names(book.sheet_names, (ENVIOS_SHEET,)).get(ENVIOS_SHEET)
        if name is None:
            return []
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    finally:
        book.close()


def _lists_nothing(path: Path) -> bool:
    """Whether the Envíos sheet is missing or has at most one row, told from its own small
    part: a table needs a header row and a row under it. The usual case of a ledger that
    must be seeded (a first sync: the template's Envíos holds its title only), where
    opening the workbook with calamine would parse every shared string of the input
    sheets first (~0.1 s at 100 000 invoices). Anything else, or anything unusual, is
    left to calamine."""
    try:
        with Package(path) as package:
            entries = {e.name: e for e in package.sheet_entries()}
            name = match_names(list(entries), (ENVIOS_SHEET,)).get(ENVIOS_SHEET)
            if name is None:
                return True
            entry = entries[name]
            if not package.has(entry.part):
                return False
            head = package.head(entry.part, _SMALL_PART + 1)
    except (OSError, zipfile.BadZipFile, zlib.error, etree.XMLSyntaxError, ValueError):
        return False
    return len(head) <= _SMALL_PART and len(_ROW.findall(head)) <= 1


def sent_frame(rows: list[list]) -> pd.DataFrame:
    """Rows of the Envíos sheet (a grid of cell values) -> its table's rows, by field."""
    fields = list(ENVIOS_COLUMNS.values())
    for top, header in enumerate(rows[:_HEADER_ROWS]):
        where = {_HEADERS[normalize(str(v))]: i for i, v in enumerate(header)
                 if normalize(str(v)) in _HEADERS}
        if len(where) == len(fields):
            body = [r for r in rows[top + 1:] if any(v not in ("", None) for v in r)]
            return pd.DataFrame([[r[where[f]] for f in fields] for r in body], columns=fields,
                                dtype=object)
    return pd.DataFrame(columns=fields, dtype=object)
