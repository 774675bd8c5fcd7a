"""workbook_template.xlsm: reproducible, and exactly the layout the other modules read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pyopenvba
import pytest

from addin import xlwings_conf
from addin.build_template import (
    DEFAULT_OUT,
    UI_PART,
    UI_REL_TYPE,
    XLSM_MAIN,
    build,
    load_templates,
)
from addin.paths import template_path
from cobranza.book.config import DEFAULTS
from cobranza.book.records import RESULTS
from cobranza.rendering.render import (
    CollectorView,
    CustomerView,
    InvoiceView,
    joined,
    render_text,
)
from cobranza.vocabulary import DigestCode

FIXTURES = Path(__file__).parent / "fixtures" / "template"
FRAMES = ("ENCABEZADO", "PIE")
NOTICE_CODES = ["NUEVA", "PREVIO", "VENCIDA_1", "VENCIDA_15", "VENCIDA_30", "MORA_45",
                "SUSPENSION_60", "PROMESA_PREVIA", "PROMESA_INCUMPLIDA", "ESTADO_MENSUAL",
                "SIN_CONTACTO", "CUOTA_PREVIA", "CUOTA_VENCIDA"]
INSTALMENT_CODES = ("CUOTA_PREVIA", "CUOTA_VENCIDA")  # about one instalment, not invoices
SHEETS = ["Clientes", "Facturas", "Pagos", "Gestiones", "Configuración", "Plantillas",
          "Convenios", "Alertas", "Tablero", "Agenda", "Cartera", "Riesgo", "Envíos", "Errores",
          "Vista previa", "Respuestas", "xlwings.conf", "_calc"]
TABLES = {
    "Clientes": {"tblClientes": ["Cliente", "Nombre", "Email", "Email CC", "Teléfono",
                                 "Segmento", "Límite de crédito", "Cobrador",
                                 "Avisos automáticos", "Zona horaria", "Tercero", "País"]},
    "Facturas": {"tblFacturas": ["Factura", "Cliente", "Emisión", "Vencimiento", "Moneda",
                                 "Importe", "Notas", "Saldo", "Días vencidos", "Estatus",
                                 "Tramo", "Próximo aviso"]},
    "Pagos": {"tblPagos": ["Fecha", "Cliente", "Factura", "Importe", "Referencia"]},
    "Gestiones": {"tblGestiones": ["Fecha", "Cobrador", "Cliente", "Factura", "Resultado",
                                   "Fecha compromiso", "Área", "Comentario", "Seguimiento"]},
    "Configuración": {
        "tblParametros": ["Parámetro", "Valor"],
        "tblCobradores": ["Cobrador", "Email", "Teléfono"],
        "tblAreas": ["Área", "Responsable", "Email"],
        "tblAvisos": ["Código", "Referencia", "Días", "Plantilla", "Activo"],
    },
    "Plantillas": {"tblPlantillas": ["Código", "Asunto", "Cuerpo", "Aprobada"]},
    "Convenios": {"tblConvenios": ["Convenio", "Cliente", "Facturas", "Fecha", "Cuota",
                                   "Vencimiento cuota", "Importe cuota", "Estado"]},
}
FORMULAS = {  # each column reads its column of the one CALCULO_FACTURAS spill on _calc
    header: f'IFERROR(IF(INDEX(_calc!${c}:${c},ROW())="","",INDEX(_calc!${c}:${c},ROW())),"")'
    for header, c in (("Saldo", "A"), ("Días vencidos", "B"), ("Estatus", "C"),
                      ("Tramo", "D"), ("Próximo aviso", "E"))
}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("tpl") / "workbook_template.xlsm")


@pytest.fixture(scope="module")
def book(template) -> openpyxl.Workbook:
    return openpyxl.load_workbook(template)


def test_building_twice_gives_identical_bytes(template, tmp_path):
    again = build(tmp_path / "again.xlsm")
    assert again.read_bytes() == template.read_bytes()


def test_committed_template_is_the_build_of_the_sources(template):
    assert template_path() == DEFAULT_OUT
    assert DEFAULT_OUT.read_bytes() == template.read_bytes(), (
        "workbook_template.xlsm is stale: run python -m addin.build_template")


def test_package_is_a_macro_enabled_workbook_with_fixed_times(template):
    with zipfile.ZipFile(template) as zf:
        types = zf.read("[Content_Types].xml").decode()
        core = zf.read("docProps/core.xml").decode()
        times = {info.date_time for info in zf.infolist()}
    assert f'PartName="/xl/workbook.xml" ContentType="{XLSM_MAIN}"' in types
    assert ">2026-01-01T00:00:00Z</dcterms:created>" in core
    assert times == {(1980, 1, 1, 0, 0, 0)}


def test_sheets_tables_and_headers(book):
    assert book.sheetnames == SHEETS
    for sheet, tables in TABLES.items():
        ws = book[sheet]
        assert list(ws.tables) == list(tables), sheet
        for name, headers in tables.items():
            table = ws.tables[name]
            assert [c.name for c in table.tableColumns] == headers
            first = table.ref.split(":")[0]
            assert [c.value for c in ws[table.ref][0]] == headers, first
            assert all(c.font.b for c in ws[table.ref][0])
        assert ws.freeze_panes == "A2"
    assert book["xlwings.conf"].sheet_state == "hidden"
    assert book["_calc"].sheet_state == "hidden"


def test_configuracion_blocks_are_separated_by_one_empty_column(book):
    refs = dict(book["Configuración"].tables.items())  # name -> ref
    assert refs == {"tblParametros": "A1:B39", "tblCobradores": "D1:F2",
                    "tblAreas": "H1:J2", "tblAvisos": "L1:P14"}


def test_facturas_formula_columns_in_stored_form(book, template):
    ws = book["Facturas"]
    columns = ws.tables["tblFacturas"].tableColumns
    calculated = {c.name: c.calculatedColumnFormula.attr_text
                  for c in columns if c.calculatedColumnFormula is not None}
    assert calculated == FORMULAS
    assert [ws.cell(2, col).value for col in range(8, 13)] == [f"={f}" for f in FORMULAS.values()]
    with zipfile.ZipFile(template) as zf:
        sheet = zf.read("xl/worksheets/sheet2.xml").decode()
    assert f"<f>{FORMULAS['Saldo']}</f>" in sheet
    assert "[@" not in sheet


def test_number_formats_of_date_and_amount_columns(book):
    ws = book["Facturas"]
    styles = {ws.cell(1, c).value: ws.column_dimensions[ws.cell(1, c).column_letter]
              for c in range(1, 13)}
    assert ws.column_dimensions["C"].number_format == "dd/mm/yyyy"
    assert ws.column_dimensions["D"].number_format == "dd/mm/yyyy"
    assert ws.column_dimensions["F"].number_format == "#,##0.00"
    assert ws.column_dimensions["H"].number_format == "#,##0.00"
    assert styles["Notas"].width == pytest.approx(28.71, abs=0.01)
    assert book["Pagos"].column_dimensions["A"].number_format == "dd/mm/yyyy"
    assert book["Gestiones"].column_dimensions["F"].number_format == "dd/mm/yyyy"


def _lists(ws) -> dict[str, str]:
    return {str(dv.sqref): dv.formula1 for dv in ws.data_validations.dataValidation}


def test_validation_lists(book):
    assert _lists(book["Gestiones"]) == {"E2:E20001": '"' + ",".join(RESULTS) + '"'}
    assert _lists(book["Clientes"]) == {
        "I2:I20001": '"Sí,No"',
        "L2:L20001": '"MX,CO,CL,PE,AR,BO,BR,CR,CU,DO,EC,GT,HN,NI,PA,PY,SV,UY,VE,US,ES"'}
    assert _lists(book["Plantillas"]) == {"D2:D20001": '"Sí,No"'}
    assert _lists(book["Configuración"]) == {
        "B6": '"MX,CO,CL,PE,ninguno"',
        "B8": '"Sí,No"',
        "M2:M20001": '"emisión,vencimiento,compromiso,gestión,mes,cuota"',
        "P2:P20001": '"Sí,No"',
    }
    assert book["Configuración"]["A6"].value == "Perfil legal"


def _rows(ws, ref: str) -> list[tuple]:
    return [tuple(c.value for c in row) for row in ws[ref]][1:]


def test_configuracion_defaults_and_notices(book):
    ws = book["Configuración"]
    assert _rows(ws, "A1:B39") == [(k, v or None) for k, v in DEFAULTS.items()]
    assert ws["B11"].value == "85%" and ws["B18"].value == "08:00"
    assert _rows(ws, "L1:P14") == [
        ("NUEVA", "emisión", 0, "NUEVA", "Sí"),
        ("PREVIO", "vencimiento", -5, "PREVIO", "Sí"),
        ("VENCIDA_1", "vencimiento", 1, "VENCIDA_1", "Sí"),
        ("VENCIDA_15", "vencimiento", 15, "VENCIDA_15", "Sí"),
        ("VENCIDA_30", "vencimiento", 30, "VENCIDA_30", "Sí"),
        ("MORA_45", "vencimiento", 45, "MORA_45", "Sí"),
        ("SUSPENSION_60", "vencimiento", 60, "SUSPENSION_60", "Sí"),
        ("PROMESA_PREVIA", "compromiso", -1, "PROMESA_PREVIA", "Sí"),
        ("PROMESA_INCUMPLIDA", "compromiso", 1, "PROMESA_INCUMPLIDA", "Sí"),
        ("ESTADO_MENSUAL", "mes", 1, "ESTADO_MENSUAL", "Sí"),
        ("SIN_CONTACTO", "gestión", 0, "SIN_CONTACTO", "Sí"),
        ("CUOTA_PREVIA", "cuota", -3, "CUOTA_PREVIA", "Sí"),
        ("CUOTA_VENCIDA", "cuota", 1, "CUOTA_VENCIDA", "Sí"),
    ]
    assert _rows(ws, "D1:F2") == [(None, None, None)]


def test_plantillas_rows(book):
    rows = _rows(book["Plantillas"], "A1:D20")
    assert [r[0] for r in rows] == ["ENCABEZADO", "PIE", *NOTICE_CODES, *DigestCode]
    assert {r[3] for r in rows} == {"Sí"}
    assert rows[4][1] == "Recordatorio de pago vencido: {{ facturas_asunto }}"
    assert [tuple("" if v is None else v for v in r) for r in rows] == [
        tuple(r) for r in load_templates()]


def test_plantillas_cuerpo_header_has_a_note_listing_the_variables(book):
    from addin.template.layout import TEMPLATE_VARIABLES_NOTE

    ws = book["Plantillas"]
    assert ws["C1"].value == "Cuerpo"
    assert ws["C1"].comment.text == TEMPLATE_VARIABLES_NOTE
    assert [c.comment for c in ws[1] if c.column != 3] == [None, None, None]


def test_output_sheets_hold_only_a_title(book):
    titles = {name: book[name]["A1"].value for name in SHEETS[7:16]}
    assert titles == {"Alertas": "Alertas de cobranza", "Tablero": "Tablero de cobranza",
                      "Agenda": "Agenda de llamadas", "Cartera": "Cartera de facturas",
                      "Riesgo": "Riesgo de pago tardío",
                      "Envíos": "Envíos de avisos y resúmenes",
                      "Errores": "Errores en los datos", "Vista previa": "Vista previa de avisos",
                      "Respuestas": "Respuestas de clientes"}
    for name in SHEETS[7:16]:
        assert book[name].max_row == 1 and book[name].max_column == 1


def test_xlwings_conf_sheet_holds_only_keys_with_a_value(book):
    """xlwings' GetConfig stops at a key present on the sheet even when its value is blank,
    which would hide the user's %USERPROFILE%\\.xlwings\\xlwings.conf (the interpreter)."""
    ws = book["xlwings.conf"]
    rows = [(r[0].value, r[1].value) for r in ws.iter_rows(max_col=2)]
    blank = [key for key, value in rows if value is None or not str(value).strip()]
    assert blank == [], f"keys with a blank value on the xlwings.conf sheet: {blank}"
    assert rows == xlwings_conf.settings()
    # What the add-in needs: our UDF module, one Python process for UDFs and the ribbon,
    # and never the workbook's folder on sys.path.
    assert {k.upper(): v for k, v in rows} == {
        "ADD_WORKBOOK_TO_PYTHONPATH": "False",
        "UDF MODULES": "addin.udfs",
        "DEBUG UDFS": "False",
        "USE UDF SERVER": "True",
        "SHOW CONSOLE": "False",
    }


CONTEXT = {
    "empresa": "Aceros Demo S.A. de C.V.",
    "remitente": "Cobranza Aceros",
    "cliente": CustomerView("GAZ010101AB1", "Grupo Azteca S.A. de C.V."),
    "facturas": [
        InvoiceView("F-000001", "GAZ010101AB1", "25/10/2026", "24/11/2026", 1,
                    "$15,230.00 MXN", "MXN", "", "Vencida", ""),
        InvoiceView("F-000002", "GAZ010101AB1", "26/10/2026", "24/11/2026", 1,
                    "$1,200.50 USD", "USD", "30/11/2026", "Vencida", "Disputa: Calidad"),
    ],
    "totales": [{"moneda": "MXN", "saldo": "$15,230.00 MXN"},
                {"moneda": "USD", "saldo": "$1,200.50 USD"}],
    "fecha_corte": "25/11/2026",
    "destinatario": "Ana López",
    "fecha_gestion": "24/11/2026",
    "cobrador": CollectorView("Ana López", "ana.lopez@aceros-demo.mx", "+52 55 5201 4410"),
    "facturas_asunto": "facturas F-000001 y F-000002",
    # a blank Configuración: no company or payment details, no discount, no link
    "razon_social": "", "rfc": "", "domicilio": "", "telefono_cobranza": "",
    "horario_atencion": "", "banco": "", "cuenta": "", "beneficiario": "",
    "aviso_privacidad": "", "descuento_pronto_pago": "", "enlace_pago": "",
    "referencia_pago": "GAZ010101AB1",
    # instalment notices: the plan's instalment
    "convenio": "CV-0001", "cuota": "2", "vencimiento_cuota": "04/12/2026",
    "importe_cuota": "$30,000.00 MXN", "saldo_cuota": "$30,000.00 MXN",
}


def test_every_template_renders_in_the_strict_sandbox():
    for code, subject, body, _ in load_templates():
        if code in FRAMES:  # around every customer email: no subject, no invoice list
            assert render_text(body, CONTEXT).strip() and not subject, code
            continue
        assert render_text(subject, CONTEXT).strip(), code
        text = render_text(body, CONTEXT)
        listed = ("CV-0001", "$30,000.00 MXN") if code in INSTALMENT_CODES else (
            "F-000001", "F-000002")
        assert all(value in text for value in listed), code
        assert "\n\n\n" not in text, code


def test_vencida_1_email_is_header_body_and_footer():
    texts = {code: (subject, body) for code, subject, body, _ in load_templates()}
    subject, body = texts["VENCIDA_1"]
    assert render_text(subject, CONTEXT) == ("Recordatorio de pago vencido: facturas F-000001 "
                                             "y F-000002")
    pieces = [render_text(texts[code][1], CONTEXT) for code in ("ENCABEZADO", "VENCIDA_1", "PIE")]
    assert joined(pieces) == (
        "Atención: Grupo Azteca S.A. de C.V.\n\n"
        "Estimado cliente:\n\n"
        "Le escribimos para recordarle, de manera cordial, que las siguientes facturas "
        "vencieron recientemente:\n\n"
        "- Factura F-000001, vencida el 24/11/2026: $15,230.00 MXN\n"
        "- Factura F-000002, vencida el 24/11/2026: $1,200.50 USD\n\n"
        "Es posible que su pago ya esté en proceso; en ese caso, le agradeceremos "
        "enviarnos el comprobante para aplicarlo a su cuenta. Quedamos a sus órdenes "
        "para cualquier aclaración.\n\n"
        "Atentamente,\n\n"
        "Ana López\n"
        "Aceros Demo S.A. de C.V.\n"
        "Tel.: +52 55 5201 4410\n"
        "Correo: ana.lopez@aceros-demo.mx"
    )


def test_finalize_adds_ribbon_and_vba_when_sources_exist(tmp_path):
    out = build(tmp_path / "con.xlsm", vba_dir=FIXTURES, custom_ui=FIXTURES / "customUI.xml")
    with zipfile.ZipFile(out) as zf:
        rels = zf.read("_rels/.rels").decode()
        ui = zf.read(UI_PART)
        assert "xl/vbaProject.bin" in zf.namelist()
    assert f'Type="{UI_REL_TYPE}" Target="customUI/customUI14.xml"' in rels
    assert ui == (FIXTURES / "customUI.xml").read_bytes()
    with pyopenvba.ExcelFile(out) as wb:
        modules = wb.vba_modules()
    assert 'MsgBox "Cobranza XL"' in modules["Cobranza"]
    assert build(tmp_path / "con2.xlsm", vba_dir=FIXTURES,
                 custom_ui=FIXTURES / "customUI.xml").read_bytes() == out.read_bytes()


def test_without_addin_sources_no_vba_but_still_xlsm(tmp_path):
    out = build(tmp_path / "sin.xlsm", vba_dir=tmp_path / "none", custom_ui=tmp_path / "none.xml")
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        types = zf.read("[Content_Types].xml").decode()
    assert "xl/vbaProject.bin" not in names and UI_PART not in names
    assert XLSM_MAIN in types


def test_libreoffice_converts_the_template_to_pdf(template, tmp_path):
    from tests.lo import convert_to_pdf

    pdf = convert_to_pdf(template, tmp_path)
    assert pdf.read_bytes()[:5] == b"%PDF-"


def test_sin_contacto_says_when_we_tried_and_how_to_reach_the_collector():
    texts = {code: (subject, body) for code, subject, body, _ in load_templates()}
    subject, body = texts["SIN_CONTACTO"]
    assert render_text(subject, CONTEXT) == ("Intentamos comunicarnos con usted: facturas "
                                             "F-000001 y F-000002")
    not_due = InvoiceView("F-000003", "GAZ010101AB1", "20/11/2026", "05/12/2026", -10,
                          "$3,000.00 MXN", "MXN", "", "Por vencer", "")
    one = {**CONTEXT, "facturas": [not_due]}
    ending = (", o bien responder a este mensaje, para confirmar la fecha de pago o aclarar "
              "cualquier duda.")
    assert render_text(body, one) == (
        "El 24/11/2026 intentamos comunicarnos con usted, sin lograrlo, para dar seguimiento "
        "a la siguiente factura:\n\n"
        "- Factura F-000003, vence el 05/12/2026: $3,000.00 MXN\n\n"
        "Le agradeceremos comunicarse con Ana López, responsable de su cuenta, al teléfono "
        f"+52 55 5201 4410 o al correo ana.lopez@aceros-demo.mx{ending}")
    last = {  # what the collector's contact says, by what Cobradores holds
        ("Ana López", "ana@x.mx", ""): f"con Ana López, responsable de su cuenta, al correo "
                                       f"ana@x.mx{ending}",
        ("Ana López", "", "55 1234"): f"con Ana López, responsable de su cuenta, al teléfono "
                                      f"55 1234{ending}",
        ("Ana López", "", ""): f"con Ana López, responsable de su cuenta{ending}",
        ("", "", ""): "Le agradeceremos responder a este mensaje para confirmar la fecha de "
                      "pago o aclarar cualquier duda.",
    }
    for contact, said in last.items():
        text = render_text(body, {**CONTEXT, "cobrador": CollectorView(*contact)})
        assert text.startswith("El 24/11/2026 intentamos comunicarnos con usted, sin lograrlo, "
                               "para dar seguimiento a las siguientes facturas:\n\n"
                               "- Factura F-000001, vencida el 24/11/2026: $15,230.00 MXN\n"
                               "- Factura F-000002, vencida el 24/11/2026: $1,200.50 USD\n\n")
        assert text.endswith(said), contact
