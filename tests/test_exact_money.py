"""Exact money in, or an error (issue 12): an Importe or a Límite de crédito with more
decimals than its currency allows is an Errores row, never silently rounded.

"More decimals" is read on the number as Excel keeps it, 15 significant digits: the
double a user gets by typing 10.05 (10.0499999999999998…) or by =0.1+0.2
(0.30000000000000004) is exact, a real third decimal (10.005 MXN) or any decimal of a
peso chileno (100.5 CLP) is not. The vectorized rule has its plain twin here (the
decimal text of the number to 15 digits), compared by hypothesis.
"""

from __future__ import annotations

import sys
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
import python_calamine
from hypothesis import example, given
from hypothesis import strategies as st

from cobranza.book.money import decimal_text, decimals, excess_decimals, format_amount, to_decimal
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.cli import sync
from tests.smtp_server import SmtpTestServer
from tests.test_reader import write_book
from tests.workbook_edit import append_rows

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]


def excess(amount: float, currency: str) -> bool:
    return bool(excess_decimals(pd.Series([amount]), pd.Series([currency]))[0])


def excess_oracle(amount: float, currency: str) -> bool:
    """The plain twin: the number's decimal text to 15 significant digits (what Excel
    shows) has more decimals than the currency's."""
    exponent = Decimal(f"{amount:.15g}").normalize().as_tuple().exponent
    return isinstance(exponent, int) and exponent < -decimals(currency)


@pytest.mark.parametrize(("amount", "currency", "refused"), [
    (100.5, "CLP", True),
    (100.0, "CLP", False),
    (10.005, "MXN", True),
    (10.05, "MXN", False),
    (10.049999999999999, "MXN", False),  # the double Excel stores for a typed 10.05
    (0.1 + 0.2, "MXN", False),  # =0.1+0.2: 0.30000000000000004, Excel shows 0.3
    (0.001, "USD", True),
    (1234567890123.45, "MXN", False),  # 15 digits, two of them decimals
    (123456789012.345, "MXN", True),  # 15 digits, three of them decimals
    (float("nan"), "MXN", False),  # blank
])
def test_more_decimals_than_the_currency_allows(amount, currency, refused):
    assert excess(amount, currency) is refused
    assert excess_oracle(amount, currency) is refused


@given(st.decimals(min_value=0, max_value=Decimal("9999999999999"), places=3,
                   allow_nan=False, allow_infinity=False),
       st.sampled_from(["MXN", "USD", "CLP", "JPY"]))
@example(Decimal("10.05"), "MXN")
@example(Decimal("0.3"), "MXN")
@example(Decimal("999999999999.998"), "MXN")  # its log10 rounds up to a whole 12
def test_a_typed_amount_is_refused_exactly_when_it_has_extra_decimals(typed, currency):
    """What a user types (at most 15 significant digits) is stored as the nearest double;
    it is refused exactly when its own decimal text has more decimals than allowed."""
    if len(typed.normalize().as_tuple().digits) > 15:
        return  # Excel cannot hold it
    places = -min(typed.normalize().as_tuple().exponent, 0)
    assert excess(float(typed), currency) is (places > decimals(currency))


@given(st.floats(min_value=0, max_value=1e15, allow_nan=False),
       st.sampled_from(["MXN", "CLP"]))
@example(0.1 + 0.2, "MXN")
@example(10.049999999999999, "MXN")
def test_the_vectorized_rule_agrees_with_its_plain_twin(amount, currency):
    assert excess(amount, currency) is excess_oracle(amount, currency)


# ---------------------------------------------------------------- validation

CLIENTES = ["Cliente", "Nombre", "Email", "Límite de crédito"]
FACTURAS = ["Factura", "Cliente", "Vencimiento", "Moneda", "Importe"]
PAGOS = ["Fecha", "Factura", "Importe"]


def sheets(separator: str = ".") -> dict[str, list[list]]:
    comma = separator == ","
    return {
        "Clientes": [CLIENTES, ["C1", "Uno", "uno@uno.mx", 1000.5],
                     ["C2", "Dos", "dos@dos.mx", "1000,505" if comma else 1000.505]],
        "Facturas": [
            FACTURAS,
            ["F-CLP", "C1", date(2026, 11, 1), "CLP", 100.5],
            ["F-CLP-OK", "C1", date(2026, 11, 1), "CLP", 100],
            ["F-MXN", "C1", date(2026, 11, 1), "MXN", "10,005" if comma else 10.005],
            ["F-MXN-OK", "C1", date(2026, 11, 1), "MXN", 10.049999999999999],
            ["F-SUMA", "C2", date(2026, 11, 1), "MXN", 0.1 + 0.2],
        ],
        "Pagos": [
            PAGOS,
            [date(2026, 11, 2), "F-CLP-OK", 50.5],
            [date(2026, 11, 2), "F-MXN-OK", "5,005" if comma else 5.005],
            [date(2026, 11, 2), "F-SUMA", 0.1 + 0.2],
            [date(2026, 11, 2), "F-CLP", 100],  # its invoice was refused
        ],
        "Gestiones": [["Fecha", "Cliente", "Resultado"]],
        "Configuración": [["Parámetro", "Valor"], ["Separador decimal", separator]],
    }


@pytest.mark.parametrize("separator", [".", ","])
def test_amounts_with_extra_decimals_are_errores_rows_never_rounded(tmp_path, separator):
    book = read_book(write_book(tmp_path / "libro.xlsx", sheets(separator)))
    mxn = "2 decimales); escriba el importe exacto, por ejemplo"
    assert [e.message() for e in book.errors if e.row is not None] == [
        f'Clientes, fila 3, Límite de crédito: "{"1000,505" if separator == "," else "1000.505"}"'
        f" tiene más decimales de los que admite MXN ({mxn} 1000{separator}50 o "
        f"1000{separator}51.",
        'Facturas, fila 2, Importe: "100.5" tiene más decimales de los que admite CLP (sin '
        "decimales); escriba el importe exacto, por ejemplo 100 o 101.",
        f'Facturas, fila 4, Importe: "10{separator}005" tiene más decimales de los que admite '
        f"MXN ({mxn} 10{separator}00 o 10{separator}01.",
        'Pagos, fila 2, Importe: "50.5" tiene más decimales de los que admite CLP, la moneda '
        "de la factura F-CLP-OK (sin decimales); escriba el importe exacto, por ejemplo 50 o 51.",
        f'Pagos, fila 3, Importe: "5{separator}005" tiene más decimales de los que admite MXN, '
        f"la moneda de la factura F-MXN-OK ({mxn} 5{separator}00 o 5{separator}01.",
        'Pagos, fila 5, Factura: "F-CLP" tiene errores en la hoja Facturas (corríjalos primero; '
        "vea las otras filas de Errores).",
    ]
    invoices = dict(zip(book.invoices["invoice"], book.invoices["amount"], strict=True))
    assert invoices == {"F-CLP-OK": 100, "F-MXN-OK": 1005, "F-SUMA": 30}
    assert list(zip(book.payments["invoice"], book.payments["amount"], strict=True)) == [
        ("F-SUMA", 30)]
    limits = book.customers["credit_limit"].astype(object).where(
        book.customers["credit_limit"].notna(), None).tolist()
    assert limits == [100050, None]  # a refused limit is no limit, the customer stays


# ---------------------------------------------------------------- a real sync

def test_a_sync_lists_the_refused_amounts_and_sends_only_the_exact_invoices(tmp_path):
    """`cobranza init` + rows typed in Excel, `cobranza sync` to a real SMTP server: the
    CLP invoice with centavos and the MXN one with a third decimal are Errores rows and
    get no notice; the one Excel stores as 10.049999999999999 goes, as $10.05."""
    book = create_workbook(tmp_path / "cobranza.xlsm")
    new = {"Emisión": datetime(2026, 12, 1), "Vencimiento": datetime(2026, 12, 31)}
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": f"{c.lower()}@c.mx"}
                     for c in ("C1", "C2", "C3")],
        "Facturas": [
            {"Factura": "F-1", "Cliente": "C1", "Moneda": "CLP", "Importe": 100.5, **new},
            {"Factura": "F-2", "Cliente": "C2", "Moneda": "MXN", "Importe": 10.005, **new},
            {"Factura": "F-3", "Cliente": "C3", "Moneda": "MXN", "Importe": 10.049999999999999,
             **new},
        ],
    })
    with SmtpTestServer() as server:
        out = sync(book, "2026-12-01T10:00", server)
        received = server.received()
    # NUEVA and ESTADO_MENSUAL are due: whether in one message or two, only C3 gets them
    assert {to for m in received for to in m.rcpt_tos} == {"c3@c.mx"}
    lines = {ln for m in received for ln in m.body().splitlines() if ln.startswith("- Factura")}
    assert lines == {"- Factura F-3, emitida el 01/12/2026, vence el 31/12/2026: $10.05 MXN",
                     "- Factura F-3, vence el 31/12/2026: $10.05 MXN (Por vencer)"}
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        "Errores").to_python()
    start = next(i for i, r in enumerate(rows) if r[:2] == ["Hoja", "Fila"])
    assert [tuple(r[:4]) for r in rows[start + 1:] if r[0]] == [
        ("Facturas", 2.0, "Importe", "100.5"), ("Facturas", 3.0, "Importe", "10.005")]
    assert "2 errores en los datos (vea la hoja Errores)" in out.splitlines()


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1),
       st.sampled_from(["MXN", "usd", "JPY", "clp", "EUR", ""]))
@example(0, "MXN")
@example(-5, "MXN")
@example(5, "JPY")
def test_integer_formatting_matches_the_decimal(minor: int, currency: str) -> None:
    """Payment links and email bodies format amounts by integer arithmetic: the same text
    as the exact Decimal (`to_decimal`), over every int64 of minor units."""
    exact = to_decimal(minor, currency)
    assert decimal_text(minor, currency) == str(exact)
    places = decimals(currency)
    grouped = f"{abs(exact):,.{places}f}"
    assert format_amount(minor, currency) == (
        f"${'-' if minor < 0 else ''}{grouped} {currency.upper()}")
