"""The domain package (`cobranza/`) is pure (docs/ARCHITECTURE.md): it never writes a
file, opens a workbook, a database or a mail server, and never imports the edges.
Checked on the source of every module, so a new import is caught where it is written."""

from __future__ import annotations

import ast
from pathlib import Path

DOMAIN = Path(__file__).resolve().parents[1] / "cobranza"
# Writers and readers of files, databases, mail and Excel; and our own edge packages.
EDGE_MODULES = {
    "xlsxwriter", "openpyxl", "python_calamine", "lxml", "zipfile", "sqlite3", "smtplib",
    "aiosmtplib", "yagmail", "xlwings", "io", "os", "shutil", "tempfile", "pathlib",
    "sync", "addin",
}


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules `path` imports, anywhere in the file."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_the_domain_imports_no_file_writer_and_no_edge():
    found = {
        str(path.relative_to(DOMAIN.parent)): sorted(imported_modules(path) & EDGE_MODULES)
        for path in sorted(DOMAIN.rglob("*.py"))
    }
    assert {module: edges for module, edges in found.items() if edges} == {}
