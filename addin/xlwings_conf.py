"""Rows of the `xlwings.conf` sheet of the template (column A key, column B value).

The xlwings VBA module (`addin/vba/xlwings.bas`, standalone mode, no xlwings add-in)
reads this sheet first (`GetConfig`: sheet -> xlwings.conf beside the workbook -> user
file -> default); keys are matched upper-cased. A key present on the sheet stops the
lookup even when its value is blank, so the sheet holds only keys with a value: the
interpreter (`Interpreter_Win`, `Interpreter_Mac`) and `PYTHONPATH` are left to
%USERPROFILE%\\.xlwings\\xlwings.conf on each PC, else `pythonw` from PATH (where the
xlwings DLL of the same version is found). The package is pip-installed, so nothing
needs to be added to sys.path.
"""

from __future__ import annotations

SHEET_NAME = "xlwings.conf"

# (key, value). Order = row order in the sheet, starting at A1; no value is blank
# (`GetConfigFromSheet` also stops reading at the first empty key cell).
SETTINGS: list[tuple[str, str]] = [
    # Never put the workbook's folder on sys.path: a stray addin.py there would shadow us.
    ("ADD_WORKBOOK_TO_PYTHONPATH", "False"),
    # Module of the @xw.func UDFs whose VBA wrappers are addin/vba/Funciones.bas.
    ("UDF Modules", "addin.udfs"),
    ("Debug UDFs", "False"),
    # RunPython (ribbon) runs in the same Python process as the UDFs: no new interpreter
    # per click, and the UDFs' per-book cache is shared.
    ("Use UDF Server", "True"),
    ("Show Console", "False"),
]


def settings() -> list[tuple[str, str]]:
    """The (key, value) rows, for the template builder."""
    return list(SETTINGS)
