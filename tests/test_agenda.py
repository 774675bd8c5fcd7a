from datetime import date

import pandas as pd

from cobranza.rules.agenda import AGENDA_COLUMNS, compute_agenda
from cobranza.rules.invoices import compute_invoices
from tests.book_factory import make_book

AS_OF = date(2026, 11, 25)


def agenda_of(book, as_of=AS_OF):
    return compute_agenda(book, compute_invoices(book, as_of), as_of)


def test_calls_in_priority_order_per_collector():
    book = make_book(
        customers=[
            {"customer": "C1", "name": "Uno", "collector": "Ana", "phone": "555-0001"},
            ("C2", "Dos", "Ana"), ("C3", "Tres", "Beto"), ("C4", "Cuatro", "Ana"),
            ("C5", "Cinco", "Beto"), ("C6", "Seis", "Ana"),
        ],
        invoices=[
            ("F1", "C1", "2026-11-01", 1000),
            ("F2", "C2", "2026-11-01", 2000),
            ("F3", "C3", "2026-11-27", 150000),  # large, due in 2 days
            ("F4", "C3", "2026-11-26", 99999.99),  # below Monto llamada previa
            ("F5", "C3", "2026-11-29", 200000),  # due in 4 days > Días llamada previa
            ("F6", "C4", "2026-11-01", 300),  # overdue, never called
            ("F7", "C5", "2026-10-01", 400),
            ("F8", "C6", "2026-11-01", 500),
            ("F9", "C1", "2026-11-01", 10),
        ],
        payments=[("2026-11-02", "F9", 10)],
        contacts=[
            {"date": "2026-11-20", "customer": "C1", "invoice": "F1", "result": "Sin compromiso",
             "follow_up": "2026-11-24", "comment": "Llamar a tesorería."},
            ("2026-11-21", "C2", "F2", "Promesa de pago", "2026-11-22"),
            {"date": "2026-10-01", "customer": "C5", "invoice": "", "result": "Sin contacto",
             "follow_up": "2026-10-05"},
            {"date": "2026-11-20", "customer": "C6", "invoice": "F8", "result": "Sin contacto",
             "follow_up": "2026-11-30"},
        ],
    )
    got = agenda_of(book)
    assert list(got.columns) == [*AGENDA_COLUMNS, "balance MXN"]
    expected = [
        ("Ana", 1, "Seguimiento pendiente", "C1", "Uno", 47, "555-0001", "F1",
         pd.Timestamp("2026-11-01"), "Seguimiento del 24/11/2026; última gestión el 20/11/2026:"
         " Sin compromiso. Llamar a tesorería.", 100000),
        ("Ana", 2, "Promesa incumplida", "C2", "Dos", 55, "", "F2", pd.Timestamp("2026-11-01"),
         "Prometió pagar el 22/11/2026; el pago no se ha acreditado.", 200000),
        ("Ana", 4, "Sin gestión reciente", "C4", "Cuatro", 47, "", "", None,
         "Sin gestiones registradas; tiene saldo vencido.", 30000),
        ("Beto", 1, "Seguimiento pendiente", "C5", "Cinco", 54, "", "", None,
         "Seguimiento del 05/10/2026; última gestión el 01/10/2026: Sin contacto.", 40000),
        ("Beto", 3, "Factura grande por vencer", "C3", "Tres", 41, "", "F3",
         pd.Timestamp("2026-11-27"), "Vence en 2 días (27/11/2026); factura de importe alto.",
         44999999),
    ]
    values = got.astype(object).where(got.notna(), None)
    assert [tuple(r) for r in values.itertuples(index=False)] == expected


def test_one_call_per_customer_with_every_reason_invoice_and_currency():
    """C1 has two broken promises (MXN and USD), a large invoice about to fall due and a
    follow-up on another invoice: one call, the follow-up first, the rest in the detail."""
    book = make_book(
        customers=[("C1", "Uno", "Ana"), ("C2", "Dos", "Ana"), ("C3", "Tres", "Beto")],
        invoices=[
            ("F1", "C1", "2026-11-01", 1000),
            ("F2", "C1", "2026-11-03", 500, None, "USD"),
            ("F3", "C1", "2026-11-27", 150000),
            ("F4", "C1", "2026-10-01", 700),
            ("F5", "C2", "2026-10-01", 10, None, "USD"),
            ("F6", "C3", "2026-11-10", 20),
        ],
        contacts=[
            ("2026-11-10", "C1", "F1", "Promesa de pago", "2026-11-20"),
            ("2026-11-12", "C1", "F2", "Promesa de pago", "2026-11-15"),
            {"date": "2026-11-20", "customer": "C1", "invoice": "F4", "result": "Sin compromiso",
             "follow_up": "2026-11-25"},
            ("2026-11-20", "C3", "F6", "Promesa de pago", "2026-11-21"),
        ],
    )
    got = agenda_of(book)
    assert list(got.columns) == [*AGENDA_COLUMNS, "balance MXN", "balance USD"]
    values = got.astype(object).where(got.notna(), None)
    assert [tuple(r) for r in values.itertuples(index=False)] == [
        ("Ana", 1, "Seguimiento pendiente", "C1", "Uno", 29, "", "F4, F2, F1, F3",
         pd.Timestamp("2026-10-01"),
         "Seguimiento del 25/11/2026; última gestión el 20/11/2026: Sin compromiso."
         " | Promesa incumplida (F2): Prometió pagar el 15/11/2026; el pago no se ha acreditado."
         " | Promesa incumplida (F1): Prometió pagar el 20/11/2026; el pago no se ha acreditado."
         " | Factura grande por vencer (F3): Vence en 2 días (27/11/2026); factura de importe"
         " alto.", 15170000, 50000),
        ("Ana", 4, "Sin gestión reciente", "C2", "Dos", 14, "", "", None,
         "Sin gestiones registradas; tiene saldo vencido.", None, 1000),
        ("Beto", 2, "Promesa incumplida", "C3", "Tres", 12, "", "F6", pd.Timestamp("2026-11-10"),
         "Prometió pagar el 21/11/2026; el pago no se ha acreditado.", 2000, None),
    ]


def test_calls_keep_priority_then_oldest_order():
    """Two broken promises of different customers: the older promise is called first; a
    customer's place is that of its most urgent reason."""
    book = make_book(
        customers=[("C1", "Uno", "Ana"), ("C2", "Dos", "Ana")],
        invoices=[("F1", "C1", "2026-11-01", 100), ("F2", "C2", "2026-11-01", 100),
                  ("F3", "C2", "2026-11-01", 100)],
        contacts=[("2026-11-10", "C1", "F1", "Promesa de pago", "2026-11-20"),
                  ("2026-11-10", "C2", "F2", "Promesa de pago", "2026-11-22"),
                  ("2026-11-10", "C2", "F3", "Promesa de pago", "2026-11-18")],
    )
    got = agenda_of(book)
    assert got[["customer", "invoices"]].values.tolist() == [["C2", "F3, F2"], ["C1", "F1"]]


def test_follow_up_superseded_by_later_gestion():
    book = make_book(
        invoices=[("F1", "C1", "2026-11-20", 1000)],
        contacts=[{"date": "2026-11-01", "customer": "C1", "invoice": "F1",
                   "result": "Sin contacto", "follow_up": "2026-11-05"},
                  ("2026-11-20", "C1", "F1", "Sin compromiso")],
    )
    assert agenda_of(book).empty


def test_large_invoice_due_today_and_empty_book():
    book = make_book(invoices=[("F1", "C1", "2026-11-25", 100000)])
    got = agenda_of(book)
    assert got[["priority", "invoices", "detail"]].values.tolist() == [
        [3, "F1", "Vence hoy (25/11/2026); factura de importe alto."]]
    assert agenda_of(make_book()).empty
