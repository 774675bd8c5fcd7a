"""cobranza.notices.upcoming: the next notice of each invoice (PROXIMO_AVISO), whole columns.

What the planner would do next: exclusions named as Envíos names them, stages the ledger
holds as final skipped, a stage already due but still meaningful shown as today.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from addin import udfs
from cobranza.book.records import Book
from cobranza.book.text import normalize
from cobranza.notices import upcoming
from cobranza.notices.messages import notice_key
from cobranza.notices.stages import CHAIN_BY_NAME, stage_table
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.book_factory import make_book, synthetic_book

AS_OF = date(2026, 11, 25)


def texts(book: Book, sent: frozenset[str] = frozenset(), as_of: date = AS_OF) -> dict:
    table = udfs.invoice_table(book, as_of)
    return dict(zip(table.index, upcoming.next_notice_text(book, table, as_of, sent),
                    strict=True))


def test_earliest_stage_still_meaningful_per_invoice():
    book = make_book(
        invoices=[("F1", "C1", "2026-10-26", 100),  # 30 days late: VENCIDA_30 today
                  ("F2", "C1", "2026-11-30", 100),  # PREVIO was 25/11: today counts
                  ("F3", "C2", "2026-12-20", 100),  # PREVIO 15/12
                  ("F4", "C2", "2026-01-01", 100),  # past every stage
                  ("F6", "C2", "2026-11-05", 100)],  # VENCIDA_15 was 20/11, open to 04/12
    )
    assert texts(book) == {
        "F1": "VENCIDA_30 25/11/2026", "F2": "PREVIO 25/11/2026", "F3": "PREVIO 15/12/2026",
        "F4": "", "F6": "VENCIDA_15 25/11/2026",
    }


def test_a_stage_the_ledger_holds_is_not_next():
    book = make_book(invoices=[("F1", "C1", "2026-11-05", 100), ("F2", "C1", "2026-11-24", 100)])
    sent = frozenset({notice_key("C1", "F1", "VENCIDA_15"), notice_key("C1", "F2", "VENCIDA_1")})
    assert texts(book) == {"F1": "VENCIDA_15 25/11/2026", "F2": "VENCIDA_1 25/11/2026"}
    assert texts(book, sent) == {"F1": "VENCIDA_30 05/12/2026", "F2": "VENCIDA_15 09/12/2026"}


def test_promise_stages_are_held_per_promise_date():
    book = make_book(invoices=[("F1", "C1", "2026-11-01", 100)],
                     contacts=[("2026-11-20", "C1", "F1", "Promesa de pago", "2026-11-26")])
    assert texts(book) == {"F1": "PROMESA_PREVIA 25/11/2026"}
    other = frozenset({notice_key("C1", "F1", "PROMESA_PREVIA", date(2026, 11, 1))})
    assert texts(book, other) == {"F1": "PROMESA_PREVIA 25/11/2026"}
    sent = frozenset({notice_key("C1", "F1", "PROMESA_PREVIA", date(2026, 11, 26))})
    assert texts(book, sent) == {"F1": "PROMESA_INCUMPLIDA 27/11/2026"}


@pytest.mark.parametrize(("status", "text"), [
    ("Disputa", "Sin avisos: en disputa"),
    ("Pago informado", "Sin avisos: pago informado"),
    ("Asignar a tercero", "Sin avisos: asignada a un tercero"),
    ("Castigo", "Sin avisos: castigada"),
])
def test_an_excluded_status_says_why(status, text):
    book = make_book(invoices=[("F1", "C1", "2026-11-01", 100)],
                     contacts=[("2026-11-02", "C1", "F1", status)])
    assert texts(book) == {"F1": text}


def test_an_excluded_customer_says_why_in_the_words_of_envios():
    book = make_book(
        customers=[{"customer": "C1", "segment": " VIP "},
                   {"customer": "C2", "auto_notices": False}, {"customer": "C3"}],
        invoices=[("F1", "C1", "2026-11-01", 100), ("F2", "C2", "2026-11-01", 100),
                  ("F3", "C3", "2026-11-01", 100), ("F4", "C1", "2026-11-01", 100)],
        payments=[("2026-11-10", "F4", 100)],  # paid: nothing to say
        contacts=[("2026-11-02", "C1", "F1", "Promesa de pago", "2026-12-01")],
    )
    assert texts(book) == {"F1": "Sin avisos: segmento VIP",
                           "F2": "Sin avisos: avisos automáticos desactivados",
                           "F3": "VENCIDA_15 25/11/2026", "F4": ""}


def test_ties_on_the_same_day_go_to_the_smaller_code():
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 100)],
                     notices=[("ZETA", "vencimiento", 5), ("ALFA", "vencimiento", 5)])
    assert list(texts(book).values()) == ["ALFA 25/11/2026"]


def test_no_invoice_chain_gives_blank_text():
    book = make_book(invoices=[("F1", "C1", "2026-11-20", 100)],
                     notices=[("ESTADO_MENSUAL", "mes", 1)])
    assert list(texts(book).values()) == [""]


def _books(tmp_path: Path) -> dict[str, Book]:
    demo = create_workbook(tmp_path / "demo.xlsm", demo=True, as_of=AS_OF)
    return {"demo": read_book(demo), "synthetic": synthetic_book(3000, seed=5)}


def test_same_result_as_the_per_stage_reference(tmp_path: Path):
    rng = np.random.default_rng(12)
    for name, book in _books(tmp_path).items():
        for as_of in (date(2026, 1, 15), AS_OF, date(2026, 12, 31)):
            table = udfs.invoice_table(book, as_of)
            every = sorted(_all_keys(book, table))
            for sent in (frozenset(), frozenset(k for k in every if rng.random() < 0.4)):
                expected = _reference(book, table, as_of, sent)
                new = upcoming.next_notice_text(book, table, as_of, sent)
                assert dict(zip(table.index, new, strict=True)) == expected, f"{name} {as_of}"


def _stage_rows(book: Book, invoices: pd.DataFrame):
    """(invoice, stage, when, last meaningful day, ledger key) of every applicable stage."""
    for st in stage_table(book.notices).itertuples(index=False):
        rule = CHAIN_BY_NAME[st.chain]
        if not rule.anchor:
            continue
        rows = invoices[invoices["status"].isin(rule.statuses)]
        for invoice, customer, anchor in zip(rows.index, rows["customer"], rows[rule.anchor],
                                             strict=True):
            if pd.isna(anchor):
                continue
            day = anchor.date()
            key = notice_key(customer, invoice, st.code, day if rule.per_anchor else None)
            yield (invoice, st.code, day + timedelta(days=int(st.days)),
                   day + timedelta(days=int(st.end_offset)), key)


def _all_keys(book: Book, invoices: pd.DataFrame) -> set[str]:
    return {key for *_, key in _stage_rows(book, invoices)}


STATUS_WORDS = {"Disputa": "en disputa", "Pago informado": "pago informado",
                "Tercerizada": "asignada a un tercero", "Castigada": "castigada",
                "Convenio": "en convenio de pago (se envían los avisos de sus cuotas)"}


def _reference(book: Book, invoices: pd.DataFrame, as_of: date, sent: frozenset[str]) -> dict:
    """A plain per-stage, per-row oracle for the vectorized next_notice_text."""
    best: dict[str, tuple[date, str]] = {}
    for invoice, code, when, last, key in _stage_rows(book, invoices):
        if last < as_of or key in sent:
            continue
        candidate = (max(when, as_of), code)
        if invoice not in best or candidate < best[invoice]:
            best[invoice] = candidate
    out = {i: f"{c} {d:%d/%m/%Y}" for i, (d, c) in best.items()}
    customers = book.customers.drop_duplicates("customer").set_index("customer")
    for invoice, customer, status, balance in zip(
            invoices.index, invoices["customer"], invoices["status"], invoices["balance"],
            strict=True):
        why = STATUS_WORDS.get(status)
        if why is None and balance > 0 and customer in customers.index:
            auto, segment = customers.at[customer, "auto_notices"], customers.at[
                customer, "segment"]
            if auto is False or auto == 0:
                why = "avisos automáticos desactivados"
            elif segment.strip() and normalize(segment) in book.config.segments_without_notices:
                why = f"segmento {segment.strip()}"
        out[invoice] = f"Sin avisos: {why}" if why else out.get(invoice, "")
    return out
