"""Agency hand-off (`cobranza terceros`, ribbon Entregar a terceros): one .xlsx per
Tercero with exactly its customers, their open invoices, every gestión and the notices
sent, read back with openpyxl."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest

from addin import ribbon
from addin.book import FileBook
from cobranza.layout.handoff import handoff_filenames, safe_file_stem
from sync.cycle import run_cycle
from sync.ledger.store import choose_ledger
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.cli import cobranza
from tests.workbook_edit import append_rows

AS_OF = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, 0)
NORTE = "Despacho Norte"
SLASH = "Cobros A/B: Legal"
TRICKY = '=HYPERLINK("http://x.example","clic")'
NORTE_FILE = f"{NORTE}-2026-12-01.xlsx"
SLASH_FILE = "Cobros A_B_ Legal-2026-12-01.xlsx"
SHEETS = ["Resumen", "Clientes", "Facturas", "Gestiones", "Avisos enviados"]


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    """Two agencies (one name with "/" and ":"), a customer without Tercero, invoices
    open, partly paid and paid, gestiones old and on a paid invoice; one sync at NOW
    sends the VENCIDA_1 notices that are due."""
    path = create_workbook(tmp_path_factory.mktemp("terceros") / "cobranza.xlsm",
                           as_of=AS_OF)
    customer = {"Cobrador": "Ana", "Avisos automáticos": "Sí"}
    append_rows(path, {
        "Clientes": [
            {"Cliente": "A1", "Nombre": "Acme", "Email": "a1@example.com",
             "Tercero": NORTE, "Límite de crédito": 5000, **customer},
            {"Cliente": "A2", "Nombre": TRICKY, "Email": "a2@example.com",
             "Tercero": f" {NORTE} ", **customer},
            {"Cliente": "B1", "Nombre": "Beta", "Email": "b1@example.com", "Tercero": SLASH,
             **customer},
            {"Cliente": "C1", "Nombre": "Sin tercero", "Email": "c1@example.com", **customer},
        ],
        "Facturas": [
            {"Factura": "F1", "Cliente": "A1", "Emisión": "2026-10-31",
             "Vencimiento": "2026-11-30", "Moneda": "MXN", "Importe": 1000},
            {"Factura": "F2", "Cliente": "A1", "Emisión": "2026-09-01",
             "Vencimiento": "2026-10-01", "Moneda": "MXN", "Importe": 500},
            {"Factura": "F3", "Cliente": "A2", "Emisión": "2026-08-01",
             "Vencimiento": "2026-09-01", "Moneda": "USD", "Importe": 2000.5},
            {"Factura": "F4", "Cliente": "B1", "Emisión": "2026-11-10",
             "Vencimiento": "2026-12-10", "Moneda": "MXN", "Importe": 300},
            {"Factura": "F5", "Cliente": "C1", "Emisión": "2026-10-31",
             "Vencimiento": "2026-11-30", "Moneda": "MXN", "Importe": 1000},
        ],
        "Pagos": [
            {"Fecha": "2026-11-15", "Cliente": "A1", "Factura": "F1", "Importe": 250},
            {"Fecha": "2026-10-15", "Cliente": "A1", "Factura": "F2", "Importe": 500},
            {"Fecha": "2026-12-20", "Cliente": "A1", "Factura": "F1", "Importe": 750},
        ],
        "Gestiones": [
            {"Fecha": "2025-06-01", "Cobrador": "Ana", "Cliente": "A1",
             "Resultado": "Sin contacto", "Comentario": "+52 no contesta"},
            {"Fecha": "2026-10-01", "Cobrador": "Ana", "Cliente": "A1", "Factura": "F2",
             "Resultado": "Sin compromiso", "Seguimiento": "2026-10-08"},
            {"Fecha": "2026-11-20", "Cobrador": "Ana", "Cliente": "A2", "Factura": "F3",
             "Resultado": "Asignar a tercero", "Comentario": "=1+1"},
            {"Fecha": "2026-11-25", "Cobrador": "Ana", "Cliente": "C1", "Factura": "F5",
             "Resultado": "Sin compromiso"},
        ],
    })
    run_cycle(path, NOW)
    return path


@pytest.fixture
def workbook(base, tmp_path) -> Path:
    folder = tmp_path / "libro"
    shutil.copytree(base.parent, folder)
    return folder / base.name


def sheet_rows(path: Path, sheet: str, start: int = 5) -> list[tuple]:
    """The values of `sheet` from row `start` (the first data row below the header)."""
    ws = openpyxl.load_workbook(path)[sheet]
    return [r for r in ws.iter_rows(min_row=start, values_only=True) if any(
        v is not None for v in r)]


def sent_notices(workbook: Path) -> list[tuple]:
    """(Cliente, Código, Facturas) of the customer notices the sync sent."""
    rows = sheet_rows(workbook, "Envíos")
    return sorted((r[3], r[2], r[5]) for r in rows if r[1] == "Aviso" and r[7] == "enviado")


def test_each_agency_file_holds_exactly_its_customers_invoices_gestiones_and_notices(workbook):
    done = cobranza("terceros", workbook, "--fecha", "2026-12-01")
    folder = workbook.parent / "terceros"
    assert sorted(p.name for p in folder.iterdir()) == [SLASH_FILE, NORTE_FILE]
    assert done.stdout.splitlines() == [
        f"{SLASH}: 1 cliente, 1 factura abierta -> {folder / SLASH_FILE}",
        f"{NORTE}: 2 clientes, 2 facturas abiertas -> {folder / NORTE_FILE}",
    ]
    norte = folder / NORTE_FILE
    assert openpyxl.load_workbook(norte).sheetnames == SHEETS
    customers = sheet_rows(norte, "Clientes")
    assert [r[:3] for r in customers] == [("A1", "Acme", "a1@example.com"),
                                          ("A2", TRICKY, "a2@example.com")]
    assert [(r[6], r[7], r[12]) for r in customers] == [(5000, "MXN", NORTE),
                                                      (None, None, NORTE)]
    # F2 is paid: not listed; the payment of 20/12 does not exist yet on 01/12
    assert sheet_rows(norte, "Facturas") == [
        ("F1", "A1", "Acme", datetime(2026, 10, 31), datetime(2026, 11, 30), "MXN", 1000,
         250, 750, 1, "1-30", "Vencida", None),
        ("F3", "A2", TRICKY, datetime(2026, 8, 1), datetime(2026, 9, 1), "USD", 2000.5, 0,
         2000.5, 91, "91+", "Tercerizada", None),
    ]
    assert sheet_rows(norte, "Gestiones") == [
        (datetime(2025, 6, 1), "Ana", "A1", None, "Sin contacto", None, None,
         "+52 no contesta", None),
        (datetime(2026, 10, 1), "Ana", "A1", "F2", "Sin compromiso", None, None, None,
         datetime(2026, 10, 8)),
        (datetime(2026, 11, 20), "Ana", "A2", "F3", "Asignar a tercero", None, None, "=1+1",
         None),
    ]
    # A2's invoice is Tercerizada: no notice; C1 has no Tercero
    assert sent_notices(workbook) == [
        ("A1", "VENCIDA_1, ESTADO_MENSUAL", "VENCIDA_1: F1; ESTADO_MENSUAL: F1"),
        ("B1", "ESTADO_MENSUAL", "F4"),
        ("C1", "VENCIDA_1, ESTADO_MENSUAL", "VENCIDA_1: F5; ESTADO_MENSUAL: F5")]
    shown = sheet_rows(norte, "Avisos enviados")
    assert [r[1:5] + r[6:] for r in shown] == [
        ("A1", "VENCIDA_1, ESTADO_MENSUAL", "VENCIDA_1: F1; ESTADO_MENSUAL: F1",
         "a1@example.com", "enviado")]
    assert isinstance(shown[0][0], datetime) and shown[0][0].date() == AS_OF
    beta = folder / SLASH_FILE
    assert [r[:2] for r in sheet_rows(beta, "Clientes")] == [("B1", "Beta")]
    assert [r[:2] + r[8:12] for r in sheet_rows(beta, "Facturas")] == [
        ("F4", "B1", 300, -9, "Por vencer", "Por vencer")]
    assert sheet_rows(beta, "Gestiones") == []
    assert [r[1:4] for r in sheet_rows(beta, "Avisos enviados")] == [
        ("B1", "ESTADO_MENSUAL", "F4")]


def test_the_summary_counts_and_totals_per_currency(workbook):
    cobranza("terceros", workbook, "--fecha", "2026-12-01")
    path = workbook.parent / "terceros" / NORTE_FILE
    assert sheet_rows(path, "Resumen", start=1) == [
        ("Entrega de cartera a tercero", None, None, None),
        ("Tercero", NORTE, None, None),
        ("Fecha de corte", datetime(2026, 12, 1), None, None),
        ("Clientes", 2, None, None),
        ("Facturas abiertas", 2, None, None),
        ("Gestiones", 3, None, None),
        ("Avisos enviados", 1, None, None),
        ("Moneda", "Facturas", "Saldo", "Saldo vencido"),
        ("MXN", 1, 750, 750),
        ("USD", 1, 2000.5, 2000.5),
    ]


def test_text_from_the_data_stays_text_and_cells_have_formats(workbook):
    cobranza("terceros", workbook, "--fecha", "2026-12-01")
    path = workbook.parent / "terceros" / NORTE_FILE
    wb = openpyxl.load_workbook(path)
    name = wb["Facturas"]["C6"]
    assert (name.value, name.data_type) == (TRICKY, "s")
    comment = wb["Gestiones"]["H7"]
    assert (comment.value, comment.data_type) == ("=1+1", "s")
    assert wb["Clientes"]["B6"].data_type == "s"
    assert wb["Facturas"]["E5"].number_format == "dd/mm/yyyy"
    assert wb["Facturas"]["I5"].number_format == "#,##0.00"
    assert sorted(wb["Facturas"].tables) == ["tblFacturas"]
    assert wb["Facturas"].freeze_panes == "A5"


def test_gestiones_dated_after_the_cutoff_are_not_yet_history(workbook):
    done = cobranza("terceros", workbook, "--fecha", "2026-10-15")
    norte = workbook.parent / "terceros" / f"{NORTE}-2026-10-15.xlsx"
    assert [r[0] for r in sheet_rows(norte, "Gestiones")] == [datetime(2025, 6, 1),
                                                             datetime(2026, 10, 1)]
    assert sheet_rows(norte, "Avisos enviados") == []  # the notices went on 01/12
    # F1 is issued on 31/10, F2 paid on 15/10: only F3 was open
    assert f"{NORTE}: 2 clientes, 1 factura abierta" in done.stdout
    assert [r[0] for r in sheet_rows(norte, "Facturas")] == ["F3"]


def test_without_the_ledger_the_notices_come_from_envios(workbook):
    cobranza("terceros", workbook, "--fecha", "2026-12-01", "--carpeta",
             workbook.parent / "con-registro")
    choose_ledger(workbook, None).ledger.unlink()
    cobranza("terceros", workbook, "--fecha", "2026-12-01", "--carpeta",
             workbook.parent / "sin-registro")
    for name in (NORTE_FILE, SLASH_FILE):
        with_ledger = sheet_rows(workbook.parent / "con-registro" / name, "Avisos enviados")
        from_envios = sheet_rows(workbook.parent / "sin-registro" / name, "Avisos enviados")
        assert from_envios == with_ledger


def test_the_ribbon_writes_the_same_files(workbook, tmp_path):
    cobranza("terceros", workbook, "--fecha", "2026-12-01", "--carpeta", tmp_path / "cli")
    io = FileBook(workbook)
    paths = ribbon.entregar_a_terceros(io, NOW)
    folder = workbook.parent / "terceros"
    assert paths == [folder / SLASH_FILE, folder / NORTE_FILE]
    assert io.messages == [
        f"Se crearon 2 archivos en {folder}:\n"
        f"{SLASH}: 1 cliente, 1 factura abierta -> {folder / SLASH_FILE}\n"
        f"{NORTE}: 2 clientes, 2 facturas abiertas -> {folder / NORTE_FILE}"]
    for path in paths:
        for sheet in SHEETS:
            assert sheet_rows(path, sheet, 1) == sheet_rows(tmp_path / "cli" / path.name,
                                                            sheet, 1)


def test_no_customer_with_a_tercero_is_nothing_to_do(tmp_path):
    path = create_workbook(tmp_path / "vacio.xlsm", as_of=AS_OF)
    append_rows(path, {"Clientes": [{"Cliente": "C1", "Nombre": "Sin tercero"}]})
    done = cobranza("terceros", path, check=False)
    assert done.returncode == 1
    assert done.stdout.strip() == (
        'Ningún cliente de "vacio.xlsm" tiene un Tercero asignado (columna Tercero de la '
        "hoja Clientes); no se generó ningún archivo.")
    assert not (tmp_path / "terceros").exists()
    io = FileBook(path)
    assert ribbon.entregar_a_terceros(io, NOW) == [] and io.messages == [done.stdout.strip()]


def test_a_missing_workbook_and_a_folder_that_cannot_be_written(workbook, tmp_path):
    done = cobranza("terceros", tmp_path / "no-existe.xlsm", check=False)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("Error: ") and "no-existe.xlsm" in done.stderr
    blocker = tmp_path / "archivo"
    blocker.write_text("no soy carpeta")
    done = cobranza("terceros", workbook, "--carpeta", blocker / "terceros", check=False)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"Error: No se puede escribir en la carpeta {blocker / 'terceros'}: en la ruta hay "
        "un archivo donde debería haber una carpeta; elija otra con --carpeta.")


@pytest.mark.parametrize(("name", "stem"), [
    ("Despacho Jurídico Ortega y Asociados, S.C.", "Despacho Jurídico Ortega y Asociados, S.C."),
    ("Cobros A/B: Legal", "Cobros A_B_ Legal"),
    ('a<b>c"d\\e|f?g*h', "a_b_c_d_e_f_g_h"),
    ("  ..oculto  ", "oculto"),
    ("CON", "_CON"),
    ("nul.txt", "_nul.txt"),
    ("///", "_"),
    ("", "tercero"),
    ("x" * 100, "x" * 80),
])
def test_safe_file_stem(name, stem):
    assert safe_file_stem(name) == stem


def test_agencies_whose_safe_names_coincide_get_distinct_files():
    assert handoff_filenames(["A/B", "A:B", "a?b", "C"], AS_OF) == [
        "A_B-2026-12-01.xlsx", "A_B (2)-2026-12-01.xlsx", "a_b (3)-2026-12-01.xlsx",
        "C-2026-12-01.xlsx"]


def test_the_ribbon_in_excel_reads_the_open_book(workbook, tmp_path):
    """Through the fake of desktop Excel (the open book's cells, not the file): the same
    files as the command line."""
    from addin.book import ExcelBook
    from tests.excel_fake import FakeBook

    cobranza("terceros", workbook, "--fecha", "2026-12-01", "--carpeta", tmp_path / "cli")
    excel = FakeBook.from_file(workbook)
    paths = ribbon.entregar_a_terceros(ExcelBook(excel), NOW)
    assert [p.name for p in paths] == [SLASH_FILE, NORTE_FILE]
    assert excel.app.alerts[0].startswith("Se crearon 2 archivos en ")
    for path in paths:
        for sheet in SHEETS:
            assert sheet_rows(path, sheet, 1) == sheet_rows(tmp_path / "cli" / path.name,
                                                            sheet, 1)


def test_the_demo_hands_its_agency_customer_off(tmp_path):
    path = create_workbook(tmp_path / "demo.xlsm", demo=True, as_of=AS_OF, invoices=120)
    done = cobranza("terceros", path, "--fecha", "2026-12-01")
    name = "Despacho Jurídico Ortega y Asociados, S.C.-2026-12-01.xlsx"
    assert done.stdout.splitlines() == [
        f"Despacho Jurídico Ortega y Asociados, S.C.: 1 cliente, 1 factura abierta -> "
        f"{tmp_path / 'terceros' / name}"]
    assert [r[11] for r in sheet_rows(tmp_path / "terceros" / name, "Facturas")] == [
        "Tercerizada"]


def test_with_a_shared_postgresql_ledger_the_notices_come_from_it(workbook, pg_server,
                                                                  monkeypatch):
    """A workbook whose ledger moved to PostgreSQL: the hand-off reads it there."""
    from sync.ledger.identity import sent_messages
    from sync.ledger.migrate import copy_ledger

    book = read_book(workbook)
    local = sent_messages(workbook, book)
    url = pg_server.new_database()
    copy_ledger(choose_ledger(workbook, None).ledger, url)
    choose_ledger(workbook, None).ledger.unlink()
    assert sent_messages(workbook, book) is None  # no SQLite ledger left
    monkeypatch.setenv("COBRANZA_LEDGER_URL", url)
    assert local and sent_messages(workbook, book) == local
