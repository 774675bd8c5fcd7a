from datetime import date

import pandas as pd
import pytest

from cobranza.book.records import STATUSES
from cobranza.rules.invoices import bucket_of, compute_invoices, days_overdue
from tests.book_factory import make_book, synthetic_book

AS_OF = date(2026, 11, 25)
NaT = None  # expected "no date"


def _d(text):
    return None if text is None else pd.Timestamp(text)


@pytest.mark.parametrize(
    ("days", "bucket"),
    [(-5, "Por vencer"), (0, "Por vencer"), (1, "1-30"), (30, "1-30"), (31, "31-60"),
     (60, "31-60"), (61, "61-90"), (90, "61-90"), (91, "91+"), (400, "91+")],
)
def test_bucket_of(days, bucket):
    assert bucket_of(pd.Series([days])).tolist() == [bucket]


def test_days_overdue_whole_column_with_blank():
    due = pd.Series(pd.to_datetime(["2026-11-25", "2026-11-24", "2026-12-05", None]))
    got = days_overdue(due, AS_OF)
    assert got.tolist() == [0, 1, -10, pd.NA]
    assert bucket_of(got).tolist() == ["Por vencer", "1-30", "Por vencer", ""]


# (id, invoices, payments, contacts, {invoice: {column: expected}})
CASES = [
    ("day 0", [("F1", "C1", "2026-11-25", 1000)], [], [],
     {"F1": dict(days_overdue=0, bucket="Por vencer", status="Por vencer", balance=100000)}),
    ("day 1", [("F1", "C1", "2026-11-24", 1000)], [], [],
     {"F1": dict(days_overdue=1, bucket="1-30", status="Vencida")}),
    ("day 59", [("F1", "C1", "2026-09-27", 1000)], [], [],
     {"F1": dict(days_overdue=59, bucket="31-60", status="Vencida")}),
    ("day 60", [("F1", "C1", "2026-09-26", 1000)], [], [],
     {"F1": dict(days_overdue=60, bucket="31-60", status="En acción")}),
    ("promise today", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-20", "C1", "F1", "Promesa de pago", "2026-11-25")],
     {"F1": dict(status="Promesa de pago", status_date=_d("2026-11-20"),
                 promise_date=_d("2026-11-25"))}),
    ("promise yesterday", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-20", "C1", "F1", "Promesa de pago", "2026-11-24")],
     {"F1": dict(status="Promesa incumplida", promise_date=_d("2026-11-24"))}),
    ("open dispute", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-02", "C1", "F1", "Disputa", None, "Ventas")],
     {"F1": dict(status="Disputa", area="Ventas", status_date=_d("2026-11-02"))}),
    ("dispute then resolved", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-02", "C1", "F1", "Disputa", None, "Ventas"),
      ("2026-11-10", "C1", "F1", "Disputa resuelta")],
     {"F1": dict(status="Vencida", area="", status_date=NaT, last_contact=_d("2026-11-10"))}),
    ("Pago recibido ends Pago informado", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-02", "C1", "F1", "Pago informado"), ("2026-11-03", "C1", "F1", "Pago recibido")],
     {"F1": dict(status="Vencida", status_date=NaT)}),
    ("paid by two partial payments", [("F1", "C1", "2026-11-01", 1000)],
     [("2026-11-05", "F1", 400), ("2026-11-20", "F1", 600)], [],
     {"F1": dict(paid=100000, balance=0, status="Pagada")}),
    ("overpaid", [("F1", "C1", "2026-11-01", 1000)], [("2026-11-05", "F1", 1000.01)], [],
     {"F1": dict(balance=-1, status="Pagada")}),
    ("partial payment", [("F1", "C1", "2026-11-01", 1000)], [("2026-11-05", "F1", 250.25)], [],
     {"F1": dict(paid=25025, balance=74975, status="Vencida")}),
    ("payment after as_of ignored", [("F1", "C1", "2026-11-01", 1000)],
     [("2026-11-26", "F1", 1000)], [],
     {"F1": dict(paid=0, balance=100000, status="Vencida")}),
    ("gestión after as_of ignored", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-26", "C1", "F1", "Disputa")],
     {"F1": dict(status="Vencida", last_contact=NaT)}),
    ("blank Factura: open invoices of the customer on that date",
     [("F1", "C1", "2026-11-01", 1000),
      ("F2", "C1", "2026-11-01", 1000),  # paid before the gestión
      ("F3", "C1", "2026-12-15", 1000, "2026-11-15"),  # issued after the gestión
      ("F4", "C1", "2026-11-01", 1000, "2026-11-10"),  # issued on the gestión date
      ("F5", "C1", "2026-11-01", 1000),  # paid after the gestión
      ("F6", "C2", "2026-11-01", 1000)],  # another customer
     [("2026-11-05", "F2", 1000), ("2026-11-20", "F5", 1000)],
     [("2026-11-10", "C1", "", "Disputa", None, "Ventas")],
     {"F1": dict(status="Disputa", last_contact=_d("2026-11-10")),
      "F2": dict(status="Pagada", last_contact=NaT),
      "F3": dict(status="Por vencer", last_contact=NaT),
      "F4": dict(status="Disputa", area="Ventas"),
      "F5": dict(status="Pagada", last_contact=_d("2026-11-10"), area=""),
      "F6": dict(status="Vencida", last_contact=NaT)}),
    ("same date: later row wins", [("F1", "C1", "2026-11-01", 1000)], [],
     [{"date": "2026-11-20", "customer": "C1", "invoice": "F1", "result": "Disputa", "row": 2},
      {"date": "2026-11-20", "customer": "C1", "invoice": "F1", "result": "Pago informado",
       "row": 3}],
     {"F1": dict(status="Pago informado")}),
    ("same date: row order, not list order", [("F1", "C1", "2026-11-01", 1000)], [],
     [{"date": "2026-11-20", "customer": "C1", "invoice": "F1", "result": "Disputa", "row": 9},
      {"date": "2026-11-20", "customer": "C1", "invoice": "F1", "result": "Pago informado",
       "row": 3}],
     {"F1": dict(status="Disputa")}),
    ("Sin contacto changes no status", [("F1", "C1", "2026-11-01", 1000)], [],
     [("2026-11-20", "C1", "F1", "Promesa de pago", "2026-11-30"),
      ("2026-11-22", "C1", "F1", "Sin contacto")],
     {"F1": dict(status="Promesa de pago", status_date=_d("2026-11-20"),
                 last_contact=_d("2026-11-22"))}),
    ("Tercerizada", [("F1", "C1", "2026-08-01", 1000)], [],
     [("2026-11-01", "C1", "F1", "Asignar a tercero")], {"F1": dict(status="Tercerizada")}),
    ("Castigada", [("F1", "C1", "2026-01-01", 1000)], [],
     [("2026-11-01", "C1", "F1", "Castigo")], {"F1": dict(status="Castigada")}),
    ("Pagada overrides Disputa", [("F1", "C1", "2026-11-01", 1000)],
     [("2026-11-21", "F1", 1000)], [("2026-11-20", "C1", "F1", "Disputa", None, "Ventas")],
     {"F1": dict(status="Pagada", area="", status_date=NaT, promise_date=NaT)}),
]


@pytest.mark.parametrize(("invoices", "payments", "contacts", "expected"),
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_compute_invoices(invoices, payments, contacts, expected):
    book = make_book(invoices=invoices, payments=payments, contacts=contacts)
    got = compute_invoices(book, AS_OF).set_index("invoice")
    for invoice, columns in expected.items():
        for column, value in columns.items():
            actual = got.at[invoice, column]
            if value is None:
                assert pd.isna(actual), (invoice, column, actual)
            else:
                assert actual == value, (invoice, column, actual)


def test_columns_and_dtypes():
    book = make_book(customers=[("C1", "Acme", "Ana")], invoices=[("F1", "C1", "2026-11-01", 10)])
    got = compute_invoices(book, AS_OF)
    assert got[["name", "collector"]].values.tolist() == [["Acme", "Ana"]]
    assert {c: str(t) for c, t in got.dtypes.items() if c in (
        "paid", "balance", "days_overdue", "status_date", "promise_date", "last_contact")} == {
        "paid": "int64", "balance": "int64", "days_overdue": "int64",
        "status_date": "datetime64[ns]", "promise_date": "datetime64[ns]",
        "last_contact": "datetime64[ns]"}


def test_history_columns():
    book = make_book(
        invoices=[("F1", "C1", "2026-08-01", 1000)],
        contacts=[("2026-09-01", "C1", "F1", "Promesa de pago", "2026-09-10"),
                  ("2026-10-01", "C1", "", "Promesa de pago", "2026-10-10"),
                  ("2026-10-20", "C1", "F1", "Disputa"),
                  ("2026-11-01", "C1", "F1", "Disputa"),
                  ("2026-11-10", "C1", "F1", "Disputa resuelta"),
                  ("2026-11-20", "C1", "F1", "Disputa")],
    )
    row = compute_invoices(book, AS_OF).iloc[0]
    assert (row["broken_promises"], row["dispute_resolved"]) == (2, True)
    assert (row["status_since"], row["status_date"]) == (pd.Timestamp("2026-11-20"),) * 2


def test_compute_invoices_runs_on_100k_rows():
    # Speed is measured by benchmarks/run.py; here only that the bulk path works.
    got = compute_invoices(synthetic_book(100_000), AS_OF)
    assert len(got) == 100_000
    assert set(got["status"]) <= set(STATUSES)


def test_first_positions_first_row_wins_and_unknown_is_minus_one():
    from cobranza.book.positions import first_positions

    table = pd.Series(["A", "B", "A", "C"], dtype="str")
    one, two = first_positions(table, pd.Series(["C", "A", "Z", "B"]), pd.Series(["B"]))
    assert one.tolist() == [3, 0, -1, 1]
    assert two.tolist() == [1]
    empty = first_positions(pd.Series([], dtype="str"), pd.Series(["A"]))
    assert empty[0].tolist() == [-1]
