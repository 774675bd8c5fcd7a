"""Reading back a workbook's Envíos: a sheet that lists nothing is told from its own part."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import WorkbookError
from sync.xlsx import sent_reader
from sync.xlsx.sent_reader import read_sent, sent_frame

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "workbook_template.xlsm"
WITH_ROWS = REPO / "tests" / "fixtures" / "primera-version" / "cartera.xlsm"


class _NoCalamine:
    class CalamineWorkbook:
        @staticmethod
        def from_path(path: str) -> None:
            raise AssertionError("the whole workbook was opened")


def test_the_templates_envios_is_read_without_opening_the_workbook(monkeypatch) -> None:
    monkeypatch.setattr(sent_reader, "python_calamine", _NoCalamine)
    assert read_sent(TEMPLATE).equals(sent_frame([]))


def test_an_envios_with_rows_is_read_whole() -> None:
    assert not sent_reader._lists_nothing(WITH_ROWS)
    assert len(read_sent(WITH_ROWS)) > 0


def test_anything_unusual_is_left_to_calamine(tmp_path: Path) -> None:
    broken = tmp_path / "roto.xlsm"
    broken.write_bytes(b"PK not a zip")
    assert not sent_reader._lists_nothing(broken)
    with pytest.raises(WorkbookError):  # calamine's refusal, worded as before
        read_sent(broken)
