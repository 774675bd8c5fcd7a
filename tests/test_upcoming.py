"""cobranza.notices.upcoming: the next notice of each invoice (PROXIMO_AVISO), whole columns."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd

from addin import udfs
from cobranza.book.records import Book
from cobranza.notices import upcoming
from cobranza.notices.stages import CHAIN_BY_NAME, stage_table
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.book_factory import make_book, synthetic_book

AS_OF = date(2026, 11, 25)


def test_earliest_stage_on_or_after_as_of_per_invoice():
    book = make_book(
        invoices=[("F1", "C1", "2026-10-26", 100),  # 30 days late: VENCIDA_30 today
                  ("F2", "C1", "2026-11-30", 100),  # PREVIO was 25/11: today counts
                  ("F3", "C2", "2026-12-20", 100),  # PREVIO 15/12
                  ("F4", "C2", "2026-01-01", 100),  # past every stage
                  ("F5", "C3", "2026-11-01", 100)],  # in dispute: no chain applies
        contacts=[("2026-11-02", "C3", "F5", "Disputa")],
    )
    table = udfs.invoice_table(book, AS_OF)
    text = upcoming.next_notice_text(book, table, AS_OF)
    assert dict(zip(table.index, text, strict=True)) == {
        "F1": "VENCIDA_30 25/11/2026", "F2": "PREVIO 25/11/2026", "F3": "PREVIO 15/12/2026",
        "F4": "", "F5": "",
    }


def test_ties_on_the_same_day_go_to_the_smaller_code():
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 100)],
                     notices=[("ZETA", "vencimiento", 5), ("ALFA", "vencimiento", 5)])
    table = udfs.invoice_table(book, AS_OF)
    assert upcoming.next_notice_text(book, table, AS_OF).tolist() == ["ALFA 25/11/2026"]


def test_no_invoice_chain_gives_blank_text():
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 100)],
                     notices=[("ESTADO_MENSUAL", "mes", 1)])
    table = udfs.invoice_table(book, AS_OF)
    assert upcoming.next_notice_text(book, table, AS_OF).tolist() == [""]


def _books(tmp_path: Path) -> dict[str, object]:
    demo = create_workbook(tmp_path / "demo.xlsm", demo=True, as_of=AS_OF)
    return {"demo": read_book(demo), "synthetic": synthetic_book(3000, seed=5)}


def test_same_result_as_the_old_per_stage_frames(tmp_path: Path):
    for name, book in _books(tmp_path).items():
        for as_of in (date(2026, 1, 15), AS_OF, date(2026, 12, 31)):
            table = udfs.invoice_table(book, as_of)
            old = _reference(book, table, as_of)
            expected = {i: f"{c} {d:%d/%m/%Y}" for i, c, d in zip(
                old.index, old["code"], old["date"], strict=True)}
            new = upcoming.next_notice_text(book, table, as_of)
            assert dict(zip(table.index, new, strict=True)) == {
                i: expected.get(i, "") for i in table.index}, f"{name} {as_of}"


def _reference(book: Book, invoices: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The first, per-stage implementation: an oracle for the vectorized one.

    Per invoice (index): the next Avisos stage due on or after as_of: code, date.

    Invoice chains only (the monthly statement is per customer): anchor + Días of each
    active stage whose chain applies to the invoice's status, earliest first. The
    PROXIMO_AVISO UDF shows this; the planner decides what actually goes out.
    """
    stages = stage_table(book.notices)
    found = []
    for st in stages.itertuples(index=False):
        rule = CHAIN_BY_NAME[st.chain]
        if not rule.anchor:
            continue
        rows = invoices[invoices["status"].isin(rule.statuses)]
        when = pd.to_datetime(rows[rule.anchor]) + pd.Timedelta(days=int(st.days))
        keep = when.notna() & (when >= pd.Timestamp(as_of))
        found.append(pd.DataFrame({"code": st.code, "date": when[keep]}, index=rows.index[keep]))
    if not found:
        return pd.DataFrame({"code": [], "date": []})
    out = pd.concat(found).rename_axis("invoice").reset_index()
    out = out.sort_values(["date", "code"], kind="stable").drop_duplicates("invoice")
    return out.set_index("invoice")
