from datetime import date

import pandas as pd
import pytest

from cobranza.book.config import Config
from cobranza.rules.alerts import ALERT_COLUMNS, ALERT_TYPES, compute_alerts
from cobranza.rules.invoices import compute_invoices
from cobranza.vocabulary import AlertType
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
     "Vencida hace 85 días: línea de crédito y servicio suspendidos "
     "hasta que la cuenta se regularice.", ""),
    ("Acción", "C1", "Acme", "Ana", "F8", "MXN", 5000, 97,
     "Vencida hace 97 días: línea de crédito y servicio suspendidos "
     "hasta que la cuenta se regularice.", ""),
    ("Acción", "C3", "Gama", "Ana", "F6", "MXN", 70000, 116,
     "Vencida hace 116 días: línea de crédito y servicio suspendidos "
     "hasta que la cuenta se regularice.", ""),
    # a broken promise does not hide an invoice past Días acción
    ("Acción", "C3", "Gama", "Ana", "F7", "USD", 10000, 107,
     "Vencida hace 107 días; promesa de pago del 10/10/2026 incumplida: "
     "línea de crédito y servicio suspendidos hasta que la cuenta se regularice.", ""),
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


SHOWN = ALERT_COLUMNS[:10]  # the Alertas sheet's columns; the rest are for the digests


def rows(frame: pd.DataFrame, columns: list[str] = SHOWN) -> list[tuple]:
    frame = frame[columns]
    values = frame.astype(object).where(frame.notna(), None)
    return [tuple(int(v) if hasattr(v, "item") else v for v in r)
            for r in values.itertuples(index=False)]


def test_every_alert_type_exact_rows():
    got = alerts_of(make_book(**BOOK))
    assert list(got.columns) == ALERT_COLUMNS
    assert rows(got) == EXPECTED
    # Correo rebotado needs bounces read back by IMAP (tests/test_inbound_outputs.py),
    # Riesgo alto a payment history (tests/test_risk.py); there are no plans here
    assert set(got["type"]) == set(ALERT_TYPES) - {"Correo rebotado", "Riesgo alto",
                                                   AlertType.PLAN_BROKEN}


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


# Acciones (SPEC "Acciones"): every unpaid invoice with Días vencidos >= Días acción that is
# not Disputa, Pago informado, active Promesa de pago, Tercerizada or Castigada.
@pytest.mark.parametrize(("due", "contacts", "payments", "listed"), [
    ("2026-09-26", [], [], True),  # 60 days = Días acción: En acción
    ("2026-09-27", [], [], False),  # 59 days: Vencida
    ("2026-09-26", [("2026-11-01", "Promesa de pago", "2026-11-20")], [], True),  # broken
    ("2026-09-26", [("2026-11-01", "Promesa de pago", "2026-11-25")], [], False),  # active
    ("2026-09-26", [("2026-11-01", "Sin compromiso", None)], [], True),  # no status change
    ("2026-09-26", [("2026-11-01", "Disputa", None)], [], False),
    ("2026-09-26", [("2026-11-01", "Disputa", None), ("2026-11-05", "Disputa resuelta", None)],
     [], True),
    ("2026-09-26", [("2026-11-01", "Pago informado", None)], [], False),
    ("2026-09-26", [("2026-11-01", "Asignar a tercero", None)], [], False),
    ("2026-09-26", [("2026-11-01", "Castigo", None)], [], False),
    ("2026-09-26", [], [("2026-11-01", 1000)], False),  # paid
    ("2026-09-26", [("2026-11-01", "Promesa de pago", "2026-11-20")], [("2026-11-02", 400)],
     True),  # partly paid, promise broken
])
def test_action_lists_open_invoices_past_dias_accion_a_broken_promise_included(
        due, contacts, payments, listed):
    book = make_book(
        invoices=[("F1", "C1", due, 1000)],
        contacts=[(d, "C1", "F1", result, promise) for d, result, promise in contacts],
        payments=[(d, "F1", amount) for d, amount in payments],
    )
    got = alerts_of(book)
    assert list(got.loc[got["type"] == "Acción", "invoice"]) == (["F1"] if listed else [])


def test_action_and_promise_rows_carry_the_dates_the_digests_print():
    got = alerts_of(make_book(**BOOK))
    dates = got[got["invoice"].isin(["F7", "F2"]) & got["type"].isin(["Acción",
                                                                        "Promesa incumplida"])]
    assert rows(dates, ["type", "invoice", "due", "days_overdue", "promise_date"]) == [
        ("Acción", "F7", pd.Timestamp("2026-08-10"), 107, pd.Timestamp("2026-10-10")),
        ("Promesa incumplida", "F2", pd.Timestamp("2026-11-10"), 15, pd.Timestamp("2026-11-20")),
        ("Promesa incumplida", "F7", pd.Timestamp("2026-08-10"), 107, pd.Timestamp("2026-10-10")),
    ]
