"""One currency rule for Facturas `Moneda` and Configuración `Moneda` (issue 11).

Before: Configuración `Moneda = pesos` was taken as is, and every invoice with a blank
Moneda was dropped with an Errores row that blamed its (blank) Facturas cell. Now the bad
Configuración value is one Errores row on its Valor cell naming the valid choice, MXN is
used, and those invoices are processed. A real workbook (`cobranza init` + typed rows), a
real `cobranza sync` and a real SMTP server.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from cobranza.book.config import parse_config
from cobranza.book.money import currency_code
from cobranza.book.validate import CELL_PARSERS
from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows, set_cells

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
HINT = "use un código ISO 4217 de tres letras, por ejemplo MXN o USD"


def test_a_bad_configured_currency_is_reported_once_and_mxn_is_used(tmp_path):
    book = create_workbook(tmp_path / "cobranza.xlsm")
    invoice = {"Cliente": "C1", "Emisión": datetime(2026, 11, 1),
               "Vencimiento": datetime(2026, 11, 24)}
    append_rows(book, {
        "Clientes": [{"Cliente": "C1", "Nombre": "Uno", "Email": "pagos@uno.mx"}],
        "Facturas": [{**invoice, "Factura": "F1", "Importe": 1500.0},  # blank Moneda
                     {**invoice, "Factura": "F2", "Moneda": "usd", "Importe": 10.0},
                     {**invoice, "Factura": "F3", "Moneda": "MNX", "Importe": 20.0}],
    })
    set_cells(book, "Configuración", ("Parámetro", "Moneda"), {"Valor": "pesos"})
    with SmtpTestServer() as server:
        sync(book, "2026-11-25T10:00", server)
        received = server.received()

    moneda_row = next(i for i, r in enumerate(table(book, "Configuración", "Parámetro"), 2)
                      if r[0] == "Moneda")
    assert [tuple(r) for r in table(book, "Errores", "Hoja")] == [
        ("Facturas", 4, "Moneda", "MNX", f"no es un código de moneda ({HINT})."),
        ("Configuración", moneda_row, "Valor", "pesos",
         f"no es válido para Moneda: no es un código de moneda ({HINT}); se usa MXN."),
    ]
    assert [m.rcpt_tos for m in received] == [("pagos@uno.mx",)]
    lines = [ln for ln in received[0].body().splitlines() if ln.startswith("- Factura")]
    assert lines == ["- Factura F1, vencida el 24/11/2026: $1,500.00 MXN",
                     "- Factura F2, vencida el 24/11/2026: $10.00 USD"]


CASES = [  # typed text -> the code it names (None: not a currency)
    ("MXN", "MXN"), ("usd", "USD"), (" clp ", "CLP"), ("Cop", "COP"), ("pesos", None),
    ("MNX", None), ("US", None), ("USDT", None), ("$", None), ("XAU", None), ("M X", None),
]


@pytest.mark.parametrize(("text", "code"), CASES)
def test_facturas_and_configuracion_apply_the_same_rule(text, code):
    assert currency_code(text) == code
    config, issues = parse_config({"Moneda": text})
    assert (config.default_currency, bool(issues)) == (code or "MXN", code is None)
    parsed = CELL_PARSERS["currency"](pd.Series([text], dtype=object), config)
    assert (parsed.values.iat[0] if not parsed.bad.iat[0] else None) == code
