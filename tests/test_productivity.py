"""Collector productivity on Tablero, read back from a real `cobranza sync`.

Cut-off 25/11/2026: the window is 27/10 … 25/11 (30 days, both included).
"""

from __future__ import annotations

from datetime import datetime

import pytest

from sync.workbook.init import create_workbook
from tests.cli import sync, table
from tests.workbook_edit import append_rows


def d(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _invoice(number: str, customer: str, issued: str, due: str, amount: float,
             currency: str = "MXN") -> dict[str, object]:
    return {"Factura": number, "Cliente": customer, "Emisión": d(issued),
            "Vencimiento": d(due), "Moneda": currency, "Importe": amount}


def _gestion(when: str, collector: str, customer: str, invoice: str, result: str,
             promise: str | None = None) -> dict[str, object]:
    row = {"Fecha": d(when), "Cobrador": collector or None, "Cliente": customer,
           "Factura": invoice or None, "Resultado": result}
    return row | ({"Fecha compromiso": d(promise)} if promise else {})


ROWS = {
    "Clientes": [
        {"Cliente": "C1", "Nombre": "Uno", "Email": "pagos@uno.mx", "Cobrador": "Ana"},
        {"Cliente": "C2", "Nombre": "Dos", "Email": "pagos@dos.mx", "Cobrador": "Beto"},
        {"Cliente": "C3", "Nombre": "Tres", "Email": "pagos@tres.mx", "Cobrador": "Ana"},
    ],
    "Facturas": [
        _invoice("F1", "C1", "2026-09-01", "2026-10-01", 1000),  # paid off 10/11: 70 days
        _invoice("F2", "C1", "2026-10-01", "2026-10-31", 200, "USD"),  # paid off 26/11
        _invoice("F3", "C2", "2026-10-10", "2026-11-09", 500),  # paid off 15/11: 36 days
        _invoice("F4", "C2", "2026-08-01", "2026-09-01", 300),  # paid off 26/10: before
        _invoice("F5", "C3", "2026-11-01", "2026-12-01", 800),  # paid off 25/11: 24 days
    ],
    "Pagos": [
        {"Fecha": d("2026-10-20"), "Factura": "F1", "Importe": 400},
        {"Fecha": d("2026-11-10"), "Factura": "F1", "Importe": 600},
        {"Fecha": d("2026-11-20"), "Factura": "F2", "Importe": 50},
        {"Fecha": d("2026-11-26"), "Factura": "F2", "Importe": 150},  # after the cut-off
        {"Fecha": d("2026-11-15"), "Factura": "F3", "Importe": 500},
        {"Fecha": d("2026-10-26"), "Factura": "F4", "Importe": 300},  # a day before
        {"Fecha": d("2026-11-25"), "Factura": "F5", "Importe": 800},  # on the cut-off
    ],
    "Gestiones": [
        _gestion("2026-10-20", "Ana", "C1", "F2", "Promesa de pago", "2026-11-01"),  # broken
        _gestion("2026-10-26", "Ana", "C1", "F1", "Sin compromiso"),  # a day before
        _gestion("2026-10-27", "Ana", "C1", "F1", "Promesa de pago", "2026-11-10"),  # kept
        # blank Cobrador: the customer's (Beto); paid the day after the promise: broken
        _gestion("2026-11-05", "", "C2", "F3", "Promesa de pago", "2026-11-14"),
        _gestion("2026-11-12", "Beto", "C1", "F2", "Sin contacto"),  # Beto called Ana's
        _gestion("2026-11-18", "Ana", "C1", "F2", "Promesa de pago", "2026-11-30"),  # not due
        _gestion("2026-11-20", "Ana", "C3", "", "Sin compromiso"),
        _gestion("2026-11-26", "Ana", "C3", "F5", "Promesa de pago", "2026-11-27"),  # after
    ],
}
HEADER = ("Cobrador", "Gestiones", "Contactos", "Promesas obtenidas", "Promesas vencidas",
          "Promesas cumplidas", "Promesas cumplidas (%)", "Recuperado MXN", "Recuperado USD",
          "Días promedio de cobro")


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = create_workbook(tmp_path_factory.mktemp("productividad") / "cobranza.xlsm")
    append_rows(path, ROWS)
    return path


def _productivity(book) -> tuple[list, list[tuple]]:
    rows = table(book, "Tablero", "Cobrador")
    # The second "Cobrador" header of the sheet is the productivity table's.
    start = next(i for i, r in enumerate(rows) if r[0] == "Cobrador")
    header = tuple(v for v in rows[start] if v != "")
    return header, [tuple(r[:len(header)]) for r in rows[start + 1:]]


def test_productivity_per_collector_at_the_cut_off(book):
    sync(book, "2026-11-25T10:00", None, "--dry-run")
    header, rows = _productivity(book)
    assert header == HEADER
    assert rows == [
        # Ana: gestiones 27/10, 18/11, 20/11 (26/10 and 26/11 are outside); promises due
        # in the window: 01/11 (broken) and 10/11 (kept); recovered 600 + 800 MXN and
        # 50 USD (the 150 of 26/11 not yet); days to collect (70 + 24) / 2.
        ("Ana", 3, 3, 2, 2, 1, 50.0, 1400.0, 50.0, 47.0),
        # Beto: the blank-Cobrador promise on his customer and his call to C1;
        # recovered 500 (F4's 300 of 26/10 is before the window).
        ("Beto", 2, 1, 1, 1, 0, 0.0, 500.0, 0.0, 36.0),
    ]


def test_a_day_later_the_window_moves(book):
    sync(book, "2026-11-26T10:00", None, "--dry-run")
    _, rows = _productivity(book)
    assert rows == [
        # 27/10 left the window, 26/11 came in; F2 was paid off on 26/11 (56 days):
        # (70 + 24 + 56) / 3; the 01/11 promise stays broken (paid after its date).
        ("Ana", 3, 3, 2, 2, 1, 50.0, 1400.0, 200.0, 50.0),
        ("Beto", 2, 1, 1, 1, 0, 0.0, 500.0, 0.0, 36.0),
    ]
