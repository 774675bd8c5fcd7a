"""The UDFs give exactly what the sync computes, for one value and for whole columns."""

from __future__ import annotations

import time
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from addin import udfs
from cobranza.book.money import to_major
from cobranza.notices.messages import notice_key
from cobranza.rules.invoices import compute_invoices
from tests.book_factory import make_book

AS_OF = date(2026, 11, 25)


@pytest.fixture(autouse=True)
def _fresh_cache():
    udfs.clear_cache()
    yield
    udfs.clear_cache()


def small_book():
    return make_book(
        customers=[("C1", "Uno SA", "Ana", 1000), ("C2", "Dos SA", "Luis", None),
                   ("C3", "Tres SA", "Ana", 500)],
        invoices=[
            ("F1", "C1", "2026-10-01", 1000),
            ("F2", "C1", "2026-11-30", 250.5),
            ("F3", "C2", "2026-08-01", 99),
            ("F4", "C3", "2026-11-25", 300),
        ],
        payments=[("2026-10-15", "F1", 400), ("2026-11-01", "F4", 300)],
        contacts=[("2026-11-01", "C2", "F3", "Disputa")],
    )


# --- pure UDFs over the argument column ---------------------------------------------


def test_dias_vencidos_and_tramo_on_scalars():
    assert udfs.dias_vencidos(datetime(2026, 10, 1), None, AS_OF) == 55
    assert udfs.dias_vencidos("30/11/2026", None, AS_OF) == -5
    assert udfs.dias_vencidos(46000.0, None, AS_OF) == 351  # serial 46000 = 09/12/2025
    assert udfs.dias_vencidos(None, None, AS_OF) == ""
    assert udfs.dias_vencidos("31/02/2026", None, AS_OF) == udfs.ERR_DATE
    assert udfs.tramo_mora(datetime(2026, 10, 1), None, AS_OF) == "31-60"
    assert udfs.tramo_mora("25/11/2026", None, AS_OF) == "Por vencer"
    assert udfs.tramo_mora("2026-07-01", None, AS_OF) == "91+"
    assert udfs.tramo_mora("mañana", None, AS_OF) == udfs.ERR_DATE


def test_column_in_column_out_with_blanks_and_bad_cells():
    column = [[datetime(2026, 11, 24)], [None], ["xx"], ["01/11/2026"]]
    assert udfs.dias_vencidos(column, None, AS_OF) == [[1], [""], [udfs.ERR_DATE], [24]]
    assert udfs.tramo_mora(column, None, AS_OF) == [["1-30"], [""], [udfs.ERR_DATE], ["1-30"]]


def test_fecha_corte_text_and_errors_at_the_edge():
    assert udfs.run_udf("DIAS_VENCIDOS", "01/11/2026", "25/11/2026") == 24
    assert udfs.run_udf("DIAS_VENCIDOS", "01/11/2026", None, today=AS_OF) == 24
    assert udfs.run_udf("DIAS_VENCIDOS", "01/11/2026", datetime(2026, 11, 2)) == 1
    assert udfs.run_udf("DIAS_VENCIDOS", "01/11/2026", "2026-31-12") == udfs.ERR_DATE
    assert udfs.DIAS_VENCIDOS([["01/11/2026"]], "02/11/2026") == [[1]]
    assert udfs.TRAMO_MORA([["01/11/2026"]], "02/11/2026") == [["1-30"]]


# --- workbook UDFs ------------------------------------------------------------------


def test_workbook_udfs_on_scalars():
    book = small_book()
    assert udfs.saldo("F1", book, AS_OF) == 600.0
    assert udfs.saldo("F2", book, AS_OF) == 250.5
    assert udfs.saldo("F4", book, AS_OF) == 0.0
    assert udfs.saldo("F9", book, AS_OF) == udfs.ERR_INVOICE
    assert udfs.saldo("", book, AS_OF) == ""
    assert udfs.estatus_cobro("F1", book, AS_OF) == "Vencida"
    assert udfs.estatus_cobro("F3", book, AS_OF) == "Disputa"
    assert udfs.estatus_cobro("F4", book, AS_OF) == "Pagada"
    # 55 days late, nothing sent yet: the next sync sends MORA_45 (meaningful until 29/11)
    assert udfs.proximo_aviso("F1", book, AS_OF) == "MORA_45 25/11/2026"
    sent = frozenset({notice_key("C1", "F1", "MORA_45")})
    assert udfs.proximo_aviso("F1", book, AS_OF, sent) == "SUSPENSION_60 30/11/2026"
    assert udfs.proximo_aviso("F2", book, AS_OF) == "PREVIO 25/11/2026"
    assert udfs.proximo_aviso("F3", book, AS_OF) == "Sin avisos: en disputa"
    assert udfs.proximo_aviso("F4", book, AS_OF) == ""  # paid
    assert udfs.uso_credito("C1", book, AS_OF) == pytest.approx(0.8505)
    assert udfs.uso_credito("C3", book, AS_OF) == 0.0
    assert udfs.uso_credito("C2", book, AS_OF) == udfs.ERR_NO_LIMIT
    assert udfs.uso_credito("C9", book, AS_OF) == udfs.ERR_CUSTOMER


class _FakeXwBook:
    fullname = "C:\\cobranza\\libro.xlsm"


class _FakeCaller:
    class sheet:  # noqa: N801 - mimics xlwings' caller.sheet.book
        book = _FakeXwBook()


def test_caller_book_is_read_once_per_recalculation(monkeypatch):
    reads = []

    class FakeExcelBook:
        def __init__(self, xw_book):
            self.xw_book = xw_book

        def read(self):
            reads.append(self.xw_book.fullname)
            return small_book()

    monkeypatch.setattr("addin.book.ExcelBook", FakeExcelBook)
    caller = _FakeCaller()
    assert udfs.SALDO(caller, [["F1"], ["F2"]], "25/11/2026") == [[600.0], [250.5]]
    assert udfs.ESTATUS_COBRO(caller, [["F1"]], "25/11/2026") == [["Vencida"]]
    assert udfs.USO_CREDITO(caller, [["C1"]], "25/11/2026") == [[pytest.approx(0.8505)]]
    assert reads == ["C:\\cobranza\\libro.xlsm"]
    assert udfs.SALDO(caller, [["F1"]], "99/99/2026") == udfs.ERR_DATE


def test_a_read_slower_than_the_ttl_still_serves_the_calls_after_it(monkeypatch):
    """The cache's age counts from the end of the read: a read of BOOK_TTL + 0.1 s (a big
    book on a slow PC) followed by four per-row calls is ONE read, not four."""
    reads = []

    class SlowExcelBook:  # desktop Excel, the one allowed fake: its read takes a while
        def __init__(self, xw_book):
            self.xw_book = xw_book

        def read(self):
            reads.append(self.xw_book.fullname)
            time.sleep(udfs.BOOK_TTL + 0.1)
            return small_book()

    monkeypatch.setattr("addin.book.ExcelBook", SlowExcelBook)
    caller = _FakeCaller()
    for factura, expected in (("F1", 600.0), ("F2", 250.5), ("F3", 99.0), ("F4", 0.0)):
        assert udfs.SALDO(caller, [[factura]], "25/11/2026") == [[expected]]
    assert len(reads) == 1


def test_cache_age_counts_from_the_end_of_the_read():
    """The same rule on a clock the test controls: a read that takes 5 s, then calls
    1.9 s after it finished reuse it; 2.1 s after, the book is read again."""
    now = [100.0]
    reads = []

    def read():
        reads.append(now[0])
        now[0] += 5.0  # the read takes 5 s
        return small_book()

    clock = lambda: now[0]  # noqa: E731
    first = udfs.cached_book("libro", read, clock)
    now[0] += 1.9
    assert udfs.cached_book("libro", read, clock) is first
    assert reads == [100.0]
    now[0] += 0.2
    assert udfs.cached_book("libro", read, clock) is not first
    assert len(reads) == 2


def test_calculo_facturas_spills_the_five_columns_in_one_call(monkeypatch):
    """The Facturas formula columns' one call: a row per invoice, the sync's numbers."""
    reads = []

    class FakeExcelBook:
        def __init__(self, xw_book):
            pass

        def read(self):
            reads.append(1)
            return small_book()

    monkeypatch.setattr("addin.book.ExcelBook", FakeExcelBook)
    facturas = [["F1"], ["F2"], ["F3"], ["F4"], [None]]
    due = [[datetime(2026, 10, 1)], [datetime(2026, 11, 30)], ["01/08/2026"],
           [datetime(2026, 11, 25)], [None]]
    out = udfs.CALCULO_FACTURAS(_FakeCaller(), facturas, due, datetime(2026, 11, 25))
    assert out == [
        [600.0, 55, "Vencida", "31-60", "MORA_45 25/11/2026"],
        [250.5, -5, "Por vencer", "Por vencer", "PREVIO 25/11/2026"],
        [99.0, 116, "Disputa", "91+", "Sin avisos: en disputa"],
        [0.0, 0, "Pagada", "Por vencer", ""],
        ["", "", "", "", ""],
    ]
    assert reads == [1]


def test_a_failure_is_a_spanish_text_never_a_traceback(monkeypatch):
    class Broken:
        def __init__(self, xw_book):
            pass

        def read(self):
            raise RuntimeError("boom")

    monkeypatch.setattr("addin.book.ExcelBook", Broken)
    assert udfs.SALDO(_FakeCaller(), [["F1"]]) == udfs.ERR_INTERNAL


# --- 100 000 rows: same values as compute_invoices, and fast --------------------------


N = 100_000


@pytest.fixture(scope="module")
def big_book():
    rng = np.random.default_rng(7)
    due = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 400, N), unit="D")
    amounts = rng.integers(100, 100_000, N)
    invoices = [(f"F{i}", f"C{i % 500}", d.date(), int(a))
                for i, (d, a) in enumerate(zip(due, amounts, strict=True))]
    payments = [(date(2026, 6, 1), f"F{i}", int(amounts[i] // 2)) for i in range(0, N, 3)]
    customers = [(f"C{j}", f"Cliente {j}", "Ana", 5_000_000) for j in range(500)]
    return make_book(customers=customers, invoices=invoices, payments=payments)


def _timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def test_100k_rows_match_compute_invoices(big_book):
    expected = compute_invoices(big_book, AS_OF)
    facturas = [[f] for f in expected["invoice"]]
    due = [[d.to_pydatetime()] for d in expected["due"]]
    udfs.invoice_table(big_book, AS_OF)  # computed once per recalculation...
    udfs.proximo_aviso("F0", big_book, AS_OF)  # ...with the next-notice column
    timings = {}

    out, timings["DIAS_VENCIDOS"] = _timed(udfs.dias_vencidos, due, None, AS_OF)
    assert [r[0] for r in out] == expected["days_overdue"].tolist()
    out, timings["TRAMO_MORA"] = _timed(udfs.tramo_mora, due, None, AS_OF)
    assert [r[0] for r in out] == expected["bucket"].tolist()
    out, timings["SALDO"] = _timed(udfs.saldo, facturas, big_book, AS_OF)
    assert [r[0] for r in out] == to_major(expected["balance"], expected["currency"]).tolist()
    out, timings["ESTATUS_COBRO"] = _timed(udfs.estatus_cobro, facturas, big_book, AS_OF)
    assert [r[0] for r in out] == expected["status"].tolist()
    out, timings["PROXIMO_AVISO"] = _timed(udfs.proximo_aviso, facturas, big_book, AS_OF)
    assert len(out) == N and all(isinstance(r[0], str) for r in out)
    clientes = [[f"C{i % 500}"] for i in range(N)]
    out, timings["USO_CREDITO"] = _timed(udfs.uso_credito, clientes, big_book, AS_OF)
    usage = udfs.credit_usage(big_book, udfs.invoice_table(big_book, AS_OF).reset_index())
    assert [r[0] for r in out[:500]] == usage.reindex([f"C{i}" for i in range(500)]).tolist()
    # Timings are printed for curiosity; benchmarks/run.py measures them properly.
    print("\n100k-row UDF timings (s):", {k: round(v, 3) for k, v in timings.items()})
