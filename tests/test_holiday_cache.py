"""The holiday cache (sync.holiday_cache): the package's answers kept on disk, so a sync
after the first imports no `holidays` at all, with the same calendar."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date

import pytest

from cobranza import holiday_data
from cobranza.holiday_data import LibraryHolidays
from sync.holiday_cache import CachedHolidays, package_stamp
from tests.cli import CLI, cli_env, cobranza

CASES = [("MX", 2026), ("MX", 2027), ("CO", 2026), ("PE", 2026), ("US", 2021)]


class NoLibrary:
    def year(self, country: str, year: int) -> frozenset[date]:
        raise AssertionError(f"the package was asked for {country} {year}")

    def countries(self) -> frozenset[str]:
        raise AssertionError("the package was asked for its countries")


def test_answers_are_the_packages_and_a_second_run_reads_them_from_the_file(tmp_path):
    path = tmp_path / "holidays.json"
    first = CachedHolidays(path, package_stamp())
    library = LibraryHolidays()
    assert [first.year(c, y) for c, y in CASES] == [library.year(c, y) for c, y in CASES]
    assert first.countries() == library.countries()
    assert date(2026, 12, 25) in first.year("MX", 2026)
    assert date(2021, 12, 31) in first.year("US", 2021)  # 1 January 2022, observed

    again = CachedHolidays(path, package_stamp())
    again.library = NoLibrary()
    assert [again.year(c, y) for c, y in CASES] == [library.year(c, y) for c, y in CASES]
    assert {"MX", "CO", "PE", "CL", "US"} <= again.countries()


def test_another_package_version_or_a_damaged_file_is_asked_again(tmp_path):
    path = tmp_path / "holidays.json"
    CachedHolidays(path, ["/old/holidays/version.py", 1, 2]).year("MX", 2026)
    newer = CachedHolidays(path, package_stamp())
    assert newer.data["years"] == {}  # the old version's answers are not used
    path.write_text(json.dumps({"format": 1, "stamp": package_stamp(), "countries": 7,
                                "years": {"MX:2026": ["no es una fecha"]}}))
    damaged = CachedHolidays(path, package_stamp())
    assert damaged.year("MX", 2026) == LibraryHolidays().year("MX", 2026)
    assert "MX" in damaged.countries()
    path.write_text("{ roto")
    assert CachedHolidays(path, package_stamp()).year("CO", 2026) == \
        LibraryHolidays().year("CO", 2026)
    assert json.loads(path.read_text())["years"]["CO:2026"]  # replaced whole, readable


def test_a_folder_that_cannot_be_written_only_costs_the_import(tmp_path):
    blocker = tmp_path / "archivo"
    blocker.write_text("")  # a file where the folder should be
    cache = CachedHolidays(blocker / "holidays.json", package_stamp())
    assert cache.year("MX", 2026) == LibraryHolidays().year("MX", 2026)
    assert list(tmp_path.iterdir()) == [blocker]


def test_the_calendar_answers_from_the_installed_source():
    installed = holiday_data._source
    try:
        holiday_data.use_source(NoLibrary())
        with pytest.raises(AssertionError, match="MX 2030"):
            holiday_data.year_holidays("mx", 2030)
    finally:
        holiday_data.use_source(installed)


def test_a_sync_after_the_first_imports_no_holidays(tmp_path):
    book = tmp_path / "libro.xlsm"
    cobranza("init", book, "--demo", "--as-of", "2026-12-01", cwd=tmp_path)
    env = cli_env(COBRANZA_CACHE_DIR=str(tmp_path / "cache"))

    def sync() -> subprocess.CompletedProcess:
        done = subprocess.run(
            [sys.executable, "-X", "importtime", *CLI[1:], "sync", str(book), "--dry-run",
             "--as-of", "2026-12-01T10:00", "--ledger", str(tmp_path / "l.sqlite")],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        return done

    def imported(done: subprocess.CompletedProcess) -> set[str]:
        return {line.rsplit("|", 1)[1].strip() for line in done.stderr.splitlines()
                if line.startswith("import time:")}

    first, second = sync(), sync()
    assert "holidays" in imported(first)
    assert not {m for m in imported(second) if m.split(".")[0] == "holidays"}
    # same alerts, agenda and notices; every output sheet as the first sync wrote it
    assert second.stdout.splitlines()[:-1] == first.stdout.splitlines()[:-1]
    assert "Envíos:" in first.stdout
    assert second.stdout.splitlines()[-1].endswith("sin cambios desde la última sincronización.")
    saved = json.loads((tmp_path / "cache" / "holidays.json").read_text())
    assert "MX:2026" in saved["years"] and "MX" in saved["countries"]
