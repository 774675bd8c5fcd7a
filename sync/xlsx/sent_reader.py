"""Read back the Envíos sheet a workbook carries: what it says was already sent.

Only needed when a ledger has no record of the workbook's id (a copy, a moved file,
another PC): `cobranza.notices.seeding` turns these rows into ledger keys before anything is sent.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import python_calamine

from cobranza.book.text import normalize
from cobranza.layout.sends import ENVIOS_COLUMNS
from sync.errors import WorkbookError

ENVIOS_SHEET = "Envíos"
_HEADER_ROWS = 20  # the table's header is near the top (row 4 as we write it)
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
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    try:
        names = {normalize(n): n for n in reversed(book.sheet_names)}
        name = names.get(normalize(ENVIOS_SHEET))
        if name is None:
            return []
        return book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    finally:
        book.close()


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
