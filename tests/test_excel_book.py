"""The ribbon's live-Excel writer (`addin.book.ExcelBook`) end to end from the ribbon
handlers, through a recording fake of desktop Excel (tests/excel_fake.py) loaded with a
real demo workbook: it writes like the sync, quietly, in blocks, text as text, and takes
only the visible rows of a filtered selection."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from addin import ribbon
from addin.book import ExcelBook
from cobranza.layout.sheets import Sheet, Table
from sync.cycle import compute, localize, report_sheets
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from sync.xlsx.sheet_xml import column_widths, ref
from tests.excel_fake import FakeBook, FakeRange, FakeSelection, Formula

AS_OF = date(2026, 12, 1)
NOW = datetime(2026, 12, 1, 10, 0)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("excel") / "cobranza.xlsm"
    return create_workbook(path, demo=True, as_of=AS_OF, invoices=120)


@pytest.fixture
def excel(demo, tmp_path) -> FakeBook:
    """The demo workbook open in (fake) Excel, in a folder of its own."""
    path = tmp_path / demo.name
    path.write_bytes(demo.read_bytes())
    return FakeBook.from_file(path)


def expected_sheets(path: Path) -> list[Sheet]:
    """What Actualizar alertas writes, computed by the sync from the same file."""
    book = read_book(path)
    return report_sheets(compute(book, localize(NOW, book)))


def entries(fake: FakeBook, kind: str, sheet: str | None = None) -> list[tuple]:
    return [e for e in fake.app.log if e[0] == kind and (sheet is None or e[1] == sheet)]


def table_cells(fake: FakeBook, sheet: str, t: Table) -> list[list]:
    sht = next(s for s in fake.sheets if s.name == sheet)
    return [[sht.value(t.row + 1 + i, t.col + j) for j in range(len(t.columns))]
            for i in range(len(t.rows))]


def test_refresh_writes_with_calculation_manual_and_restores_the_users_settings(excel):
    excel.app.calculation = "semiautomatic"  # the user's own choice comes back, not ours
    excel.app.log.clear()
    assert ribbon.actualizar_alertas(ExcelBook(excel), NOW) > 0
    log = excel.app.log
    assert log[:3] == [("app", "calculation", "manual"), ("app", "screen_updating", False),
                       ("app", "enable_events", False)]
    assert log[-3:] == [("app", "calculation", "semiautomatic"),
                        ("app", "screen_updating", True), ("app", "enable_events", True)]
    assert all(e[0] != "app" for e in log[3:-3])  # every write happened in between
    assert len(entries(excel, "value")) > 4
    assert excel.sheets.active.name == "Clientes"  # the user's sheet is shown again


def test_a_write_failing_midway_still_restores_calculation_and_screen(excel):
    excel.app.fail_on = ("value", "Agenda")
    io = ExcelBook(excel)
    assert ribbon.actualizar_alertas(io, NOW) is None
    assert excel.app.alerts == ["Ocurrió un error inesperado en Cobranza; avise a soporte "
                                "(el detalle quedó en el registro)."]
    log = excel.app.log
    failed = log.index(entries(excel, "value", "Agenda")[0])
    assert ("app", "calculation", "manual") in log[:failed]
    assert log[failed + 1:] == [("app", "calculation", "automatic"),
                                ("app", "screen_updating", True), ("app", "enable_events", True)]
    assert (excel.app.calculation, excel.app.screen_updating, excel.app.enable_events) == (
        "automatic", True, True)
    assert excel.sheets.active.name == "Clientes"


def test_one_value_assignment_per_block_with_the_values_the_sync_computes(excel):
    ribbon.actualizar_alertas(ExcelBook(excel), NOW)
    sheets = expected_sheets(Path(excel.fullname))
    for sheet in sheets:
        written = [e[2] for e in entries(excel, "value", sheet.name)]
        tables = [f"{ref(t.row, t.col, True)}:"
                  f"{ref(t.row + len(t.rows), t.col + len(t.columns) - 1, True)}"
                  for t in sheet.tables]
        top = min(c.row for c in sheet.cells)
        # one block for the free cells (titles, labels), one per table: header and body
        assert len(written) == 1 + len(tables), sheet.name
        assert written[0].startswith(f"{ref(top, 1, True)}:") and written[1:] == tables
        for t in sheet.tables:  # the sync's values, as they are
            assert table_cells(excel, sheet.name, t) == [list(row) for row in t.rows], t.name
    alerts = sheets[0].tables[0]
    assert len(alerts.rows) > 20  # hundreds of cells went in one assignment
    # plus one for FechaCorte (Configuración R2: the refresh's date)
    assert len(entries(excel, "value")) == sum(1 + len(s.tables) for s in sheets) + 1


def test_text_stays_text_never_a_number_a_date_or_a_formula(tmp_path):
    """A code "00123", a Referencia "22/10/2026" and data that looks like a formula arrive
    as the same text; numbers and dates as numbers and dates, with the sync's formats."""
    fake = FakeBook(tmp_path / "libro.xlsm")
    fake.sheets.add("Clientes")
    texts = ["00123", "22/10/2026", '=HYPERLINK("http://x.example","clic")', "+cmd", "-5",
             "@SUM(1)", "'quoted"]
    table = Table("tblPrueba", ("Cliente", "Referencia", "Importe", "Fecha"),
                  [(t, t, 1234.5, date(2026, 10, 22)) for t in texts], row=3,
                  formats={"Importe": "money", "Fecha": "date"})
    sheet = Sheet("Prueba", tables=[table], freeze_row=4)
    ExcelBook(fake).write([sheet], NOW)
    sht = fake.sheets[-1]
    assert [sht.value(r, 1) for r in range(4, 4 + len(texts))] == texts
    assert [sht.value(r, 2) for r in range(4, 4 + len(texts))] == texts
    assert not any(isinstance(v, Formula) for v in sht.cells.values())
    assert sht.value(4, 3) == 1234.5 and sht.value(4, 4) == date(2026, 10, 22)
    assert sht.formats[(4, 3)] == "#,##0.00" and sht.formats[(10, 4)] == "dd/mm/yyyy"
    assert (4, 1) not in sht.formats  # text keeps General, as in the sync's files


def test_a_customer_code_and_a_bad_value_written_by_the_ribbon_stay_text(excel):
    """End to end: customer "00123" in Agenda, and Validar's Errores row for an Importe
    typed as "22/10/2026" quotes it as text, not as a date."""
    agenda = next(s for s in expected_sheets(Path(excel.fullname)) if s.name == "Agenda")
    code = agenda.tables[0].rows[0][agenda.tables[0].columns.index("Cliente")]
    for sht in excel.sheets:
        for key, value in list(sht.cells.items()):
            if value == code:
                sht.cells[key] = "00123"
    facturas = next(s for s in excel.sheets if s.name == "Facturas")
    importe = next(c for (r, c), v in facturas.cells.items() if r == 1 and v == "Importe")
    facturas.cells[(3, importe)] = "22/10/2026"
    io = ExcelBook(excel)
    ribbon.actualizar_alertas(io, NOW)
    agenda = next(s for s in excel.sheets if s.name == "Agenda")
    cliente = next(c for (r, c), v in agenda.cells.items() if r == 4 and v == "Cliente")
    customers = [v for (r, c), v in agenda.cells.items() if c == cliente and r > 4]
    assert "00123" in customers and 123 not in customers
    ribbon.validar(io, NOW)
    errores = next(s for s in excel.sheets if s.name == "Errores")
    rows = [[errores.value(r, c) for c in range(1, 6)] for r in range(5, 40)]
    assert ["Facturas", 3, "Importe", "22/10/2026"] in [r[:4] for r in rows]


def test_formats_widths_frozen_header_and_the_tablero_chart_as_the_sync(excel):
    io = ExcelBook(excel)
    ribbon.actualizar_alertas(io, NOW)
    excel.app.log.clear()
    ribbon.actualizar_alertas(io, NOW)  # a second refresh replaces, never adds
    sheets = {s.name: s for s in expected_sheets(Path(excel.fullname))}
    book = {s.name: s for s in excel.sheets}
    for name, sheet in sheets.items():
        assert book[name].widths == column_widths(sheet), name
        assert [t.name for t in book[name].tables] == [t.name for t in sheet.tables]
    agenda = sheets["Agenda"].tables[0]
    saldo = next(i for i, c in enumerate(agenda.columns) if c.startswith("Saldo "))
    vence = agenda.columns.index("Vencimiento")
    body = range(agenda.row + 1, agenda.row + 1 + len(agenda.rows))
    assert {book["Agenda"].formats.get((r, saldo + 1)) for r in body
            if agenda.rows[r - agenda.row - 1][saldo] is not None} == {"#,##0.00"}
    assert {book["Agenda"].formats.get((r, vence + 1)) for r in body
            if agenda.rows[r - agenda.row - 1][vence] is not None} == {"dd/mm/yyyy"}
    assert book["Agenda"].formats[(2, 2)] == "dd/mm/yyyy"  # the Fecha de corte cell
    panes = [e[1:] for e in entries(excel, "window")]
    assert ("SplitRow", agenda.row, "Agenda") in panes and ("FreezePanes", True, "Agenda") in panes
    assert ("FreezePanes", True, "Alertas") not in panes  # the sync freezes no Alertas pane
    specs = sheets["Tablero"].charts
    assert len(book["Tablero"].charts) == len(specs) > 1  # one chart per currency
    added = [e[3] for e in entries(excel, "chart", "Tablero") if e[2] == "add"]
    for chart, spec, box in zip(book["Tablero"].charts, specs, added, strict=True):
        tramos = next(t for t in sheets["Tablero"].tables if t.name == spec.table)
        row, col = spec.anchor
        anchor = FakeRange(book["Tablero"], row, col, row + spec.size[0] - 1,
                           col + spec.size[1] - 1)  # the sync's anchor and size
        assert box == (anchor.left, anchor.top, anchor.width, anchor.height)
        legend = {"HasLegend": True, "Legend.Position": -4107} if len(spec.series) > 1 else {
            "HasLegend": False}
        assert chart.props == {"chart_type": "column_clustered", "HasTitle": True,
                               "ChartTitle.Text": spec.title, **legend}
        first, last_row = tramos.row + 1, tramos.row + len(tramos.rows)
        cat = tramos.col + tramos.columns.index(spec.category)
        assert chart.series == [
            {"Series.Name": f"='Tablero'!{ref(tramos.row, c, True)}",
             "Series.Values": f"{ref(first, c, True)}:{ref(last_row, c, True)}",
             "Series.XValues": f"{ref(first, cat, True)}:{ref(last_row, cat, True)}"}
            for c in (tramos.col + tramos.columns.index(s) for s in spec.series)]


def _facturas(excel: FakeBook):
    return next(s for s in excel.sheets if s.name == "Facturas")


def test_registrar_gestion_takes_only_the_rows_the_filter_shows(excel):
    facturas = _facturas(excel)
    facturas.hidden_rows = {3, 4, 9}  # an AutoFilter hides them inside the selection
    excel.app.selection = FakeSelection(facturas.range((2, 1), (6, 3)),
                                        facturas.range((9, 2), (10, 2)))
    book = read_book(Path(excel.fullname))
    invoices = book.invoices.set_index("row")["invoice"]
    added = ribbon.registrar_gestion(ExcelBook(excel), NOW)
    gestiones = next(s for s in excel.sheets if s.name == "Gestiones")
    factura = next(c for (r, c), v in gestiones.cells.items() if r == 1 and v == "Factura")
    assert [gestiones.value(r, factura) for r in added] == [invoices[r] for r in (2, 5, 6, 10)]
    assert excel.app.selection.sheet is gestiones


def test_estado_de_cuenta_takes_the_customer_of_the_first_visible_row(excel):
    facturas = _facturas(excel)
    cliente = next(c for (r, c), v in facturas.cells.items() if r == 1 and v == "Cliente")
    customers = {r: facturas.value(r, cliente) for r in range(2, 40)}
    other = next(r for r in range(3, 40) if customers[r] != customers[2])
    facturas.hidden_rows = set(range(2, other))
    excel.app.selection = facturas.range((2, 1), (other, 1))
    pdf, xlsx = ribbon.estado_de_cuenta(ExcelBook(excel), NOW)
    assert xlsx.name == f"estado-de-cuenta-{customers[other]}-2026-12.xlsx"
    assert excel.app.opened == [str(xlsx)]


def test_a_single_hidden_selected_cell_selects_nothing(excel):
    facturas = _facturas(excel)
    facturas.hidden_rows = {5}
    excel.app.selection = facturas.range(5, 1)
    assert ribbon.registrar_gestion(ExcelBook(excel), NOW) == []
    assert excel.app.alerts == [
        "Seleccione en la hoja Facturas las filas de las facturas gestionadas."]


def test_the_refresh_sets_fechacorte_to_its_date(excel):
    """The Facturas columns read CALCULO_FACTURAS at FechaCorte: Actualizar alertas sets
    it to the refresh's date (Auto_Open sets it on opening)."""
    config = next(s for s in excel.sheets if s.name == "Configuración")
    (name,) = [n for n in excel.names if n.name == "FechaCorte"]
    cell = name.refers_to_range
    assert (cell.row, cell.column) == (2, 18)  # R2, under its label
    before = config.cells.get((2, 18))
    later = NOW + timedelta(days=3)
    ribbon.actualizar_alertas(ExcelBook(excel), later)
    assert config.cells[(2, 18)] == datetime(later.year, later.month, later.day) != before


def test_one_recalculation_of_the_demo_is_one_python_call(excel):
    """Every invoice row has five formula cells; Excel's full recalculation still calls
    Python once (CALCULO_FACTURAS on _calc): the columns read it by row position."""
    facturas = _facturas(excel)
    invoices = sum(1 for r, c in facturas.cells if c == 1 and r > 1)
    assert invoices > 100
    assert len([f for f in facturas.formulas.values() if "_calc" in str(f)]) == 5 * invoices
    excel.app.log.clear()
    excel.app.calculate()
    assert [e for e in excel.app.log if e[0] == "python"] == [("python", "CALCULO_FACTURAS")]


def test_the_add_in_reads_a_row_of_formula_results_only_as_the_sync_does(tmp_path, monkeypatch):
    """A Facturas row holding only the add-in's formula results (the template's row 2, an
    Excel table's empty last rows) is an empty row to both readers: the same Book, and
    Facturas validated once (not a second time without that row)."""
    import openpyxl

    from cobranza.book import validate

    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for name, rows in {
        "Clientes": [["Cliente", "Nombre"], ["C1", "Uno"]],
        "Facturas": [["Factura", "Cliente", "Vencimiento", "Importe", "Saldo", "Estatus"],
                     ["F1", "C1", date(2026, 3, 1), 100, 100, "Vencida"],
                     [None, None, None, None, 0, "Pagada"]],
        "Pagos": [["Fecha", "Factura", "Importe"]],
        "Gestiones": [["Fecha", "Cliente", "Resultado"]],
    }.items():
        ws = wb.create_sheet(name)
        for row in rows:
            ws.append(row)
    path = tmp_path / "libro.xlsx"
    wb.save(path)
    loads = []
    load = validate._load_table
    monkeypatch.setattr(validate, "_load_table",
                        lambda run, name, *a: (loads.append(name), load(run, name, *a))[1])
    book = ExcelBook(FakeBook.from_file(path)).read()
    assert loads.count("invoices") == 1
    expected = read_book(path)
    assert book.invoices["invoice"].tolist() == expected.invoices["invoice"].tolist() == ["F1"]
    assert book.errors == expected.errors
    assert not [e for e in book.errors if e.sheet == "Facturas"]
