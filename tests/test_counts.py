"""Counting a cycle's outcomes: skipped (omitido) notices travel as a count, not as rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from book_factory import make_book

from cobranza.vocabulary import Kind, SendState
from sync.cycle import CycleResult, compute, count_states
from sync.mail.sending import DeliveryRow
from sync.service import status

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def rows(*states: str) -> list[DeliveryRow]:
    return [DeliveryRow(NOW, Kind.NOTICE, "VENCIDA_1", "C1", "", "", "", SendState(s), None)
            for s in states]


def test_count_states_adds_the_skipped_batch_to_omitido() -> None:
    assert count_states(rows("listo", "omitido", "listo"), 3) == {"listo": 2, "omitido": 4}
    assert count_states(rows("enviado"), 2) == {"enviado": 1, "omitido": 2}
    assert count_states(rows("enviado")) == {"enviado": 1}


def test_cycle_result_and_status_count_the_skipped_batch(tmp_path: Path) -> None:
    computed = compute(make_book(), NOW)
    result = CycleResult(tmp_path / "libro.xlsm", NOW, computed, rows("enviado", "pendiente"),
                         written=True, skipped=5)
    assert result.counts() == {"enviado": 1, "pendiente": 1, "omitido": 5}
    state = status.record_cycle(result.path, result, at=NOW, source=status.SYNC)
    assert state["counts"] == {"enviado": 1, "pendiente": 1, "omitido": 5, "error": 0,
                               "incierto": 0}
    assert [p["state"] for p in state["pending"]] == ["pendiente"]
