from datetime import date

import pytest

from cobranza.rules.invoices import compute_invoices
from cobranza.rules.kpis import compute_kpis
from tests.book_factory import make_book

AS_OF = date(2026, 11, 25)  # 90-day window: issued after 27/08; 30-day: after 26/10

BOOK = make_book(
    customers=[("C1", "Uno", "Ana"), ("C2", "Dos", "Beto")],
    invoices=[
        # invoice, customer, due, amount, issued, currency
        ("F1", "C1", "2026-08-01", 1000, "2026-07-01"),  # 600 open, 91+
        ("F2", "C1", "2026-11-01", 250.50, "2026-10-01", "USD"),  # 250.50 open, 1-30
        ("F3", "C2", "2026-11-27", 500, "2026-10-28"),  # 500 open, not due
        ("F4", "C2", "2026-10-01", 10, "2026-09-01"),  # paid 20/11
        ("F5", "C2", "2026-06-01", 300, "2026-05-01"),  # Castigada: not receivable
    ],
    payments=[("2026-10-15", "F1", 400), ("2026-11-20", "F4", 10)],
    contacts=[
        ("2026-10-01", "C1", "", "Promesa de pago", "2026-10-30"),  # F1 and F2: broken
        ("2026-11-02", "C2", "F4", "Promesa de pago", "2026-11-20"),  # kept on the day
        ("2026-11-20", "C2", "F3", "Promesa de pago", "2026-11-25"),  # not due yet
        ("2026-11-01", "C2", "F5", "Castigo"),
    ],
)
KPIS = compute_kpis(BOOK, compute_invoices(BOOK, AS_OF), AS_OF)
COLUMNS = ["open_invoices", "portfolio", "overdue", "current", "sales_90", "sales_30",
           "opening_30", "promises_due", "promises_kept"]


@pytest.mark.parametrize(("currency", "sums", "dso", "cei", "kept_pct"), [
    # MXN: portfolio 600+500; sales90 500+10; opening(26/10) 600+10;
    # DSO = 110000/51000*90 = 194.1; CEI = (61000+50000-110000)/(61000+50000-50000) = 1.6 %
    ("MXN", [2, 110000, 60000, 50000, 51000, 50000, 61000, 2, 1], 194.1, 1.6, 50.0),
    # USD: DSO = 25050/25050*90; CEI = (25050+0-25050)/(25050+0-0) = 0 %
    ("USD", [1, 25050, 25050, 0, 25050, 0, 25050, 1, 0], 90.0, 0.0, 0.0),
])
def test_totals_per_currency(currency, sums, dso, cei, kept_pct):
    row = KPIS.totals.set_index("currency").loc[currency]
    assert [int(row[c]) for c in COLUMNS] == sums
    assert (row["dso"], row["cei"], row["promises_kept_pct"]) == (dso, cei, kept_pct)


@pytest.mark.parametrize(("collector", "currency", "sums", "ratios"), [
    # Ana MXN: no sales in 90 days -> no DSO; CEI = (60000-60000)/60000 = 0
    ("Ana", "MXN", [1, 60000, 60000, 0, 0, 0, 60000, 1, 0], [None, 0.0, 0.0]),
    ("Ana", "USD", [1, 25050, 25050, 0, 25050, 0, 25050, 1, 0], [90.0, 0.0, 0.0]),
    # Beto MXN: DSO = 50000/51000*90 = 88.2; CEI = (1000+50000-50000)/(1000+50000-50000)
    ("Beto", "MXN", [1, 50000, 0, 50000, 51000, 50000, 1000, 1, 1], [88.2, 100.0, 100.0]),
])
def test_per_collector(collector, currency, sums, ratios):
    row = KPIS.collectors.set_index(["collector", "currency"]).loc[(collector, currency)]
    assert [int(row[c]) for c in COLUMNS] == sums
    got = [None if row[c] != row[c] else row[c] for c in ("dso", "cei", "promises_kept_pct")]
    assert got == ratios


def test_aging_lists_every_bucket_per_currency():
    assert KPIS.aging.values.tolist() == [
        ["MXN", "Por vencer", 1, 50000], ["MXN", "1-30", 0, 0], ["MXN", "31-60", 0, 0],
        ["MXN", "61-90", 0, 0], ["MXN", "91+", 1, 60000],
        ["USD", "Por vencer", 0, 0], ["USD", "1-30", 1, 25050], ["USD", "31-60", 0, 0],
        ["USD", "61-90", 0, 0], ["USD", "91+", 0, 0],
    ]


def test_empty_book():
    book = make_book()
    kpis = compute_kpis(book, compute_invoices(book, AS_OF), AS_OF)
    assert (len(kpis.totals), len(kpis.aging), len(kpis.collectors)) == (0, 0, 0)
