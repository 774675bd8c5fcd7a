"""Every sheet, table, column, width, format and validation list of the template.

The builder (`addin.build_template`) only renders what is declared here, so changing the
workbook means changing this file. Header texts are the contract with `sync.xlsx.reader`
(matched through `cobranza.book.records`), so keep them exactly as written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from cobranza.book.config import DEFAULTS, LEGAL_PROFILES
from cobranza.book.records import PLAN_STATES, RESULTS

Kind = Literal["text", "date", "money", "int", "phone"]

YES_NO = ("Sí", "No")
NOTICE_REFERENCES = ("emisión", "vencimiento", "compromiso", "gestión", "mes", "cuota")
# Clientes País: the four legal profiles first, then the rest of Latin America, US and ES
# (any code the holiday calendar knows is valid; Excel's inline list holds 255 characters).
COUNTRIES = ("MX", "CO", "CL", "PE", "AR", "BO", "BR", "CR", "CU", "DO", "EC", "GT", "HN",
             "NI", "PA", "PY", "SV", "UY", "VE", "US", "ES")
# Validation lists cover this many rows below the header, so rows typed later get them.
VALIDATION_ROWS = 20000


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: Kind = "text"
    formula: str = ""  # stored form, e.g. "SALDO(tblFacturas[[#This Row],[Factura]])"
    choices: tuple[str, ...] = ()  # data validation list
    note: str = ""  # an Excel note (comment) on the header cell, for the user


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    first_col: int = 0  # 0-based
    rows: tuple[tuple[object, ...], ...] = ()  # fixed content (Configuración defaults)

    def column(self, header: str) -> Column:
        return next(c for c in self.columns if c.header == header)


@dataclass(frozen=True)
class SheetSpec:
    name: str
    tables: tuple[TableSpec, ...] = ()
    title: str = ""  # output sheets: a title in A1 and nothing else
    hidden: bool = False


# One Python call per recalculation: CALCULO_FACTURAS at CALC_SHEET!A2 spills the five
# formula columns of every invoice, row r of the spill beside row r of tblFacturas (both
# start on sheet row 2), and each formula column reads its column by row position.
CALC_SHEET = "_calc"
CUTOFF_NAME = "FechaCorte"  # the defined name of the cut-off date cell on Configuración
CUTOFF_CELL = (0, 17)  # R1: "Fecha de corte" label, the date below it in R2
CALC_FORMULA = (
    "CALCULO_FACTURAS(tblFacturas[Factura],tblFacturas[Vencimiento],FechaCorte,"
    "tblClientes,tblPagos,tblGestiones,tblParametros,tblAvisos,tblConvenios)"
)
CALC_HEADERS = ("Saldo", "Días vencidos", "Estatus", "Tramo", "Próximo aviso")


def _calc_read(header: str) -> str:
    """A formula column's read of its column of the spill, at the row of the cell (an
    empty spill cell reads as "" rather than Excel's 0; without Python, as in LibreOffice
    after a recalculation, the cell is blank instead of an error in every row)."""
    letter = "ABCDE"[CALC_HEADERS.index(header)]
    cell = f"INDEX({CALC_SHEET}!${letter}:${letter},ROW())"
    return f'IFERROR(IF({cell}="","",{cell}),"")'


CLIENTES = TableSpec(
    "tblClientes",
    (
        Column("Cliente", 16),
        Column("Nombre", 42),
        Column("Email", 36),
        Column("Email CC", 30),
        Column("Teléfono", 18, "phone"),
        Column("Segmento", 14),
        Column("Límite de crédito", 18, "money"),
        Column("Cobrador", 20),
        Column("Avisos automáticos", 12, choices=YES_NO),
        Column("Zona horaria", 22),
        Column("Tercero", 30),
        Column("País", 8, choices=COUNTRIES),
    ),
)

FACTURAS = TableSpec(
    "tblFacturas",
    (
        Column("Factura", 14),
        Column("Cliente", 16),
        Column("Emisión", 12, "date"),
        Column("Vencimiento", 13, "date"),
        Column("Moneda", 9),
        Column("Importe", 16, "money"),
        Column("Notas", 28),
        Column("Saldo", 16, "money", _calc_read("Saldo")),
        Column("Días vencidos", 10, "int", _calc_read("Días vencidos")),
        Column("Estatus", 18, formula=_calc_read("Estatus")),
        Column("Tramo", 11, formula=_calc_read("Tramo")),
        Column("Próximo aviso", 24, formula=_calc_read("Próximo aviso")),
    ),
)

PAGOS = TableSpec(
    "tblPagos",
    (
        Column("Fecha", 12, "date"),
        Column("Cliente", 16),
        Column("Factura", 14),
        Column("Importe", 16, "money"),
        Column("Referencia", 24),
    ),
)

GESTIONES = TableSpec(
    "tblGestiones",
    (
        Column("Fecha", 12, "date"),
        Column("Cobrador", 20),
        Column("Cliente", 16),
        Column("Factura", 14),
        Column("Resultado", 20, choices=RESULTS),
        Column("Fecha compromiso", 14, "date"),
        Column("Área", 14),
        Column("Comentario", 48),
        Column("Seguimiento", 13, "date"),
    ),
)

# The SPEC's default notices: (Código, Referencia, Días, Plantilla, Activo).
NOTICES: tuple[tuple[str, str, int], ...] = (
    ("NUEVA", "emisión", 0),
    ("PREVIO", "vencimiento", -5),
    ("VENCIDA_1", "vencimiento", 1),
    ("VENCIDA_15", "vencimiento", 15),
    ("VENCIDA_30", "vencimiento", 30),
    ("MORA_45", "vencimiento", 45),
    ("SUSPENSION_60", "vencimiento", 60),
    ("PROMESA_PREVIA", "compromiso", -1),
    ("PROMESA_INCUMPLIDA", "compromiso", 1),
    ("ESTADO_MENSUAL", "mes", 1),  # first business day of the month
    ("SIN_CONTACTO", "gestión", 0),  # the day of a gestión "Sin contacto"
    ("CUOTA_PREVIA", "cuota", -3),  # before each Vencimiento cuota of a current plan
    ("CUOTA_VENCIDA", "cuota", 1),  # the day after, while the instalment is unpaid
)

CONVENIOS = TableSpec(
    "tblConvenios",
    (
        Column("Convenio", 14),
        Column("Cliente", 16),
        Column("Facturas", 30, note="Facturas del convenio separadas por ; (en blanco: todas "
               "las facturas del cliente abiertas en la Fecha)."),
        Column("Fecha", 12, "date"),
        Column("Cuota", 8, "int"),
        Column("Vencimiento cuota", 14, "date"),
        Column("Importe cuota", 16, "money"),
        Column("Estado", 12, choices=PLAN_STATES),
    ),
)

PARAMETROS = TableSpec(
    "tblParametros",
    (Column("Parámetro", 26), Column("Valor", 38)),
    first_col=0,
    rows=tuple((label, value) for label, value in DEFAULTS.items()),
)
COBRADORES = TableSpec(
    "tblCobradores",
    (Column("Cobrador", 22), Column("Email", 34), Column("Teléfono", 18, "phone")),
    first_col=3,
)
AREAS = TableSpec(
    "tblAreas", (Column("Área", 16), Column("Responsable", 24), Column("Email", 34)), first_col=7
)
AVISOS = TableSpec(
    "tblAvisos",
    (
        Column("Código", 22),
        Column("Referencia", 14, choices=NOTICE_REFERENCES),
        Column("Días", 7, "int"),
        Column("Plantilla", 22),
        Column("Activo", 8, choices=YES_NO),
    ),
    first_col=11,
    rows=tuple((code, ref, days, code, "Sí") for code, ref, days in NOTICES),
)
# Configuración values with a fixed list, validated on the Valor cell of their row.
PARAMETER_CHOICES: dict[str, tuple[str, ...]] = {
    "Perfil legal": LEGAL_PROFILES,
    "Solo días hábiles": YES_NO,
}

# The variables of `cobranza.rendering.render` (VARIABLES, InvoiceView), as the user reads
# them on the Plantillas sheet (README "Variables de las plantillas" says the same).
TEMPLATE_VARIABLES_NOTE = """Variables de las plantillas (escríbalas entre {{ }}):
empresa, remitente, fecha_corte, destinatario
cliente.codigo, cliente.nombre
facturas: en {% for f in facturas %} cada factura f tiene f.factura, f.emision, \
f.vencimiento, f.dias_vencidos, f.saldo, f.moneda, f.fecha_compromiso, f.estatus, \
f.detalle, f.enlace_pago (su enlace de pago), f.pronto_pago (importe con descuento por \
pronto pago, vacío fuera de plazo) y f.fecha_pronto_pago (último día para pagarlo); \
a lo más 50 por aviso
facturas_mas: cuántas más no se listan (el texto añade "y N facturas más: vea el estado \
de cuenta adjunto" si la plantilla no usa facturas_mas)
totales: por moneda, t.moneda y t.saldo (de todas las facturas)
facturas_asunto: "factura F-1", "facturas F-1 y F-2" o "5 facturas"
cobrador.nombre, cobrador.email, cobrador.telefono (el cobrador del cliente)
fecha_gestion (SIN_CONTACTO: fecha de la gestión Sin contacto)
convenio, cuota, vencimiento_cuota, importe_cuota, saldo_cuota (CUOTA_PREVIA y \
CUOTA_VENCIDA: la cuota del convenio)
De Configuración: razon_social, rfc, domicilio, telefono_cobranza, horario_atencion, \
banco, cuenta, beneficiario, referencia_pago, enlace_pago (para pagar las facturas del \
texto), aviso_privacidad, descuento_pronto_pago ("2%")
Un dato en blanco queda vacío; para omitir su renglón use {% if banco %}...{% endif %}."""

PLANTILLAS = TableSpec(
    "tblPlantillas",
    (
        Column("Código", 26),
        Column("Asunto", 50),
        Column("Cuerpo", 100, note=TEMPLATE_VARIABLES_NOTE),
        Column("Aprobada", 10, choices=YES_NO),
    ),
)

OUTPUT_TITLES = {
    "Alertas": "Alertas de cobranza",
    "Tablero": "Tablero de cobranza",
    "Agenda": "Agenda de llamadas",
    "Cartera": "Cartera de facturas",
    "Riesgo": "Riesgo de pago tardío",
    "Envíos": "Envíos de avisos y resúmenes",
    "Errores": "Errores en los datos",
    "Vista previa": "Vista previa de avisos",
    "Respuestas": "Respuestas de clientes",
}
XLWINGS_SHEET = "xlwings.conf"

INPUT_SHEETS = (
    SheetSpec("Clientes", (CLIENTES,)),
    SheetSpec("Facturas", (FACTURAS,)),
    SheetSpec("Pagos", (PAGOS,)),
    SheetSpec("Gestiones", (GESTIONES,)),
    SheetSpec("Configuración", (PARAMETROS, COBRADORES, AREAS, AVISOS)),
    SheetSpec("Plantillas", (PLANTILLAS,)),
    SheetSpec("Convenios", (CONVENIOS,)),
)
OUTPUT_SHEETS = tuple(SheetSpec(name, title=title) for name, title in OUTPUT_TITLES.items())
SHEETS = (*INPUT_SHEETS, *OUTPUT_SHEETS, SheetSpec(XLWINGS_SHEET, hidden=True),
          SheetSpec(CALC_SHEET, hidden=True))
