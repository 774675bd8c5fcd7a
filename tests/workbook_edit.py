"""Editing a workbook the way a user does in Excel, for tests that change data between
syncs: rows typed under a table (the table grows), saved as a whole new file."""

from __future__ import annotations

import os
import re
from pathlib import Path

import openpyxl

from cobranza.text import normalize


def save_atomically(wb: openpyxl.Workbook, path: Path) -> None:
    """Save like Excel does at the end: a whole new file that replaces the old one."""
    temp = path.with_name("guardando.xlsm")
    wb.save(temp)
    os.replace(temp, path)


def append_rows(path: Path, rows: dict[str, list[dict[str, object]]]) -> None:
    """Add rows to each sheet's table, headers matched like the reader does. Strings are
    typed text, even when they start with "=" (a user's formula-looking name)."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    for sheet, records in rows.items():
        ws = wb[sheet]
        table = next(iter(ws.tables.values()))
        first, last = table.ref.split(":")
        column, row = re.sub(r"\d", "", last), int(re.sub(r"\D", "", last))
        if row > 1 and ws.cell(row=row, column=1).value is None:
            row -= 1  # the template's empty first row is filled, not skipped
        headers = {normalize(c.value): c.column for c in ws[1] if c.value}
        for values in records:
            row += 1
            for header, value in values.items():
                cell = ws.cell(row=row, column=headers[normalize(header)], value=value)
                if isinstance(value, str):
                    cell.data_type = "s"
        table.ref = f"{first}:{column}{row}"
    save_atomically(wb, path)


def set_cells(path: Path, sheet: str, key: tuple[str, object], values: dict[str, object]) -> None:
    """Change cells of the table row whose `key` column (header, value) matches, as a
    user retypes them; headers matched like the reader does."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb[sheet]
    headers = {normalize(c.value): c.column for c in ws[1] if c.value}
    column = headers[normalize(key[0])]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=column).value == key[1])
    for header, value in values.items():
        ws.cell(row=row, column=headers[normalize(header)], value=value)
    save_atomically(wb, path)
