"""A workbook saved by someone else while the sync writes its outputs is never lost."""

import os
import shutil
import zipfile
from datetime import date, datetime

from sync.cycle import run_cycle
from sync.workbook.init import create_workbook
from sync.xlsx import fileops


def test_a_version_saved_during_the_write_wins_and_outputs_wait(tmp_path, monkeypatch):
    for name in [k for k in os.environ if k.startswith("COBRANZA_SMTP_")]:
        monkeypatch.delenv(name)
    book = create_workbook(tmp_path / "libro.xlsm", demo=True, as_of=date(2026, 12, 1),
                           invoices=40)
    other = create_workbook(tmp_path / "otro" / "libro.xlsm", demo=True,
                            as_of=date(2026, 12, 1), invoices=300)
    real = fileops.write_temp

    def saved_meanwhile(target, write):
        shutil.copyfile(other, tmp_path / "guardando.xlsm")
        os.replace(tmp_path / "guardando.xlsm", target)
        return real(target, write)

    monkeypatch.setattr(fileops, "write_temp", saved_meanwhile)
    result = run_cycle(book, datetime(2026, 12, 1, 10, 0))
    assert not result.written
    assert result.deferred == (
        "libro.xlsm cambió mientras se escribían las hojas de salida; "
        "se escribirán en el próximo ciclo."
    )
    assert book.read_bytes() == other.read_bytes()  # the other save is kept whole
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".cobranza-tmp")] == []

    monkeypatch.setattr(fileops, "write_temp", real)
    again = run_cycle(book, datetime(2026, 12, 1, 10, 0))
    assert again.written
    with zipfile.ZipFile(book) as z:
        assert z.testzip() is None
        assert "xl/vbaProject.bin" in z.namelist()
