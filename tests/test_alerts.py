from datetime import date

import pandas as pd
import pytest

from cobranza.book.config import Config
from cobranza.rules.alerts import ALERT_COLUMNS, ALERT_TYPES, compute_alerts
from cobranza.rules.invoices import compute_invoices
from tests.book_factory import make_book

AS_OF = date(2026, 11, 25)

BOOK = dict(
    customers=[("C1", "Acme", "Ana", 1000), ("C2", "Beta", "Beto"), ("C3", "Gama", "Ana", 10000)],
    invoices=[
        ("F1", "C1", "2026-09-01", 900),  # 85 days, En acción
        ("F8", "C1", "2026-08-20", 50),  # 97 days, candidate: vencimiento
        ("F2", "C2", "2026-11-10", 500),  # broken promise
        ("F3", "C2", "2026-11-01", 300),  # Pago informado 15 days ago
        ("F4", "C2", "2026-11-15", 200),  # Pago informado 5 days ago: not yet an alert
        ("F5", "C3", "2026-07-01", 1000),  # dispute open since 01/10 (re-logged 15/10)
        ("F6", "C3", "2026-08-01", 700),  # dispute resolved, still unpaid: disputa rechazada
        ("F7", "C3", "2026-08-10", 100, None, "USD"),  # two broken promises
    ],
    contacts=[
        ("2026-11-01", "C2", "F2", "Promesa de pago", "2026-11-20"),
        ("2026-11-10", "C2", "F3", "Pago informado"),
        ("2026-11-20", "C2", "F4", "Pago informado"),
        ("2026-09-01", "C3", "F6", "Disputa", None, "Ventas"),
        ("2026-09-20", "C3", "F6", "Disputa resuelta"),
        ("2026-09-01", "C3", "F7", "Promesa de pago", "2026-09-10"),
        ("2026-10-01", "C3", "F7", "Promesa de pago", "2026-10-10"),
        ("2026-10-01", "C3", "F5", "Disputa", None, "Ventas"),
        ("2026-10-15", "C3", "F5", "Disputa", None, "Ventas"),
    ],
)

EXPECTED = [
    ("Acción", "C1", "Acme", "Ana", "F1", "MXN", 90000, 85,
     "Vencida hace 85 días; corresponde iniciar acciones de cobro.", ""),
    ("Acción", "C1", "Acme", "Ana", "F8", "MXN", 5000, 97,
     "Vencida hace 97 días; corresponde iniciar acciones de cobro.", ""),
    ("Acción", "C3", "Gama", "Ana", "F6", "MXN", 70000, 116,
     "Vencida hace 116 días; corresponde iniciar acciones de cobro.", ""),
    ("Promesa incumplida", "C2", "Beta", "Beto", "F2", "MXN", 50000, 5,
     "Prometió pagar el 20/11/2026; el pago no se ha acreditado.", ""),
    ("Promesa incumplida", "C3", "Gama", "Ana", "F7", "USD", 10000, 46,
     "Prometió pagar el 10/10/2026; el pago no se ha acreditado.", ""),
    ("Pago informado no acreditado", "C2", "Beta", "Beto", "F3", "MXN", 30000, 15,
     "Pago informado el 10/11/2026; sin acreditar después de 15 días.", ""),
    ("Disputa abierta", "C3", "Gama", "Ana", "F5", "MXN", 100000, 55,
     "Disputa abierta desde el 01/10/2026 (Ventas).", "Ventas"),
    ("Mora > 30", "C1", "Acme", "Ana", "", "MXN", 95000, 97,
     "2 facturas con más de 30 días de atraso; la más antigua tiene 97 días.", ""),
    ("Mora > 30", "C3", "Gama", "Ana", "", "MXN", 170000, 147,
     "2 facturas con más de 30 días de atraso; la más antigua tiene 147 días.", ""),
    ("Mora > 30", "C3", "Gama", "Ana", "", "USD", 10000, 107,
     "1 factura con más de 30 días de atraso; la más antigua tiene 107 días.", ""),
    ("Mora > 60", "C1", "Acme", "Ana", "", "MXN", 95000, 97,
     "2 facturas con más de 60 días de atraso; la más antigua tiene 97 días.", ""),
    ("Mora > 60", "C3", "Gama", "Ana", "", "MXN", 170000, 147,
     "2 facturas con más de 60 días de atraso; la más antigua tiene 147 días.", ""),
    ("Mora > 60", "C3", "Gama", "Ana", "", "USD", 10000, 107,
     "1 factura con más de 60 días de atraso; la más antigua tiene 107 días.", ""),
    ("Mora > 90", "C1", "Acme", "Ana", "", "MXN", 5000, 97,
     "1 factura con más de 90 días de atraso; la más antigua tiene 97 días.", ""),
    ("Mora > 90", "C3", "Gama", "Ana", "", "MXN", 170000, 147,
     "2 facturas con más de 90 días de atraso; la más antigua tiene 147 días.", ""),
    ("Mora > 90", "C3", "Gama", "Ana", "", "USD", 10000, 107,
     "1 factura con más de 90 días de atraso; la más antigua tiene 107 días.", ""),
    ("Crédito", "C1", "Acme", "Ana", "", "MXN", 95000, None,
     "Saldo abierto del 95.0% del límite de crédito (umbral 85%).", ""),
    ("Sin gestión", "C1", "Acme", "Ana", "", "MXN", 95000, None,
     "Sin gestiones registradas; tiene saldo vencido.", ""),
    ("Sin gestión", "C3", "Gama", "Ana", "", "MXN", 70000, 41,
     "Última gestión el 15/10/2026 (hace 41 días); tiene saldo vencido.", ""),
    ("Sin gestión", "C3", "Gama", "Ana", "", "USD", 10000, 41,
     "Última gestión el 15/10/2026 (hace 41 días); tiene saldo vencido.", ""),
    ("Candidata a terceros", "C1", "Acme", "Ana", "F8", "MXN", 5000, 97,
     "Vencida hace 97 días; motivo: vencimiento.", ""),
    ("Candidata a terceros", "C3", "Gama", "Ana", "F6", "MXN", 70000, 116,
     "Vencida hace 116 días; motivo: disputa rechazada.", ""),
    ("Candidata a terceros", "C3", "Gama", "Ana", "F7", "USD", 10000, 107,
     "Vencida hace 107 días; motivo: promesas incumplidas.", ""),
]


def alerts_of(book, as_of=AS_OF):
    return compute_alerts(book, compute_invoices(book, as_of), as_of)


def rows(frame: pd.DataFrame) -> list[tuple]:
    values = frame.astype(object).where(frame.notna(), None)
    return [tuple(int(v) if hasattr(v, "item") else v for v in r)
            for r in values.itertuples(index=False)]


def test_every_alert_type_exact_rows():
    got = alerts_of(make_book(**BOOK))
    assert list(got.columns) == ALERT_COLUMNS
    assert rows(got) == EXPECTED
    assert set(got["type"]) == set(ALERT_TYPES)


def test_empty_book_gives_empty_typed_frame():
    got = alerts_of(make_book())
    assert list(got.columns) == ALERT_COLUMNS and len(got) == 0
    assert (str(got["balance"].dtype), str(got["days"].dtype)) == ("int64", "Int64")


def _types(book):
    return [(r.type, r.customer, r.invoice, r.balance) for r in alerts_of(book).itertuples()]


@pytest.mark.parametrize(("amount", "expected"), [
    (850, []),  # 85.00% is not above 85%
    (850.01, [("Crédito", "C1", "", 85001)]),
])
def test_credit_threshold_compared_exactly(amount, expected):
    book = make_book(customers=[("C1", "Acme", "Ana", 1000)],
                     invoices=[("F1", "C1", "2026-12-01", amount),
                               ("F2", "C1", "2026-12-01", 5000, None, "USD")])
    assert _types(book) == expected


def test_credit_ignores_customers_without_limit():
    book = make_book(customers=[("C1", "Acme", "Ana", None), ("C2", "Beta", "Ana", 0)],
                     invoices=[("F1", "C1", "2026-12-01", 10), ("F2", "C2", "2026-12-01", 10)])
    assert _types(book) == []


@pytest.mark.parametrize(("reported", "expected"), [
    ("2026-11-18", []),  # 7 days: not older than Días pago informado
    ("2026-11-17", [("Pago informado no acreditado", "C1", "F1", 100000)]),
])
def test_reported_payment_after_days(reported, expected):
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 1000)],
                     contacts=[(reported, "C1", "F1", "Pago informado")])
    assert _types(book) == expected


@pytest.mark.parametrize(("last", "expected"), [
    ("2026-11-11", []),  # 14 days ago
    ("2026-11-10", [("Sin gestión", "C1", "", 100000)]),  # 15 days = Días sin gestión
])
def test_no_contact_after_days(last, expected):
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 1000)],
                     contacts=[(last, "C1", "", "Sin contacto")])
    assert _types(book) == expected


@pytest.mark.parametrize(("result", "expected"), [
    ("Castigo", []),  # written off: no longer receivable
    ("Asignar a tercero", [("Mora > 30", "C1", "", 100000)]),  # agency works it: still aged
])
def test_written_off_and_third_party(result, expected):
    book = make_book(invoices=[("F1", "C1", "2026-10-01", 1000)],
                     contacts=[("2026-11-24", "C1", "F1", result)])
    assert _types(book) == expected


def test_thresholds_come_from_config():
    config = Config(action_days=30, third_party_days=40)
    book = make_book(invoices=[("F1", "C1", "2026-10-16", 1000)], config=config,
                     contacts=[("2026-11-24", "C1", "F1", "Sin contacto")])
    assert _types(book) == [("Acción", "C1", "F1", 100000), ("Mora > 30", "C1", "", 100000),
                            ("Candidata a terceros", "C1", "F1", 100000)]
