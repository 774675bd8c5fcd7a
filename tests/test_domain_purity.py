"""The domain package (`cobranza/`) is pure (docs/ARCHITECTURE.md): it never writes a
file, opens a workbook, a database or a mail server, and never imports the edges
(checked on the source of every module, so a new import is caught where it is
written); and it keeps nothing of a run in module-level caches."""

from __future__ import annotations

import ast
import gc
import weakref
from datetime import datetime
from pathlib import Path

from cobranza.notices.planner import History
from cobranza.rendering.render import render_outgoing
from sync.cycle import compute, localize, plan
from tests.book_factory import make_book

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


def test_rendering_keeps_nothing_of_a_book_once_its_run_is_over():
    """The customer names and the Plantillas index live with their Book: once a run drops
    its Book, no frame of it stays alive (the service reads a new Book every cycle)."""
    book = make_book(
        customers=[("C1", "Ferretería Uno")],
        invoices=[("F1", "C1", "2026-12-31", 1000, "2026-12-01")],
        templates=[("NUEVA", "Factura {{ facturas[0].factura }}",
                    "Estimado {{ cliente.nombre }}: total {{ totales[0].saldo }}")],
    )
    now = localize(datetime(2026, 12, 1, 10, 0), book)
    computed = compute(book, now)
    # ESTADO_MENSUAL waits for its template (the book has only NUEVA's)
    messages = [m for m in plan(computed, History()).messages if m.state == "listo"]
    assert [(m.code, m.recipient) for m in messages] == [("NUEVA", "C1")]
    rendered = render_outgoing(messages[0], book, now.date())
    assert (rendered.subject, rendered.body) == (
        "Factura F1", "Estimado Ferretería Uno: total $1,000.00 MXN")
    frames = [weakref.ref(book.customers), weakref.ref(book.templates)]
    del book, computed, messages
    gc.collect()
    assert [frame() is None for frame in frames] == [True, True]
