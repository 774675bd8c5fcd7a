"""The SQLite send ledger: claims, outcomes, backoff, recovery, history, locking."""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from cobranza.layout.sends import SentRow
from cobranza.notices.messages import Line, Outgoing, Skipped, digest_key, notice_key
from cobranza.notices.planner import History, Refusal
from cobranza.vocabulary import Kind, ReasonCode, SendState, reason
from sync.ledger.store import Ledger, LedgerBusy, backoff, ledger_path, message_id_for
from tests.ledger_backends import Backend, make_backend

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))
BOOK = "libro-de-prueba"  # the workbook id the ledger handles belong to
LATE = reason(ReasonCode.LATE)
FAILED = reason(ReasonCode.TEMPLATE_FAILED, detail="la plantilla falló")
DOWN = reason(ReasonCode.SMTP_DOWN, detail="servidor SMTP no disponible")
GREYLISTED = reason(ReasonCode.SMTP_TEMPORARY, detail="el servidor respondió 451")
SPAM = reason(ReasonCode.SMTP_REFUSED, detail="el servidor respondió 554 5.7.1 spam")


def retry_of(ledger: Ledger, key: str) -> tuple[int, datetime | None]:
    """(attempts, next try) of a key, read from the ledger's store."""
    attempts, next_try = ledger._read(  # noqa: SLF001
        "SELECT attempts, next_try FROM sends WHERE key = ?", (key,))[0]
    return attempts, datetime.fromisoformat(next_try) if next_try else None


def notice(customer: str = "C1", invoices: tuple[str, ...] = ("F1", "F2"), **kw) -> Outgoing:
    lines = tuple(Line(i, customer, date(2026, 11, 24), 1, 1000, "MXN") for i in invoices)
    base = dict(
        kind="aviso", code="VENCIDA_1", recipient=customer, to=(f"{customer}@x.mx",), cc=(),
        template="VENCIDA_1", lines=lines,
        keys=tuple(notice_key(customer, i, "VENCIDA_1") for i in invoices),
    )
    return Outgoing(**{**base, **kw})


@pytest.fixture
def ledger(ledger_backend: Backend):
    with ledger_backend.open(NOW, BOOK) as led:
        yield led


def test_default_path_is_shared_by_the_folder(tmp_path: Path) -> None:
    book = tmp_path / "cartera.xlsm"
    assert ledger_path(book) == tmp_path / ".cobranza" / "ledger.sqlite"
    assert ledger_path(tmp_path / "otra.xlsm") == ledger_path(book)


def test_message_id_is_deterministic() -> None:
    assert message_id_for(notice()) == message_id_for(notice(invoices=("F2", "F1")))
    assert message_id_for(notice()) != message_id_for(notice(invoices=("F1",)))
    assert message_id_for(notice()).startswith("vencida_1-")


def test_claim_takes_all_keys_or_none(ledger: Ledger) -> None:
    assert ledger.claim(notice(invoices=("F2",)), "m0", NOW) is True
    assert ledger.claim(notice(), "m1", NOW) is False  # F2 is taken
    assert ledger.state_of(notice_key("C1", "F1", "VENCIDA_1")) is None
    assert ledger.claim(notice(invoices=("F1", "F3")), "m2", NOW) is True


def test_record_final_and_rows(ledger: Ledger) -> None:
    item = notice()
    ledger.claim(item, "m1", NOW, subject="Factura vencida")
    ledger.record("m1", SendState.SENT, None, NOW)
    assert ledger.rows() == [SentRow(
        when=NOW.astimezone(ZoneInfo("UTC")), kind=Kind.NOTICE, code="VENCIDA_1",
        recipient="C1", to="C1@x.mx", invoices="F1, F2", subject="Factura vencida",
        state=SendState.SENT, reason="", reason_code="",
    )]
    assert retry_of(ledger, notice_key("C1", "F1", "VENCIDA_1")) == (1, None)
    assert ledger.claim(item, "m1", NOW + timedelta(days=30)) is False


def test_pendiente_backs_off_exponentially(ledger: Ledger) -> None:
    item, key = notice(invoices=("F1",)), notice_key("C1", "F1", "VENCIDA_1")
    assert [backoff(n) for n in (1, 2, 3, 7, 20)] == [
        timedelta(minutes=5), timedelta(minutes=10), timedelta(minutes=20),
        timedelta(minutes=320), timedelta(hours=6),
    ]
    ledger.claim(item, "m1", NOW)
    ledger.record("m1", SendState.PENDING, DOWN, NOW)
    assert key in ledger.history(NOW + timedelta(minutes=4)).final_keys
    assert ledger.claim(item, "m1", NOW + timedelta(minutes=4)) is False
    assert key not in ledger.history(NOW + timedelta(minutes=5)).final_keys
    later = NOW + timedelta(minutes=5)
    assert ledger.claim(item, "m1", later) is True
    ledger.record("m1", SendState.PENDING, GREYLISTED, later)
    assert ledger.rows()[0].state == SendState.PENDING
    assert retry_of(ledger, key) == (2, (later + timedelta(minutes=10)).astimezone(ZoneInfo("UTC")))


def test_note_records_planner_outcomes_once(ledger: Ledger) -> None:
    item = notice()
    assert ledger.note(item, "m1", SendState.SKIPPED, LATE, NOW) is True
    assert ledger.note(item, "m1", SendState.ERROR, FAILED, NOW) is False
    assert [(r.state, r.reason, r.reason_code) for r in ledger.rows()] == [
        ("omitido", "fuera de plazo", "fuera_de_plazo")]


def test_note_overrides_a_pending_retry(ledger: Ledger) -> None:
    item = notice()
    ledger.claim(item, "m1", NOW)
    ledger.record("m1", SendState.PENDING, GREYLISTED, NOW)
    assert ledger.note(item, "m1", SendState.SKIPPED, LATE, NOW + timedelta(days=9)) is True
    assert ledger.rows()[0].state == SendState.SKIPPED


def test_history_final_keys_and_contacts(ledger: Ledger) -> None:
    ledger.claim(notice("C1", ("F1",)), "a", NOW)
    ledger.record("a", SendState.SENT, None, NOW)
    ledger.note(notice("C2", ("F5",)), "b", SendState.SKIPPED, LATE, NOW)
    ledger.claim(notice("C3", ("F7",)), "c", NOW)
    ledger.record("c", SendState.ERROR, reason(ReasonCode.SMTP_REFUSED, detail="550"), NOW)
    digest = Outgoing(
        kind="resumen", code="RESUMEN_ACCIONES", recipient="t@x.mx", to=("t@x.mx",), cc=(),
        template="RESUMEN_ACCIONES", lines=(),
        keys=(digest_key("t@x.mx", "RESUMEN_ACCIONES", "2026-11-25"),),
    )
    ledger.claim(digest, "d", NOW)
    ledger.record("d", SendState.SENT, None, NOW)
    history = ledger.history(NOW)
    assert isinstance(history, History)
    assert history.final_keys == frozenset({
        notice_key("C1", "F1", "VENCIDA_1"), notice_key("C2", "F5", "VENCIDA_1"),
        digest_key("t@x.mx", "RESUMEN_ACCIONES", "2026-11-25"),
    })  # C3's notice was refused by the server: final only for its address (below)
    assert history.refused == {notice_key("C3", "F7", "VENCIDA_1"): Refusal("C3@x.mx", "550")}
    assert history.contacts == {"C1": (NOW,)}
    assert history.contacts["C1"][0].tzinfo == NOW.tzinfo


def test_a_refused_notice_is_claimed_again_only_for_another_address(ledger: Ledger) -> None:
    refused = notice("C1", ("F1",))
    assert ledger.claim(refused, "a", NOW)
    ledger.record("a", SendState.ERROR, SPAM, NOW)
    later = NOW + timedelta(days=1)
    assert not ledger.claim(refused, "a", later)  # same address: the refusal stands
    assert ledger.state_of(notice_key("C1", "F1", "VENCIDA_1")) == "error"
    moved = notice("C1", ("F1",), to=("nueva@x.mx",))
    assert ledger.claim(moved, "a", later)
    ledger.record("a", SendState.SENT, None, later)
    [row] = ledger.rows()
    assert (row.to, row.state, row.reason) == ("nueva@x.mx", "enviado", "")
    assert ledger.history(later).refused == {}
    assert not ledger.claim(notice("C1", ("F1",), to=("otra@x.mx",)), "a", later)


NOT_APPROVED = reason(ReasonCode.TEMPLATE_NOT_APPROVED, template="VENCIDA_1")
MISSING = reason(ReasonCode.TEMPLATE_MISSING, template="VENCIDA_1")


def _first_release_row(ledger: Ledger, key: str, state: str, text: str, attempts: int) -> None:
    """A row as the first release wrote it: no reason code."""
    with ledger._write() as db:  # noqa: SLF001
        db.execute(
            'INSERT INTO sends (book, key, message_id, kind, code, recipient, "to", invoices, '
            "state, reason, attempts, created_at, updated_at) VALUES "
            "(?, ?, ?, 'aviso', 'VENCIDA_1', 'C1', 'c1@x.mx', 'F', ?, ?, ?, ?, ?)",
            (BOOK, key, key, state, text, attempts, NOW.isoformat(), NOW.isoformat()))


def test_rows_made_final_for_a_template_are_reopened(ledger: Ledger) -> None:
    """Earlier releases recorded a template problem as final (omitido, or a render
    `error`); nothing was sent, so the notice is planned again and may be claimed."""
    keys = [notice_key("C1", f"F{i}", "VENCIDA_1") for i in range(1, 8)]
    ledger.note(notice("C1", ("F1",)), "a", SendState.ERROR, FAILED, NOW)
    ledger.note(notice("C1", ("F2",)), "b", SendState.SKIPPED, NOT_APPROVED, NOW)
    ledger.note(notice("C1", ("F3",)), "c", SendState.SKIPPED, MISSING, NOW)
    _first_release_row(ledger, keys[3], "omitido", "plantilla VENCIDA_1 no aprobada", 0)
    _first_release_row(ledger, keys[4], "error", 'Plantilla "VENCIDA_1", Cuerpo: ...', 0)
    # still final: late (a first-release row and a coded one)
    _first_release_row(ledger, keys[5], "omitido", "fuera de plazo", 0)
    ledger.note(notice("C1", ("F7",)), "g", SendState.SKIPPED, LATE, NOW)
    history = ledger.history(NOW)
    assert sorted(history.reopened) == keys[:5]
    assert sorted(history.final_keys) == keys[5:]
    assert ledger.claim(notice("C1", ("F1", "F2", "F3", "F4", "F5"), to=("nueva@x.mx",)),
                        "m", NOW)
    assert not ledger.claim(notice("C1", ("F6",)), "m6", NOW)
    ledger.record("m", SendState.SENT, None, NOW)
    assert ledger.history(NOW).reopened == frozenset()
    assert [ledger.state_of(k) for k in keys] == ["enviado"] * 5 + ["omitido"] * 2


def _insert_enviando(backend: Backend, pid: int, host: str, updated: datetime) -> None:
    with backend.handle(BOOK) as led:
        led.claim(notice(), "m1", updated)
    backend.execute("UPDATE sends SET pid = ?, host = ?", (pid, host))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_row_of_a_dead_process_becomes_incierto(ledger_backend: Backend) -> None:
    store = ledger_backend
    _insert_enviando(store, _dead_pid(), socket.gethostname(), NOW)
    with store.open(NOW + timedelta(minutes=1), BOOK) as led:
        row = led.rows()[0]
        assert row.state == "incierto"
        assert row.reason.startswith("El proceso se interrumpió durante el envío")
        assert led.claim(notice(), "m1", NOW + timedelta(days=1)) is False


def test_row_of_a_live_process_waits_for_its_lease(ledger_backend: Backend) -> None:
    store = ledger_backend
    _insert_enviando(store, os.getppid(), socket.gethostname(), NOW)
    with store.open(NOW + timedelta(minutes=9), BOOK) as led:
        assert led.rows()[0].state == "enviando"
    with store.open(NOW + timedelta(minutes=11), BOOK) as led:
        assert led.rows()[0].state == "incierto"


def test_row_of_another_host_waits_for_its_lease(ledger_backend: Backend) -> None:
    store = ledger_backend
    _insert_enviando(store, _dead_pid(), "otra-maquina", NOW)
    with store.open(NOW + timedelta(minutes=1), BOOK) as led:
        assert led.rows()[0].state == "enviando"


def test_locked_ledger_is_a_clear_spanish_error(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path, BOOK).close()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with Ledger(path, BOOK, busy_timeout=0.2) as led, pytest.raises(LedgerBusy) as info:
            led.claim(notice(), "m1", NOW)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert str(info.value) == (
        f"El registro de envíos {path} está ocupado por otro proceso desde hace más de 0.2 s; "
        "se reintentará en el próximo ciclo."
    )


def test_history_recovers_abandoned_rows_without_open(ledger_backend: Backend) -> None:
    store = ledger_backend
    _insert_enviando(store, _dead_pid(), socket.gethostname(), NOW)
    with store.handle(BOOK) as led:
        assert notice_key("C1", "F1", "VENCIDA_1") in led.history(NOW).final_keys
        assert led.rows()[0].state == "incierto"


def skipped_batch(*messages: tuple[str, tuple[str, ...]]) -> Skipped:
    """A planner `omitido` batch: (customer, invoices) per message, VENCIDA_1, fuera de plazo."""
    starts = np.cumsum([0, *(len(invoices) for _, invoices in messages[:-1])])
    column = lambda values: np.array(values, dtype=object)  # noqa: E731
    each = column(["VENCIDA_1"] * len(messages))
    return Skipped(
        code=each, recipient=column([c for c, _ in messages]),
        to=column([f"{c}@x.mx" for c, _ in messages]), template=each,
        reason=column([LATE] * len(messages)), start=starts.astype("int64"),
        invoice=column([i for _, invoices in messages for i in invoices]),
        key=column([notice_key(c, i, "VENCIDA_1") for c, invoices in messages for i in invoices]),
    )


def test_note_skipped_records_the_batch_as_note_would(
    request: pytest.FixtureRequest, tmp_path: Path, ledger_backend: Backend, ledger: Ledger,
) -> None:
    batch = skipped_batch(("C1", ("F2", "F1", "F1")), ("C2", ("F5",)))
    assert ledger.note_skipped(batch, NOW) == 3  # F1 of C1 listed twice, one key
    second = make_backend(request, ledger_backend.name, tmp_path, "one-by-one")
    with second.open(NOW, BOOK) as other:
        for item in (notice("C1", ("F2", "F1", "F1")), notice("C2", ("F5",))):
            other.note(item, message_id_for(item), SendState.SKIPPED, LATE, NOW)
        assert ledger.rows() == other.rows()
    assert [(r.recipient, r.to, r.invoices, r.state) for r in ledger.rows()] == [
        ("C1", "C1@x.mx", "F2, F1", "omitido"), ("C2", "C2@x.mx", "F5", "omitido")]


def test_note_skipped_overrides_only_pending_retries(ledger: Ledger) -> None:
    ledger.claim(notice("C1", ("F1",)), "sent", NOW)
    ledger.record("sent", SendState.SENT, None, NOW)
    ledger.claim(notice("C1", ("F2",)), "retry", NOW)
    ledger.record("retry", SendState.PENDING, GREYLISTED, NOW)
    assert ledger.note_skipped(skipped_batch(("C1", ("F1", "F2"))), NOW) == 1
    assert ledger.state_of(notice_key("C1", "F1", "VENCIDA_1")) == "enviado"
    assert ledger.state_of(notice_key("C1", "F2", "VENCIDA_1")) == "omitido"
    assert ledger.note_skipped(Skipped(), NOW) == 0


def test_a_folder_that_used_a_dozen_ledger_files_adopts_them_all(tmp_path: Path) -> None:
    """SQLite attaches at most 10 files at once: more earlier ledgers than that (a folder
    whose --ledger changed a dozen times) are taken in batches, not a crash."""
    earlier = []
    for n in range(12):
        path = tmp_path / f"antes-{n}.sqlite"
        with Ledger(path, BOOK) as led:
            led.claim(notice(f"C{n}", (f"F{n}",)), f"m{n}", NOW)
        earlier.append(path)
    with Ledger(tmp_path / "ahora.sqlite", BOOK) as led:
        assert led.adopt((), NOW, legacy=earlier) == 12
        assert {(row.recipient, row.invoices) for row in led.rows()} == {
            (f"C{n}", f"F{n}") for n in range(12)}
        assert led.knows_book()
