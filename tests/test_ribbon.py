"""Every ribbon button against a file-backed demo workbook and a real SMTP server."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import openpyxl
import pytest
import python_calamine

from addin import ribbon
from addin.book import FileBook
from cobranza.layout.sends import PREVIEW_STATES
from cobranza.notices.customers import PROBLEM_NO_EMAIL
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book, read_raw
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, lab_pace, set_cells

REPO = Path(__file__).resolve().parents[1]

AS_OF = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, 0)  # company local time; a business day inside the window


@pytest.fixture
def workbook(tmp_path) -> Path:
    return lab_pace(create_workbook(tmp_path / "cobranza.xlsm", demo=True, as_of=AS_OF,
                                    invoices=120))


@pytest.fixture
def smtp(monkeypatch):
    with SmtpTestServer() as server:
        for key, value in server.env().items():
            monkeypatch.setenv(key, value)
        yield server


def sheet_rows(path: Path, sheet: str) -> list[list]:
    book = python_calamine.CalamineWorkbook.from_path(str(path))
    return book.get_sheet_by_name(sheet).to_python()


def table_rows(path: Path, sheet: str, *headers: str) -> list[list]:
    """Data rows of the table whose header row starts with `headers`."""
    rows = sheet_rows(path, sheet)
    start = next(i for i, r in enumerate(rows) if tuple(r[:len(headers)]) == headers)
    return [r for r in rows[start + 1:] if any(v != "" for v in r)]


def test_vista_previa_writes_the_preview_and_sends_nothing(workbook, smtp):
    io = FileBook(workbook)
    count = ribbon.vista_previa(io, NOW)
    assert count > 0
    rows = table_rows(workbook, "Vista previa", "Código")
    assert len(rows) == count  # omitido messages stay in Envíos, not in Vista previa
    assert {r[7] for r in rows} <= set(PREVIEW_STATES) - {"omitido"}
    assert smtp.messages == []


def test_enviar_recordatorios_asks_first_and_declining_sends_nothing(workbook, smtp):
    io = FileBook(workbook, confirm=lambda text: False)
    assert ribbon.enviar_recordatorios(io, NOW) == {}
    assert len(io.messages) == 1 and io.messages[0].startswith("Se enviarán ")
    assert smtp.messages == []


def test_enviar_recordatorios_sends_once_then_nothing_twice(workbook, smtp):
    """One email per customer (its notices together), as many as the question said, the
    ones the preview showed; a second press sends nothing."""
    ribbon.vista_previa(FileBook(workbook), NOW)
    previewed = sorted((str(r[2]).replace("; ", ", "), str(r[0])) for r in table_rows(
        workbook, "Vista previa", "Código") if r[7] == "listo")
    io = FileBook(workbook)
    counts = ribbon.enviar_recordatorios(io, NOW)
    sent = counts["enviado"]
    assert sent > 0
    assert len(smtp.messages) == sent
    archive = workbook.parent / ".cobranza" / "archivo"  # the ribbon archives like the sync
    assert sorted(p.read_bytes() for p in archive.glob("*/*.eml")) == sorted(
        m.raw for m in smtp.received())
    keys = [str(m.message["X-Cobranza-Clave"]) for m in smtp.received()]
    digests = sum(k.startswith("resumen") for k in keys)
    assert io.messages[0] == (f"Se enviarán {sent - digests} correos a clientes y {digests} "
                              "resúmenes internos. ¿Desea enviarlos ahora?")
    customers = [m for m, k in zip(smtp.received(), keys, strict=True)
                 if not k.startswith("resumen")]
    to = [str(m.message["To"]) for m in customers]
    assert len(to) == len(set(to))  # one email per customer
    assert sorted((str(m.message["To"]), str(m.message["X-Cobranza-Avisos"]))
                  for m in customers) == [p for p in previewed if "RESUMEN" not in p[1]]
    again = FileBook(workbook)
    assert ribbon.enviar_recordatorios(again, NOW) == {}
    assert again.messages == ["No hay recordatorios por enviar en este momento."]
    assert len(smtp.messages) == sent


def test_enviar_recordatorios_says_how_many_went_when_the_sheets_must_wait(workbook, smtp):
    from sync.xlsx.fileops import owner_file

    owner_file(workbook).write_bytes(b"\x0bUsuario de Excel" + b"\x00" * 40)  # open in Excel
    before = workbook.read_bytes()
    io = FileBook(workbook)
    counts = ribbon.enviar_recordatorios(io, NOW)
    sent = counts["enviado"]
    assert sent == len(smtp.messages) > 0
    assert io.messages[-1] == (
        f"Enviados: {sent}. Las hojas de salida no se actualizaron: El libro está abierto en "
        "Excel (cobranza.xlsm); las hojas de salida se escribirán cuando se cierre.")
    assert workbook.read_bytes() == before


def test_enviar_recordatorios_right_after_a_sync_sends_nothing_twice(workbook, smtp):
    from sync.cycle import run_cycle

    result = run_cycle(workbook, NOW)
    sent = result.counts().get("enviado", 0)
    assert sent == len(smtp.messages) > 0
    io = FileBook(workbook)
    assert ribbon.enviar_recordatorios(io, NOW) == {}
    assert len(smtp.messages) == sent


def test_registrar_gestion_adds_prefilled_rows_and_selects_resultado(workbook):
    book = read_book(workbook)
    picked = book.invoices.iloc[[0, 3]]
    before = len(read_raw(workbook)["Gestiones"])
    io = FileBook(workbook, selection={"Facturas": picked["row"].tolist()})
    added = ribbon.registrar_gestion(io, NOW)
    raw = read_raw(workbook)["Gestiones"]
    assert len(raw) == before + 2
    assert raw["row"].tolist()[-2:] == added
    collectors = book.customers.set_index("customer")["collector"]
    new = raw.tail(2)
    assert new["Cliente"].tolist() == picked["customer"].tolist()
    assert new["Factura"].tolist() == picked["invoice"].tolist()
    assert new["Cobrador"].tolist() == [collectors[c] for c in picked["customer"]]
    assert new["Fecha"].tolist() == [AS_OF, AS_OF]  # a real date cell, not text
    assert new["Resultado"].tolist() == ["", ""]
    assert io.selected == ("Gestiones", added[0], "Resultado")


def test_registrar_gestion_without_selection_explains(workbook):
    io = FileBook(workbook)
    assert ribbon.registrar_gestion(io, NOW) == []
    assert io.messages == ["Seleccione en la hoja Facturas las filas de las facturas gestionadas."]


def test_actualizar_alertas_writes_the_report_sheets(workbook, smtp):
    count = ribbon.actualizar_alertas(FileBook(workbook), NOW)
    assert count > 0
    assert len(table_rows(workbook, "Alertas", "Tipo", "Cliente")) == count
    assert smtp.messages == []


def test_estado_de_cuenta_writes_the_statement_beside_the_workbook(workbook):
    book = read_book(workbook)
    customer = book.customers.iloc[0]
    io = FileBook(workbook, selection={"Clientes": [int(customer["row"])]})
    pdf, path = ribbon.estado_de_cuenta(io, NOW)
    assert path == workbook.parent / f"estado-de-cuenta-{customer['customer']}-2026-12.xlsx"
    assert pdf == path.with_suffix(".pdf") and pdf.read_bytes().startswith(b"%PDF")
    assert io.opened == [path]
    ws = openpyxl.load_workbook(path).active
    assert ws.title == "Estado de cuenta"


def test_validar_lists_the_errores_the_sync_writes(workbook, smtp, tmp_path):
    """Validar and the sync list the same Errores: the bad cells, and what holds notices
    back (before, Validar dropped the customer without a valid email): here also an
    unapproved template and a Cuerpo that does not render. Validar sends nothing."""
    set_cells(workbook, "Plantillas", ("Código", "VENCIDA_1"), {"Aprobada": "No"})
    set_cells(workbook, "Plantillas", ("Código", "PREVIO"), {"Cuerpo": "{{ cliente.nombre }"})
    synced = tmp_path / "copia" / workbook.name
    synced.parent.mkdir()
    shutil.copyfile(workbook, synced)
    n = ribbon.validar(FileBook(workbook), NOW)
    assert smtp.received() == []
    env = {**os.environ, "PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-m", "sync.cli", "sync", str(synced), "--as-of",
                           f"{NOW:%Y-%m-%dT%H:%M}"], cwd=synced.parent, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    rows = table_rows(workbook, "Errores", "Hoja")
    assert rows == table_rows(synced, "Errores", "Hoja")
    assert len(rows) == n > len(read_book(workbook).errors)
    held = {(r[0], r[2]) for r in rows if "pendientes" in r[4]}
    assert held == {("Clientes", "Email"), ("Plantillas", "Aprobada"), ("Plantillas", "Código")}
    assert PROBLEM_NO_EMAIL in {r[4] for r in rows}


def test_one_email_one_error_are_said_in_the_singular(tmp_path, smtp):
    """One customer with one invoice issued today: its NUEVA and its monthly statement go
    as one email, and the question says so in the singular; one bad cell, one error."""
    path = create_workbook(tmp_path / "uno.xlsm", as_of=AS_OF)
    append_rows(path, {
        "Clientes": [{"Cliente": "C1", "Nombre": "Cliente Uno", "Email": "pagos@uno.mx",
                      "Avisos automáticos": "Sí", "Zona horaria": "America/Mexico_City"}],
        "Facturas": [{"Factura": "F-1", "Cliente": "C1", "Emisión": datetime(2026, 12, 1),
                      "Vencimiento": datetime(2026, 12, 31), "Moneda": "MXN",
                      "Importe": 100}]})
    io = FileBook(path, confirm=lambda text: False)
    ribbon.enviar_recordatorios(io, NOW)
    assert io.messages == ["Se enviará 1 correo a un cliente. ¿Desea enviarlo ahora?"]
    set_cells(path, "Facturas", ("Factura", "F-1"), {"Importe": "cien"})
    io = FileBook(path)
    assert ribbon.validar(io, NOW) == 1
    assert io.messages == ["Se encontró 1 dato con problemas; vea la hoja Errores."]
