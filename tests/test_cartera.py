"""Cartera: the Facturas columns as values, written by the sync and by the ribbon alike."""

from __future__ import annotations

import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from addin import ribbon, udfs
from addin.book import FileBook
from cobranza.rules.invoices import compute_invoices
from sync.cycle import run_cycle
from sync.ledger.identity import sent_keys
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.workbook_edit import append_rows

AS_OF = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, 0)
CARTERA_COLUMNS = ("Factura", "Cliente", "Nombre", "Cobrador", "Emisión", "Vencimiento",
                   "Moneda", "Importe", "Saldo", "Días vencidos", "Tramo", "Estatus",
                   "Próximo aviso")
TRICKY_NAME = '=HYPERLINK("http://x.example","clic")'


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """The demo plus invoices that test the listing rule: paid long ago and untouched
    (not listed), paid 5 days ago, paid long ago but named by a gestión 3 days ago (both
    listed: activity), and an open one of a customer whose name looks like a formula."""
    path = create_workbook(tmp_path_factory.mktemp("cartera") / "cobranza.xlsm", demo=True,
                           as_of=AS_OF, invoices=120)
    invoice = {"Emisión": "2026-08-01", "Vencimiento": "2026-09-01", "Moneda": "MXN",
               "Importe": 1000}
    append_rows(path, {
        "Clientes": [{"Cliente": "CX-1", "Nombre": TRICKY_NAME, "Email": "cx@example.com"}],
        "Facturas": [{"Factura": f, "Cliente": "CX-1", **invoice}
                     for f in ("X-OLD", "X-RECENT", "X-GESTION", "00123")],
        "Pagos": [{"Fecha": "2026-09-15", "Cliente": "CX-1", "Factura": "X-OLD", "Importe": 1000},
                  {"Fecha": "2026-11-26", "Cliente": "CX-1", "Factura": "X-RECENT",
                   "Importe": 1000},
                  {"Fecha": "2026-09-15", "Cliente": "CX-1", "Factura": "X-GESTION",
                   "Importe": 1000}],
        "Gestiones": [{"Fecha": "2026-11-28", "Cliente": "CX-1", "Factura": "X-GESTION",
                       "Resultado": "Sin compromiso"}],
    })
    return path


@pytest.fixture
def workbook(base, tmp_path) -> Path:
    return Path(shutil.copy(base, tmp_path / "cobranza.xlsm"))


def cartera(path: Path) -> list[dict]:
    rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_name(
        "Cartera").to_python()
    start = next(i for i, r in enumerate(rows) if tuple(r[:3]) == CARTERA_COLUMNS[:3])
    assert tuple(rows[start][:len(CARTERA_COLUMNS)]) == CARTERA_COLUMNS
    return [dict(zip(CARTERA_COLUMNS, r, strict=False)) for r in rows[start + 1:] if r[0] != ""]


def cartera_xml(path: Path) -> str:
    """The Cartera worksheet part (the one holding its title)."""
    with zipfile.ZipFile(path) as z:
        parts = [z.read(p).decode() for p in z.namelist() if p.startswith("xl/worksheets/sheet")]
    (xml,) = [x for x in parts if "Cartera de facturas" in x]
    return xml


def expected(path: Path) -> tuple[list[str], dict[str, float], dict[str, str]]:
    """What Cartera must hold, from the UDF cores (what Facturas' formula columns show)."""
    book = read_book(path)
    inv = compute_invoices(book, AS_OF)
    factura = inv["invoice"].tolist()
    saldo = dict(zip(factura, udfs.CORES["SALDO"]([[f] for f in factura], book, AS_OF),
                     strict=True))
    aviso = udfs.CORES["PROXIMO_AVISO"]([[f] for f in factura], book, AS_OF,
                                        sent=sent_keys(path, book))
    # activity: a payment or a gestión naming the invoice in the 30 days up to the cut-off
    active = {r.invoice for frame in (book.payments, book.contacts)
              for r in frame.itertuples() if 0 <= (AS_OF - r.date.date()).days < 30}
    assert {"X-RECENT", "X-GESTION"} <= active and "X-OLD" not in active
    listed = [f for f, b in zip(factura, inv["balance"], strict=True) if b != 0 or f in active]
    return (listed, {f: v[0] for f, v in saldo.items()},
            dict(zip(factura, (a[0] for a in aviso), strict=True)))


def check(path: Path) -> list[dict]:
    rows = cartera(path)
    listed, saldo, aviso = expected(path)
    assert [r["Factura"] for r in rows] == listed  # Facturas order; X-OLD left out
    assert len(listed) > 50
    assert {r["Factura"]: r["Saldo"] for r in rows} == {f: saldo[f] for f in listed}
    assert {r["Factura"]: r["Próximo aviso"] for r in rows} == {f: aviso[f] for f in listed}
    assert any(r["Próximo aviso"] for r in rows)
    mine = {r["Factura"]: r for r in rows if r["Cliente"] == "CX-1"}
    assert mine["00123"]["Nombre"] == TRICKY_NAME  # text stays text
    assert (mine["00123"]["Importe"], mine["00123"]["Saldo"]) == (1000.0, 1000.0)
    assert (mine["00123"]["Días vencidos"], mine["00123"]["Tramo"]) == (91, "91+")
    assert mine["00123"]["Emisión"] == date(2026, 8, 1)
    assert (mine["X-RECENT"]["Saldo"], mine["X-RECENT"]["Estatus"]) == (0.0, "Pagada")
    xml = cartera_xml(path)
    assert "<f>" not in xml and "<f " not in xml  # values only
    assert '<pane ySplit="4"' in xml  # frozen header
    ws = openpyxl.load_workbook(path)["Cartera"]
    assert [ws.cell(5, c).number_format for c in (5, 6, 8, 9, 10)] == [
        "dd/mm/yyyy", "dd/mm/yyyy", "#,##0.00", "#,##0.00", "#,##0"]
    assert ws.column_dimensions["M"].width >= 44  # Próximo aviso readable
    return rows


def test_the_sync_writes_cartera_as_values(workbook):
    result = run_cycle(workbook, NOW, dry_run=True)
    assert "Cartera" in result.changed
    check(workbook)
    with zipfile.ZipFile(workbook) as z:
        tables = [z.read(p).decode() for p in z.namelist() if p.startswith("xl/tables/")]
    (table,) = [t for t in tables if 'name="tblCartera"' in t]
    assert "autoFilter" in table


def test_the_ribbon_writes_the_same_cartera_as_the_sync(workbook, tmp_path):
    copy = Path(shutil.copy(workbook, tmp_path / "copia.xlsm"))
    run_cycle(copy, NOW, dry_run=True)
    ribbon.actualizar_alertas(FileBook(workbook), NOW)
    assert check(workbook) == cartera(copy)


def test_tablero_draws_one_chart_per_currency_within_the_first_screen(workbook):
    """The written Tablero: each chart holds one currency's series (its own scale) and is
    anchored beside the tables within the first 12 columns and 30 rows."""
    from lxml import etree

    run_cycle(workbook, NOW, dry_run=True)
    ns = {"c": "http://schemas.openxmlformats.org/drawingml/2006/chart",
          "xdr": "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"}
    with zipfile.ZipFile(workbook) as z:
        charts = [etree.fromstring(z.read(p)) for p in sorted(z.namelist())
                  if p.startswith("xl/charts/chart")]
        drawings = [etree.fromstring(z.read(p)) for p in z.namelist()
                    if p.startswith("xl/drawings/drawing") and p.endswith(".xml")]
    series = sorted(tuple(c.xpath(".//c:ser/c:tx//c:v/text()", namespaces=ns)) for c in charts)
    assert series == [("Saldo MXN",), ("Saldo USD",)]
    titles = sorted("".join(c.xpath(".//c:title//text()", namespaces=ns)) for c in charts)
    assert titles == ["Antigüedad de saldos MXN", "Antigüedad de saldos USD"]
    (drawing,) = [d for d in drawings if d.xpath(".//xdr:twoCellAnchor", namespaces=ns)]
    anchors = [(int(a.xpath("xdr:from/xdr:col/text()", namespaces=ns)[0]),
                int(a.xpath("xdr:from/xdr:row/text()", namespaces=ns)[0]),
                int(a.xpath("xdr:to/xdr:col/text()", namespaces=ns)[0]),
                int(a.xpath("xdr:to/xdr:row/text()", namespaces=ns)[0]))
               for a in drawing.xpath(".//xdr:twoCellAnchor", namespaces=ns)]
    assert len(anchors) == 2
    assert all(c0 >= 5 and c1 <= 13 and r0 <= 20 and r1 <= 30 for c0, r0, c1, r1 in anchors)
    # no chart covers a table: the per-collector table starts below the last one
    ws = openpyxl.load_workbook(workbook)["Tablero"]
    collectors = ws.tables["tblTableroCobradores"].ref
    assert int("".join(ch for ch in collectors.split(":")[0] if ch.isdigit())) > max(
        r1 for *_, r1 in anchors)


def test_listing_rule_balance_or_activity_in_the_last_30_days():
    """Open and credit balances are listed; a settled invoice only with a payment or a
    gestión naming it dated in the 30 days ending on the cut-off (not a customer-wide
    gestión)."""
    from cobranza.rules.portfolio import portfolio_mask
    from tests.book_factory import make_book

    settled = ("OLD", "DAY-29", "DAY-30", "FUTURE", "GESTION", "CUSTOMER")
    book = make_book(
        invoices=[("OPEN", "C1", "2026-10-01", 100), ("CREDIT", "C1", "2026-10-01", 100),
                  *((f, "C1", "2026-10-01", 100) for f in settled)],
        payments=[("2026-10-02", "CREDIT", 150), ("2026-10-02", "OLD", 100),
                  ("2026-11-02", "DAY-29", 100), ("2026-11-01", "DAY-30", 100),
                  ("2026-12-02", "FUTURE", 100), ("2026-10-02", "GESTION", 100),
                  ("2026-10-02", "CUSTOMER", 100)],
        contacts=[("2026-11-30", "C1", "GESTION", "Sin compromiso"),
                  ("2026-11-30", "C1", None, "Sin compromiso")],
    )
    inv = compute_invoices(book, AS_OF)
    listed = inv["invoice"][portfolio_mask(book, inv, AS_OF)].tolist()
    # FUTURE: paid after the cut-off, so still open on it
    assert listed == ["OPEN", "CREDIT", "DAY-29", "FUTURE", "GESTION"]
    assert inv.set_index("invoice").loc["CREDIT", "balance"] < 0
