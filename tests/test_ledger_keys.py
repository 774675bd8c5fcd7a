"""Ledger keys are structured values with one unambiguous encoding (issue 11).

Before, keys were joined by hand with "|": customer "A|B" with invoice "C" and customer
"A" with invoice "B|C" both got `aviso|A|B|C|VENCIDA_1|`, so only one of the two notices
ever went out. Real workbook (`cobranza init` + typed rows), real `cobranza sync` runs
and a real SMTP server; the encoding itself is checked against its plain twin and
against the keys the first release wrote (tests/fixtures/primera-version).
"""

from __future__ import annotations

import sqlite3
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.notices.messages import (
    DigestKey,
    NoticeKey,
    Outgoing,
    decode_key,
    digest_key,
    monthly_keys,
    notice_key,
    notice_key_heads,
    notice_key_tail,
    stored_key,
)
from cobranza.vocabulary import SendState
from sync.ledger.identity import book_ledger
from sync.ledger.store import ledger_path, message_id_for
from sync.workbook.init import create_workbook
from sync.xlsx.reader import read_book
from tests.cli import sync
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import append_rows

REPO = Path(__file__).resolve().parents[1]
FIRST = REPO / "tests" / "fixtures" / "primera-version"
CUSTOMERS = {"A|B": ("ab@uno.mx", "C"), "A": ("a@dos.mx", "B|C")}  # Email, Factura
JOINED = "aviso|A|B|C|VENCIDA_1|"  # what the old code made of both


def make_workbook(folder: Path) -> Path:
    """Both invoices due the day before the first sync: VENCIDA_1 is due for both."""
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": e}
                     for c, (e, _) in CUSTOMERS.items()],
        "Facturas": [{"Factura": f, "Cliente": c, "Emisión": datetime(2026, 11, 1),
                      "Vencimiento": datetime(2026, 11, 24), "Importe": 1500.0}
                     for c, (_, f) in CUSTOMERS.items()],
    })
    return book


def delivered(server: SmtpTestServer) -> list[tuple[str, list[str]]]:
    """(To, invoices listed in the body) of every accepted message."""
    out = []
    for message in server.received():
        lines = [ln for ln in message.body().splitlines() if ln.startswith("- Factura ")]
        out.append((", ".join(message.rcpt_tos),
                    [ln.removeprefix("- Factura ").split(", vencida")[0] for ln in lines]))
    return sorted(out)


def vencida_1(book: Path) -> dict[NoticeKey, str]:
    with sqlite3.connect(ledger_path(book)) as db:
        rows = db.execute("SELECT key, state FROM sends WHERE code = 'VENCIDA_1'").fetchall()
    return {decode_key(key): state for key, state in rows}


@pytest.fixture
def server():
    with SmtpTestServer() as srv:
        yield srv


def test_a_bar_inside_codes_never_makes_two_notices_one(server, tmp_path):
    book = make_workbook(tmp_path)
    sync(book, "2026-11-25T10:00", server)
    sync(book, "2026-11-25T11:00", server)
    assert delivered(server) == [("a@dos.mx", ["B|C"]), ("ab@uno.mx", ["C"])]
    assert vencida_1(book) == {NoticeKey("A|B", "C", "VENCIDA_1"): "enviado",
                               NoticeKey("A", "B|C", "VENCIDA_1"): "enviado"}


def test_a_joined_key_of_an_older_ledger_keeps_the_notice_it_sent(server, tmp_path):
    """An older ledger holds the joined key of the one notice it sent (customer "A");
    after the upgrade that notice is not sent again, and the one the collision held
    back (customer "A|B") goes out."""
    book = make_workbook(tmp_path)
    now = datetime.fromisoformat("2026-11-25T10:00-06:00")
    sent = Outgoing(kind="aviso", code="VENCIDA_1", recipient="A", to=("a@dos.mx",), cc=(),
                    template="VENCIDA_1", lines=(), keys=(JOINED,))
    with book_ledger(book, read_book(book), now) as ledger:  # as the old code recorded it
        assert ledger.claim(sent, message_id_for(sent), now)
        ledger.record(message_id_for(sent), SendState.SENT, None, now)

    sync(book, "2026-11-25T11:00", server)
    assert delivered(server) == [("ab@uno.mx", ["C"])]
    sync(book, "2026-11-25T12:00", server)
    assert len(server.received()) == 1


def test_keys_written_before_escaping_read_back_as_todays_keys():
    assert stored_key(JOINED, "aviso", "A", "VENCIDA_1") == notice_key("A", "B|C", "VENCIDA_1")
    assert stored_key(JOINED, "aviso", "A|B", "VENCIDA_1") == notice_key("A|B", "C", "VENCIDA_1")
    assert stored_key("aviso|A\\B|F|X|2026-11-30", "aviso", "A\\B", "X") == notice_key(
        "A\\B", "F", "X", date(2026, 11, 30))
    assert stored_key("aviso|C1||M|E|2026-11-01", "aviso", "C1", "M|E") == notice_key(
        "C1", "", "M|E", date(2026, 11, 1))
    assert stored_key("resumen|a|b@x.mx|RESUMEN_ACCIONES|2026-11-25", "resumen", "A|b@x.mx",
                      "RESUMEN_ACCIONES") == digest_key("a|b@x.mx", "RESUMEN_ACCIONES",
                                                        "2026-11-25")
    escaped = notice_key("A|B", "C\\", "VENCIDA_1")
    assert stored_key(escaped, "aviso", "A|B", "VENCIDA_1") == escaped


def test_the_first_release_keys_are_todays_keys():
    """No migration: every key the first release wrote is the encoding of the key it
    stands for, and is read back unchanged."""
    with sqlite3.connect(FIRST / "cartera.ledger.sqlite") as db:
        rows = db.execute("SELECT key, kind, recipient, code FROM sends").fetchall()
    assert len(rows) == 242
    for key, kind, recipient, code in rows:
        assert decode_key(key).encode() == key
        assert stored_key(key, kind, recipient, code) == key


TEXT = st.text(alphabet=st.sampled_from("AB|\\,é 1"), max_size=6)
PLAIN = st.text().filter(lambda t: "|" not in t and "\\" not in t)


@given(TEXT, TEXT, TEXT, st.none() | st.dates())
def test_a_notice_key_reads_back_as_itself(customer, invoice, code, promise):
    key = NoticeKey(customer, invoice, code, promise)
    assert decode_key(key.encode()) == key


@given(TEXT, TEXT, TEXT)
def test_a_digest_key_reads_back_as_itself(recipient, code, period):
    key = DigestKey(recipient, code, period)
    assert decode_key(key.encode()) == key


@given(PLAIN, PLAIN, PLAIN, st.none() | st.dates())
def test_codes_without_bar_or_backslash_encode_as_the_first_release(customer, invoice, code,
                                                                    promise):
    day = promise.isoformat() if promise else ""
    joined = f"aviso|{customer}|{invoice}|{code}|{day}"
    assert notice_key(customer, invoice, code, promise) == joined
    assert digest_key(customer, code, day) == f"resumen|{customer.lower()}|{code}|{day}"


@given(st.lists(st.tuples(TEXT, TEXT, st.none() | st.dates()), max_size=8), TEXT)
def test_the_planners_vectorized_keys_equal_notice_key(rows, code):
    """The fast path and its oracle: whole columns give what `notice_key` gives."""
    customers = np.array([r[0] for r in rows], dtype=object)
    invoices = np.array([r[1] for r in rows], dtype=object)
    promises = np.array([r[2].isoformat() if r[2] else "" for r in rows], dtype=object)
    keys = notice_key_heads(customers, invoices) + notice_key_tail(code, promises)
    assert list(keys) == [notice_key(c, i, code, p) for c, i, p in rows]


@given(st.lists(TEXT, max_size=8), TEXT, st.dates())
def test_the_planners_vectorized_monthly_keys_equal_notice_key(customers, code, month):
    keys = monthly_keys(np.array(customers, dtype=object), code, month)
    assert list(keys) == [notice_key(c, "", code, month) for c in customers]
