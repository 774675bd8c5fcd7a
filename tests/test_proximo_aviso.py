"""PROXIMO_AVISO tells the truth (issue 12): what the planner would do next for the
invoice, honouring exclusions and the workbook's ledger.

Before, it showed the next stage date of the invoice's chains whatever happened: a VIP
customer's invoice "VENCIDA_1 25/11/2026" (the planner never sends it), a disputed
invoice a blank cell, and an invoice whose VENCIDA_1 was already sent that same VENCIDA_1.
Real workbook, a real `cobranza sync` against a real SMTP server with a ledger chosen by
an option (noted beside the workbook, so the UDF follows the same location rule), the
UDF called as Excel calls it (only desktop Excel is faked: the caller's workbook is the
file itself). The UDF reads the ledger and never creates or changes one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from addin import udfs
from addin.book import FileBook
from sync.workbook.init import create_workbook
from tests.cli import sync
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows

FACTURAS = [["F-normal"], ["F-vip"], ["F-disputa"], ["F-desactivado"]]


@pytest.fixture(autouse=True)
def _fresh_cache():
    udfs.clear_cache()
    yield
    udfs.clear_cache()


def make_workbook(folder: Path) -> Path:
    """Four invoices due 24/11/2026 (VENCIDA_1 on 25/11): a plain customer, a VIP one, a
    disputed invoice and a customer with Avisos automáticos = No."""
    book = create_workbook(folder / "cobranza.xlsm")
    customers = {"normal": {}, "vip": {"Segmento": "VIP"}, "disputa": {},
                 "desactivado": {"Avisos automáticos": "No"}}
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": f"pagos@{c}.mx", **extra}
                     for c, extra in customers.items()],
        "Facturas": [{"Factura": f"F-{c}", "Cliente": c, "Emisión": datetime(2026, 11, 1),
                      "Vencimiento": datetime(2026, 11, 24), "Importe": 1500.0}
                     for c in customers],
        "Gestiones": [{"Fecha": datetime(2026, 11, 20), "Cliente": "disputa",
                       "Factura": "F-disputa", "Resultado": "Disputa"}],
    })
    return book


class _Sheet:
    def __init__(self, path: Path) -> None:
        self.book = type("XwBook", (), {"fullname": str(path)})()


class _Caller:
    """What xlwings passes as `caller`: the calling cell's sheet and workbook."""

    def __init__(self, path: Path) -> None:
        self.sheet = _Sheet(path)


@pytest.fixture
def excel(monkeypatch):
    """Desktop Excel, faked: the caller's workbook is read from its file."""
    monkeypatch.setattr("addin.book.ExcelBook", lambda xw_book: FileBook(Path(xw_book.fullname)))


def proximo_aviso(book: Path) -> list[str]:
    udfs.clear_cache()  # a new recalculation
    return [r[0] for r in udfs.PROXIMO_AVISO(_Caller(book), FACTURAS, "25/11/2026")]


def test_proximo_aviso_honours_exclusions_and_the_ledger(tmp_path: Path, excel) -> None:
    book = make_workbook(tmp_path)
    excluded = ["Sin avisos: segmento VIP", "Sin avisos: en disputa",
                "Sin avisos: avisos automáticos desactivados"]
    # No ledger yet: nothing was sent, and the UDF does not create one.
    assert proximo_aviso(book) == ["VENCIDA_1 25/11/2026", *excluded]
    assert not (tmp_path / ".cobranza").exists()

    ledger = tmp_path / "registro" / "envios.sqlite"
    with SmtpTestServer() as server:
        sync(book, "2026-11-25T10:00", server, "--ledger", str(ledger))
        assert [m.rcpt_tos for m in server.received()] == [("pagos@normal.mx",)]
    # VENCIDA_1 is in the ledger (found through the note beside the workbook): not next.
    before = ledger.read_bytes(), ledger.stat().st_mtime_ns
    assert proximo_aviso(book) == ["VENCIDA_15 09/12/2026", *excluded]
    assert (ledger.read_bytes(), ledger.stat().st_mtime_ns) == before
