"""Counting a cycle's outcomes: skipped (omitido) notices travel as a count, not as rows."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sync.cycle import CycleResult, count_states
from sync.service import status

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("America/Mexico_City"))


def rows(*states: str) -> list[SimpleNamespace]:
    return [SimpleNamespace(state=s, code="VENCIDA_1", recipient="C1", reason="r") for s in states]


def test_count_states_adds_the_skipped_batch_to_omitido() -> None:
    assert count_states(rows("listo", "omitido", "listo"), 3) == {"listo": 2, "omitido": 4}
    assert count_states(rows("enviado"), 2) == {"enviado": 1, "omitido": 2}
    assert count_states(rows("enviado")) == {"enviado": 1}


def test_cycle_result_and_status_count_the_skipped_batch(tmp_path: Path) -> None:
    computed = SimpleNamespace(errors=[])
    result = CycleResult(tmp_path / "libro.xlsm", NOW, computed, rows("enviado", "pendiente"),
                         written=True, skipped=5)
    assert result.counts() == {"enviado": 1, "pendiente": 1, "omitido": 5}
    state = status.record_cycle(result.path, result, at=NOW, source=status.SYNC)
    assert state["counts"] == {"enviado": 1, "pendiente": 1, "omitido": 5, "error": 0,
                               "incierto": 0}
    assert [p["state"] for p in state["pending"]] == ["pendiente"]
