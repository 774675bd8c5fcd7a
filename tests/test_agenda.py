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
    assert list(got.columns) == AGENDA_COLUMNS
    expected = [
        ("Ana", 1, "Seguimiento pendiente", "C1", "Uno", "555-0001", "F1", 100000, "MXN",
         pd.Timestamp("2026-11-01"), "Seguimiento del 24/11/2026; última gestión el 20/11/2026:"
         " Sin compromiso. Llamar a tesorería."),
        ("Ana", 2, "Promesa incumplida", "C2", "Dos", "", "F2", 200000, "MXN",
         pd.Timestamp("2026-11-01"), "Prometió pagar el 22/11/2026; el pago no se ha acreditado."),
        ("Ana", 4, "Sin gestión reciente", "C4", "Cuatro", "", "", 30000, "MXN", None,
         "Sin gestiones registradas; tiene saldo vencido."),
        ("Beto", 1, "Seguimiento pendiente", "C5", "Cinco", "", "", None, "", None,
         "Seguimiento del 05/10/2026; última gestión el 01/10/2026: Sin contacto."),
        ("Beto", 3, "Factura grande por vencer", "C3", "Tres", "", "F3", 15000000, "MXN",
         pd.Timestamp("2026-11-27"), "Vence en 2 días (27/11/2026); factura de importe alto."),
    ]
    values = got.astype(object).where(got.notna(), None)
    assert [tuple(r) for r in values.itertuples(index=False)] == expected


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
    assert got[["priority", "invoice", "detail"]].values.tolist() == [
        [3, "F1", "Vence hoy (25/11/2026); factura de importe alto."]]
    assert agenda_of(make_book()).empty
