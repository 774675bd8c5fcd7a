"""Paid up to day t: one function (`cobranza.rules.paid.paid_until`), used by Saldo and
Estatus, by the gestiones with a blank Factura, and by Tablero's receivables and kept
promises. Checked against a plain per-payment sum on the demo workbook, read from the
real file, on the days around its payments."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cobranza.book.records import Book
from cobranza.rules.invoices import compute_invoices
from cobranza.rules.kpis import compute_kpis
from cobranza.rules.paid import paid_until
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.book_factory import make_book

AS_OF = date(2026, 12, 1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Book:
    folder = tmp_path_factory.mktemp("demo")
    path = create_workbook(folder / "libro.xlsm", demo=True, as_of=AS_OF, invoices=300)
    return read_book(Path(path))


def plain_paid(book: Book, invoice: str, day: date) -> int:
    """The oracle: add up, one by one, the Pagos rows of `invoice` dated on or before day."""
    return sum(int(amount) for when, to, amount in zip(
        book.payments["date"], book.payments["invoice"], book.payments["amount"], strict=True)
        if to == invoice and when.date() <= day)


def days_around_payments(book: Book) -> list[date]:
    """The day before, of and after a few payment dates, and the as-of day."""
    dates = sorted({d.date() for d in book.payments["date"]})
    picked = dates[:: max(len(dates) // 4, 1)]
    return sorted({AS_OF, *(d + timedelta(days=k) for d in picked for k in (-1, 0, 1))})


def test_paid_until_is_the_plain_sum_of_the_payments_dated_up_to_the_day(demo):
    ids = demo.invoices["invoice"]
    assert len(demo.payments) > 50
    for day in days_around_payments(demo):
        got = paid_until(ids, pd.Timestamp(day), demo.payments)
        assert got.tolist() == [plain_paid(demo, i, day) for i in ids], day


def test_one_day_per_entry(demo):
    """Each invoice on its own day (here its Vencimiento), as gestiones and promises ask."""
    inv = demo.invoices
    got = paid_until(inv["invoice"], inv["due"], demo.payments)
    assert got.tolist() == [plain_paid(demo, i, d.date())
                            for i, d in zip(inv["invoice"], inv["due"], strict=True)]


def test_saldo_and_tablero_receivables_use_the_same_paid(demo):
    """compute_invoices' paid/balance and the KPIs' portfolio (today) and opening
    receivables (30 days ago) are the one rule, on the days around the payments."""
    inv = demo.invoices
    for day in days_around_payments(demo):
        computed = compute_invoices(demo, day)
        expected = [plain_paid(demo, i, day) for i in inv["invoice"]]
        assert computed["paid"].tolist() == expected, day
        assert (computed["balance"] == inv["amount"] - np.array(expected)).all()
        kpis = compute_kpis(demo, computed, day).totals.set_index("currency")
        live = (computed["status"] != "Castigada").to_numpy()
        for name, at in (("portfolio", day), ("opening_30", day - timedelta(days=30))):
            at_ts = pd.Timestamp(at)
            owed = inv["amount"] - paid_until(inv["invoice"], at_ts, demo.payments)
            exists = (inv["issued"].isna() | (inv["issued"] <= at_ts)).to_numpy()
            counted = owed.where(live & exists & (owed > 0).to_numpy(), 0)
            expected_sums = counted.groupby(inv["currency"]).sum()
            assert kpis[name].to_dict() == expected_sums.to_dict(), (day, name)


@pytest.mark.parametrize(("day", "paid"), [
    ("2026-11-09", 0),  # the day before the first payment
    ("2026-11-10", 300),  # a payment counts on its own Fecha
    ("2026-11-19", 300),
    ("2026-11-20", 1000),  # paid in full on the 20th; the 21st's payment is not yet in
    ("2026-11-21", 1100),  # overpaid: Saldo -100
])
def test_the_day_boundary_in_every_rule(day, paid):
    """F1 (1 000) paid 300 on 10/11 and 700 on 20/11 and 100 on 21/11; a payment to F9,
    which no invoice has, counts for nothing."""
    book = make_book(
        invoices=[("F1", "C1", "2026-11-15", 1000, "2026-10-15")],
        payments=[("2026-11-10", "F1", 300), ("2026-11-20", "F1", 700),
                  ("2026-11-21", "F1", 100), ("2026-11-10", "F9", 5000)],
    )
    at = date.fromisoformat(day)
    inv = compute_invoices(book, at)
    paid_minor = paid * 100
    assert (int(inv.at[0, "paid"]), int(inv.at[0, "balance"])) == (paid_minor, 100_000 - paid_minor)
    assert (inv.at[0, "status"] == "Pagada") == (paid >= 1000)
    portfolio = compute_kpis(book, inv, at).totals.at[0, "portfolio"]
    assert int(portfolio) == max(100_000 - paid * 100, 0)
