"""read_book on small real workbooks: exact frames, exact Errores messages."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from cobranza.book.records import RESULTS
from cobranza.book.validate import CONFIG_SHEET, SHEETS, Validation, validate
from sync.xlsx.reader import read_book
from tests.test_reader import write_book

CLIENTES = ["Cliente", "Nombre", "Email", "Email CC", "Teléfono", "Segmento",
            "Límite de crédito", "Cobrador", "Avisos automáticos", "Zona horaria", "Tercero"]
FACTURAS = ["Factura", "Cliente", "Emisión", "Vencimiento", "Moneda", "Importe", "Notas",
            "Saldo", "Días vencidos", "Estatus", "Extra"]
PAGOS = ["Fecha", "Cliente", "Factura", "Importe", "Referencia"]
GESTIONES = ["Fecha", "Cobrador", "Cliente", "Factura", "Resultado", "Fecha compromiso", "Área",
             "Comentario", "Seguimiento"]
CONFIG_HEADER = ["Parámetro", "Valor", None, "Cobrador", "Email", None, "Área", "Responsable",
                 "Email", None, "Código", "Referencia", "Días", "Plantilla", "Activo"]


def good_sheets() -> dict[str, list[list]]:
    return {
        "Clientes": [
            CLIENTES,
            ["C1", "Ferretería Uno", "Pagos@Uno.com; admin@uno.com", None, 5551234, "VIP",
             "1.500,50", "Ana", None, None, None],
            ["C2", "Dos SA", "dos@dos.mx", "cc@dos.mx", None, None, 20000, "Beto", "No",
             "America/Lima", "Despacho Ruiz"],
        ],
        "Facturas": [
            FACTURAS,
            ["F1", "C1", date(2026, 1, 5), "05/02/2026", None, "1.234,56", "nota", 999, 5,
             "Vencida", "x"],
            ["F2", "C2", 46050, "2026-03-01", "usd", 100, None, None, None, None, None],
            [1003, "C1", None, datetime(2026, 3, 10, 15, 0), "CLP", 1500, None, None, None,
             None, None],
            [None, None, None, None, None, None, None, 0, 0, "Por vencer", None],  # formulas only
        ],
        "Pagos": [
            PAGOS,
            [date(2026, 2, 1), None, "F1", "234,56", "T1"],
            ["15/02/2026", "C2", "F2", 50.5, None],
        ],
        "Gestiones": [
            GESTIONES,
            [date(2026, 2, 10), "Ana", "C1", "F1", "promesa de pago", "20/02/2026", None,
             "llamé", None],
            [date(2026, 2, 11), "Beto", "C2", None, "DISPUTA", None, "Legal", None, "01/03/2026"],
        ],
        "Configuración": [
            CONFIG_HEADER,
            ["Separador decimal", ",", None, "Ana", "ana@miempresa.com", None, "Legal",
             "Lic. Pérez", "legal@miempresa.com", None, "NUEVA", "emisión", 0, None, "Sí"],
            ["Zona horaria", "America/Bogota", None, "Beto", "BETO@miempresa.com", None, None,
             None, None, None, "PREVIO", "Vencimiento", "-5", "PREVIO_2", "No"],
            ["Días acción", 45],
            [],
            ["Nota: esto no es un parámetro"],
        ],
        "Plantillas": [
            ["Código", "Asunto", "Cuerpo", "Aprobada"],
            ["NUEVA", "Nueva factura", "Estimado cliente", "Sí"],
            ["PREVIO", "Su factura vence", "Le recordamos", None],
        ],
    }


def records(frame: pd.DataFrame) -> list[dict]:
    return frame.to_dict("records")


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_good_workbook_gives_exact_typed_frames(tmp_path: Path) -> None:
    book = read_book(write_book(tmp_path / "cobranza.xlsx", good_sheets()))

    assert [e.message() for e in book.errors] == []
    assert book.config.decimal_separator == ","
    assert book.config.timezone == "America/Bogota"
    assert book.config.action_days == 45
    assert records(book.customers) == [
        {"customer": "C1", "name": "Ferretería Uno", "emails": "pagos@uno.com;admin@uno.com",
         "cc": "", "phone": "5551234", "segment": "VIP", "credit_limit": 150050,
         "collector": "Ana", "auto_notices": True, "timezone": "America/Bogota",
         "third_party": "", "country": "", "row": 2},
        {"customer": "C2", "name": "Dos SA", "emails": "dos@dos.mx", "cc": "cc@dos.mx",
         "phone": "", "segment": "", "credit_limit": 2000000, "collector": "Beto",
         "auto_notices": False, "timezone": "America/Lima", "third_party": "Despacho Ruiz",
         "country": "", "row": 3},
    ]
    assert records(book.invoices) == [
        {"invoice": "F1", "customer": "C1", "issued": ts("2026-01-05"), "due": ts("2026-02-05"),
         "currency": "MXN", "amount": 123456, "notes": "nota", "row": 2},
        {"invoice": "F2", "customer": "C2", "issued": ts("2026-01-28"), "due": ts("2026-03-01"),
         "currency": "USD", "amount": 10000, "notes": "", "row": 3},
        {"invoice": "1003", "customer": "C1", "issued": pd.NaT, "due": ts("2026-03-10"),
         "currency": "CLP", "amount": 1500, "notes": "", "row": 4},
    ]
    assert records(book.payments) == [
        {"date": ts("2026-02-01"), "customer": "C1", "invoice": "F1", "amount": 23456,
         "reference": "T1", "row": 2},
        {"date": ts("2026-02-15"), "customer": "C2", "invoice": "F2", "amount": 5050,
         "reference": "", "row": 3},
    ]
    assert records(book.contacts) == [
        {"date": ts("2026-02-10"), "collector": "Ana", "customer": "C1", "invoice": "F1",
         "result": "Promesa de pago", "promise_date": ts("2026-02-20"), "area": "",
         "comment": "llamé", "follow_up": pd.NaT, "row": 2},
        {"date": ts("2026-02-11"), "collector": "Beto", "customer": "C2", "invoice": "",
         "result": "Disputa", "promise_date": pd.NaT, "area": "Legal", "comment": "",
         "follow_up": ts("2026-03-01"), "row": 3},
    ]
    assert records(book.collectors) == [
        {"collector": "Ana", "email": "ana@miempresa.com", "phone": "", "row": 2},
        {"collector": "Beto", "email": "beto@miempresa.com", "phone": "", "row": 3},
    ]
    assert records(book.areas) == [
        {"area": "Legal", "owner": "Lic. Pérez", "email": "legal@miempresa.com", "row": 2},
    ]
    assert records(book.notices) == [
        {"code": "NUEVA", "reference": "emision", "days": 0, "template": "NUEVA",
         "active": True, "row": 2},
        {"code": "PREVIO", "reference": "vencimiento", "days": -5, "template": "PREVIO_2",
         "active": False, "row": 3},
    ]
    assert records(book.templates) == [
        {"code": "NUEVA", "subject": "Nueva factura", "body": "Estimado cliente",
         "approved": True, "row": 2},
        {"code": "PREVIO", "subject": "Su factura vence", "body": "Le recordamos",
         "approved": False, "row": 3},
    ]


def test_frames_have_the_contract_dtypes(tmp_path: Path) -> None:
    book = read_book(write_book(tmp_path / "cobranza.xlsx", good_sheets()))
    dtypes = {c: str(t) for c, t in book.invoices.dtypes.items()}
    assert dtypes == {"invoice": "str", "customer": "str", "issued": "datetime64[ns]",
                      "due": "datetime64[ns]", "currency": "str", "amount": "int64",
                      "notes": "str", "row": "int64"}
    assert str(book.customers["credit_limit"].dtype) == "Int64"
    assert str(book.customers["auto_notices"].dtype) == "bool"
    assert str(book.payments["amount"].dtype) == "int64"
    assert str(book.notices["days"].dtype) == "int64"
    assert str(book.contacts["follow_up"].dtype) == "datetime64[ns]"


def bad_sheets() -> dict[str, list[list]]:
    sheets = good_sheets()
    sheets["Configuración"] = [
        CONFIG_HEADER,
        ["Separador decimal", ".", None, "Ana", "ana@", None, None, None, None, None,
         "X1", "emisión", "cinco", None, None],
        ["Solo días hábiles", "tal vez", None, None, None, None, None, None, None, None,
         "X2", "pago", 3, None, None],
        [None, None, None, None, None, None, None, None, None, None, "X3", "mes", 1.5, None,
         "Quizá"],
    ]
    sheets["Clientes"] = [
        CLIENTES,
        ["C1", "Uno", "uno@uno.com", None, None, None, None, "Ana", None, None, None],
        ["C1", "Uno bis", "otro@uno.com", None, None, None, None, "Ana", None, None, None],
        ["C3", "Tres", "malo@; c3@x.com", "cc.sin.arroba", None, None, "-5", "Ana", "Quizá",
         "Marte/Base", None],
        [None, "Sin código", None, None, None, None, "mucho", None, None, None, None],
    ]
    sheets["Facturas"] = [
        FACTURAS,
        ["F1", "C1", None, "31/02/2026", None, 100, None],
        ["F2", "C1", None, "01/03/2026", None, -100, None],
        ["F3", "C1", None, "01/03/2026", None, "mil", None],
        ["F4", "C1", None, None, None, 100, None],
        ["F5", "C9", None, "01/03/2026", None, 100, None],
        ["F6", "C1", None, "01/03/2026", None, 100, None],
        ["F6", "C3", None, "01/04/2026", None, 200, None],
        ["F7", "C1", "10/03/2026", "01/03/2026", None, 100, None],
        ["F8", "C3", None, "01/03/2026", "pesos", 100, None],
        ["F9", "C3", None, "01/03/2026", None, 100, None],
    ]
    sheets["Pagos"] = [
        PAGOS,
        [date(2026, 2, 1), None, "F99", 10, None],
        [date(2026, 2, 1), "C3", "F6", 10, None],
        ["ayer", None, "F6", 10, None],
        [date(2026, 2, 1), None, "F6", 10, None],
        [date(2026, 2, 1), None, "F1", 10, None],
        [date(2026, 2, 1), "C7", "F9", 10, None],
    ]
    sheets["Gestiones"] = [
        GESTIONES,
        [date(2026, 2, 1), "Ana", "C1", "F6", "Promesa", None, None, None, None],
        [date(2026, 2, 1), "Ana", "C1", "F6", "Promesa de pago", None, None, None, None],
        [date(2026, 2, 1), "Ana", "C9", None, "Sin contacto", None, None, None, None],
        [date(2026, 2, 1), "Ana", "C1", "F9", "Sin contacto", None, None, None, None],
        [date(2026, 2, 1), "Ana", "C1", None, "sin contacto", None, None, None, "2026-02-30"],
        [date(2026, 2, 1), "Ana", "C1", "F6", "sin contacto", None, None, None, None],
    ]
    return sheets


EXPECTED_ERRORS = [
    'Clientes, fila 3, Cliente: "C1" está repetido; vale la fila 2 y esta se omite.',
    'Clientes, fila 4, Email: "malo@" no es una dirección de correo válida '
    '(use nombre@dominio.com; separe varias con ";").',
    'Clientes, fila 4, Email CC: "cc.sin.arroba" no es una dirección de correo válida '
    '(use nombre@dominio.com; separe varias con ";").',
    'Clientes, fila 4, Límite de crédito: "-5" no puede ser negativo '
    "(escriba el importe sin signo, por ejemplo 1,234.56).",
    'Clientes, fila 4, Avisos automáticos: "Quizá" no es Sí ni No (use Sí o No); '
    "mientras tanto no se envían avisos automáticos al cliente.",
    'Clientes, fila 4, Zona horaria: "Marte/Base" no es una zona horaria IANA '
    "(por ejemplo America/Mexico_City); se usa la de Configuración (America/Mexico_City).",
    "Clientes, fila 5, Cliente: falta el dato (obligatorio).",
    'Clientes, fila 5, Límite de crédito: "mucho" no es un importe válido '
    "(use números, por ejemplo 1,234.56).",
    'Facturas, fila 2, Vencimiento: "31/02/2026" no es una fecha válida (use dd/mm/aaaa).',
    'Facturas, fila 3, Importe: "-100" no puede ser negativo '
    "(escriba el importe sin signo, por ejemplo 1,234.56).",
    'Facturas, fila 4, Importe: "mil" no es un importe válido (use números, por ejemplo 1,234.56).',
    "Facturas, fila 5, Vencimiento: falta el dato (obligatorio; use dd/mm/aaaa).",
    'Facturas, fila 6, Cliente: "C9" no existe en la hoja Clientes '
    "(agréguelo allí o corrija el código).",
    'Facturas, fila 8, Factura: "F6" está repetida; vale la fila 7 y esta se omite.',
    'Facturas, fila 9, Vencimiento: "01/03/2026" es anterior a la Emisión (10/03/2026); '
    "revise ambas fechas.",
    'Facturas, fila 10, Moneda: "pesos" no es un código de moneda '
    "(use un código ISO 4217 de tres letras, por ejemplo MXN o USD).",
    'Pagos, fila 2, Factura: "F99" no existe en la hoja Facturas '
    "(agréguela allí o corrija el código).",
    'Pagos, fila 3, Cliente: "C3" no coincide con el cliente de la factura F6 ("C1"); '
    "corrija uno de los dos o deje el Cliente vacío.",
    'Pagos, fila 4, Fecha: "ayer" no es una fecha válida (use dd/mm/aaaa).',
    'Pagos, fila 6, Factura: "F1" tiene errores en la hoja Facturas '
    "(corríjalos primero; vea las otras filas de Errores).",
    'Pagos, fila 7, Cliente: "C7" no existe en la hoja Clientes '
    "(agréguelo allí o corrija el código).",
    'Gestiones, fila 2, Resultado: "Promesa" no es un resultado válido '
    f"(use uno de: {', '.join(RESULTS)}).",
    'Gestiones, fila 3, Fecha compromiso: falta el dato (obligatorio cuando el Resultado es '
    '"Promesa de pago"; use dd/mm/aaaa).',
    'Gestiones, fila 4, Cliente: "C9" no existe en la hoja Clientes '
    "(agréguelo allí o corrija el código).",
    'Gestiones, fila 5, Cliente: "C1" no coincide con el cliente de la factura F9 ("C3"); '
    "corrija uno de los dos o deje el Cliente vacío.",
    'Gestiones, fila 6, Seguimiento: "2026-02-30" no es una fecha válida (use dd/mm/aaaa).',
    'Configuración, fila 2, Email: "ana@" no es una dirección de correo válida '
    '(use nombre@dominio.com; separe varias con ";").',
    'Configuración, fila 2, Días: "cinco" no es un número entero de días (por ejemplo -5, 0 o 15).',
    'Configuración, fila 3, Valor: "tal vez" no es válido para Solo días hábiles: use Sí o No; '
    "se usa Sí.",
    'Configuración, fila 3, Referencia: "pago" no es una referencia válida '
    "(use emisión, vencimiento, compromiso, gestión, mes o cuota).",
    'Configuración, fila 4, Días: "1.5" no es un número entero de días (por ejemplo -5, 0 o 15).',
    'Configuración, fila 4, Activo: "Quizá" no es Sí ni No (use Sí o No); '
    "mientras tanto el aviso queda inactivo.",
]


def test_every_bad_input_is_one_exact_error(tmp_path: Path) -> None:
    book = read_book(write_book(tmp_path / "malo.xlsx", bad_sheets()))
    assert [e.message() for e in book.errors] == EXPECTED_ERRORS


def test_bad_rows_are_dropped_and_the_rest_kept(tmp_path: Path) -> None:
    book = read_book(write_book(tmp_path / "malo.xlsx", bad_sheets()))
    assert book.customers[["customer", "emails", "cc", "auto_notices", "timezone"]].to_dict(
        "records") == [
        {"customer": "C1", "emails": "uno@uno.com", "cc": "", "auto_notices": True,
         "timezone": "America/Mexico_City"},
        {"customer": "C3", "emails": "c3@x.com", "cc": "", "auto_notices": False,
         "timezone": "America/Mexico_City"},
    ]
    assert book.customers["credit_limit"].isna().tolist() == [True, True]
    assert book.invoices["invoice"].tolist() == ["F6", "F9"]
    assert book.payments[["invoice", "customer", "row"]].to_dict("records") == [
        {"invoice": "F6", "customer": "C1", "row": 5},
    ]
    assert book.contacts["row"].tolist() == [7]
    assert book.collectors.to_dict("records") == [
        {"collector": "Ana", "email": "", "phone": "", "row": 2}]
    assert book.notices[["code", "active", "row"]].to_dict("records") == []
    assert book.config.business_days_only is True


def test_missing_optional_sheets_use_defaults(tmp_path: Path) -> None:
    sheets = good_sheets()
    del sheets["Configuración"], sheets["Plantillas"]
    sheets["Clientes"][1][6] = 1500.5  # no Configuración: "." is the decimal separator
    sheets["Facturas"][1][5] = 1234.56
    sheets["Pagos"][1][3] = 234.56
    book = read_book(write_book(tmp_path / "cobranza.xlsx", sheets))
    assert [e.message() for e in book.errors] == [
        "Configuración: la hoja no existe; se usan los valores predeterminados "
        "(agréguela o use la plantilla: cobranza init).",
        "Plantillas: la hoja no existe, así que no hay textos para los avisos a clientes y no "
        "se envía ninguno (agréguela o use la plantilla: cobranza init).",
    ]
    assert book.config.timezone == "America/Mexico_City"
    assert book.customers["timezone"].tolist() == ["America/Mexico_City", "America/Lima"]
    assert book.notices["code"].tolist() == [
        "NUEVA", "PREVIO", "VENCIDA_1", "VENCIDA_15", "VENCIDA_30", "MORA_45", "SUSPENSION_60",
        "PROMESA_PREVIA", "PROMESA_INCUMPLIDA", "ESTADO_MENSUAL", "SIN_CONTACTO",
        "CUOTA_PREVIA", "CUOTA_VENCIDA",
    ]
    assert book.notices["days"].tolist() == [0, -5, 1, 15, 30, 45, 60, -1, 1, 1, 0, -3, 1]
    assert book.notices["active"].all()
    assert book.templates.empty and list(book.templates.columns) == [
        "code", "subject", "body", "approved", "row"]
    assert book.collectors.empty and book.areas.empty


def test_incomplete_configuration_and_templates_are_sheet_errors(tmp_path: Path) -> None:
    sheets = good_sheets()
    sheets["Configuración"] = [
        ["Cobrador", "Email", None, "Código", "Referencia", "Plantilla"],
        ["Ana", "ana@x.com", None, "NUEVA", "emisión", None],
    ]
    sheets["Plantillas"] = [["Código", "Asunto"], ["NUEVA", "Hola"]]
    sheets["Clientes"][1][6] = 1500.5
    sheets["Facturas"][1][5] = 1234.56
    sheets["Pagos"][1][3] = 234.56
    book = read_book(write_book(tmp_path / "cobranza.xlsx", sheets))
    assert [e.message() for e in book.errors] == [
        "Configuración: no tiene la tabla con los encabezados Parámetro, Valor en la fila 1; "
        "se usan los valores predeterminados.",
        "Configuración: no tiene la tabla con los encabezados Área, Responsable, Email en la "
        "fila 1; no hay responsables de área para los resúmenes.",
        'Configuración: la tabla Avisos no tiene la columna "Días"; se usan los avisos '
        "predeterminados.",
        'Plantillas: no tiene la columna "Cuerpo", así que no se usa ninguna plantilla '
        "(agréguela o use la plantilla: cobranza init).",
    ]
    assert book.collectors.to_dict("records") == [
        {"collector": "Ana", "email": "ana@x.com", "phone": "", "row": 2}]
    assert len(book.notices) == 13 and book.templates.empty


wild_cell = st.one_of(
    st.none(), st.text(max_size=12), st.sampled_from(["C1", "F1", "", "Disputa", "01/02/2026"]),
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**6, 10**6), st.booleans(),
    st.dates(), st.datetimes(),
)


@settings(max_examples=20, deadline=None)
@given(st.lists(st.lists(wild_cell, min_size=6, max_size=6), max_size=6))
@example([["0", "0", None, 1.797693134862316e306, None, None]])  # amount x100 overflowed
def test_validate_never_raises_on_wild_cells(rows: list[list]) -> None:
    def frame(headers: list[str]) -> pd.DataFrame:
        data = [r[: len(headers)] + [i + 2] for i, r in enumerate(rows)]
        return pd.DataFrame(data, columns=[*headers, "row"], dtype=object)

    raw = {
        "Clientes": frame(["Cliente", "Nombre", "Email", "Límite de crédito", "Zona horaria",
                           "Avisos automáticos"]),
        "Facturas": frame(["Factura", "Cliente", "Emisión", "Vencimiento", "Moneda", "Importe"]),
        "Pagos": frame(["Fecha", "Cliente", "Factura", "Importe", "Referencia"]),
        "Gestiones": frame(["Fecha", "Cliente", "Factura", "Resultado", "Fecha compromiso",
                            "Seguimiento"]),
        "Configuración": frame(["Parámetro", "Valor", "", "Código", "Referencia", "Días"]),
        "Plantillas": frame(["Código", "Asunto", "Cuerpo", "Aprobada"]),
    }
    book = validate(raw)
    assert book.invoices["amount"].dtype == "int64"
    assert not book.invoices["invoice"].duplicated().any()
    assert book.payments["invoice"].isin(book.invoices["invoice"]).all()
    assert all(isinstance(e.message(), str) for e in book.errors)


def test_an_amount_too_large_for_any_invoice_is_one_error_and_the_run_goes_on() -> None:
    raw = {
        "Clientes": pd.DataFrame({"Cliente": ["C1", "C2"], "Nombre": ["A", "B"],
                                  "Límite de crédito": [1e300, 500], "row": [2, 3]}, dtype=object),
        "Facturas": pd.DataFrame({"Factura": ["F1", "F2"], "Cliente": ["C1", "C2"],
                                  "Emisión": [date(2026, 1, 1)] * 2,
                                  "Vencimiento": [date(2026, 2, 1)] * 2,
                                  "Importe": [2e15, 100], "row": [2, 3]}, dtype=object),
    }
    book = validate(raw)
    assert [e.message() for e in book.errors if e.sheet in ("Clientes", "Facturas")] == [
        'Clientes, fila 2, Límite de crédito: "1e+300" es demasiado grande para un importe '
        "(revise los dígitos).",
        'Facturas, fila 2, Importe: "2000000000000000" es demasiado grande para un importe '
        "(revise los dígitos).",
    ]
    assert book.invoices["invoice"].tolist() == ["F2"]
    assert book.invoices["amount"].tolist() == [10000]
    assert book.customers["customer"].tolist() == ["C1", "C2"]  # a bad limit only blanks it


def test_sheets_added_in_any_order_give_the_same_book(tmp_path: Path) -> None:
    """The reader adds Facturas last (parsed meanwhile in a worker thread): the Book and
    its Errores rows are those of validating every sheet at once, whatever the order."""
    from sync.xlsx.reader import read_raw

    for sheets in (good_sheets(), bad_sheets()):
        raw = read_raw(write_book(tmp_path / "libro.xlsx", sheets))
        whole = validate(raw)
        data = [s for s in SHEETS if s != CONFIG_SHEET]
        for order in (data, data[::-1], [s for s in data if s != "Facturas"] + ["Facturas"]):
            validation = Validation(raw.get(CONFIG_SHEET))
            for sheet in order:
                validation.add(sheet, raw.get(sheet))
            book = validation.book()
            assert book.errors == whole.errors
            for name in ("customers", "invoices", "payments", "contacts", "collectors",
                         "areas", "notices", "templates"):
                pd.testing.assert_frame_equal(getattr(book, name), getattr(whole, name))


def test_pais_is_a_country_the_holiday_calendar_knows(tmp_path: Path) -> None:
    """País: any case and spaces accepted; an unknown code is one Errores row and the
    customer stays, with Configuración's Perfil legal and País feriados (blank País)."""
    sheets = good_sheets()
    sheets["Clientes"][0] = [*sheets["Clientes"][0], "País"]
    sheets["Clientes"][1] = [*sheets["Clientes"][1], " co "]
    sheets["Clientes"][2] = [*sheets["Clientes"][2], "Perú"]
    sheets["Clientes"].append(["C3", "Tres SA", "tres@tres.cl", None, None, None, None, "Ana",
                               None, None, None, None])
    book = read_book(write_book(tmp_path / "paises.xlsx", sheets))
    assert [e.message() for e in book.errors] == [
        'Clientes, fila 3, País: "Perú" no es un código de país (use el código ISO de dos '
        "letras, por ejemplo MX, CO, CL, PE, AR o US); mientras tanto se usan el Perfil legal "
        "(MX) y los feriados de País feriados (MX) de Configuración."]
    assert book.customers[["customer", "country"]].values.tolist() == [
        ["C1", "CO"], ["C2", ""], ["C3", ""]]


def test_a_plan_is_in_the_one_currency_of_the_invoices_it_covers(tmp_path: Path) -> None:
    """Listed Facturas, or every invoice of the customer when Facturas is blank: one
    currency is the plan's, several or none are one Errores row each."""
    sheets = good_sheets()  # C1: F1 in MXN and 1003 in CLP; C2: F2 in USD
    sheets["Clientes"].append(["C3", "Tres SA", "tres@tres.mx", None, None, None, None, "Ana",
                               None, None, None])
    due = datetime(2026, 4, 1)
    sheets["Convenios"] = [
        ["Convenio", "Cliente", "Facturas", "Fecha", "Cuota", "Vencimiento cuota",
         "Importe cuota", "Estado"],
        ["CV1", "C1", None, datetime(2026, 3, 1), 1, due, 100, None],
        ["CV2", "C1", "F1", datetime(2026, 3, 1), 1, due, 100, None],
        ["CV3", "C2", None, datetime(2026, 3, 1), 1, due, 10.5, None],
        ["CV4", "C3", None, datetime(2026, 3, 1), 1, due, 100, None],
        ["CV5", "C1", "1003", datetime(2026, 3, 1), 1, due, 100.5, None],
    ]
    book = read_book(write_book(tmp_path / "convenios.xlsx", sheets))
    assert [e.message() for e in book.errors if e.sheet == "Convenios"] == [
        "Convenios, fila 2, Facturas: cubre facturas en varias monedas (CLP, MXN); haga un "
        "convenio por moneda e indique sus Facturas.",
        "Convenios, fila 5, Facturas: el cliente no tiene facturas en la hoja Facturas; el "
        "convenio no cubre nada (revise el Cliente).",
        'Convenios, fila 6, Importe cuota: "100.5" tiene más decimales de los que admite CLP '
        "(sin decimales); escriba el importe exacto, por ejemplo 100 o 101.",
    ]
    assert book.plans[["plan", "currency", "amount"]].values.tolist() == [
        ["CV2", "MXN", 10000], ["CV3", "USD", 1050]]


def test_the_rows_the_validation_matched_are_those_hashing_would_find(
        tmp_path: Path) -> None:
    """`Book.key_rows` spares a hash of every Factura and Cliente: the same numbers."""
    from dataclasses import replace

    for sheets in (good_sheets(), bad_sheets()):
        book = read_book(write_book(tmp_path / "libro.xlsx", sheets))
        assert book.key_rows is not None
        hashed = replace(book, key_rows=None)
        codes, (paid_to, named) = book._facturas
        assert codes.tolist() == hashed._facturas[0].tolist()
        assert [paid_to.tolist(), named.tolist()] == [w.tolist() for w in hashed._facturas[1]]
        codes, customers = book.invoice_customers
        assert codes.tolist() == hashed.invoice_customers[0].tolist()
        assert customers.equals(hashed.invoice_customers[1])


def test_sorted_codes_number_the_named_texts_as_a_sorted_factorize_does() -> None:
    from cobranza.book.positions import sorted_codes

    keys = pd.Series(["C10", "b", "C2", "Á", "a", "C1", "z"], dtype="str")
    rows = np.array([2, 0, 2, 5, 3, 0, 4])
    codes, texts = sorted_codes(keys, rows)
    expected, uniques = pd.factorize(keys.to_numpy(dtype=object)[rows], sort=True)
    assert codes.tolist() == expected.tolist()
    assert texts.tolist() == list(uniques)
