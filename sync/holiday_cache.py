"""What the `holidays` package answered, kept on disk between runs (see
`cobranza.holiday_data`): a sync then needs neither the package's import nor its ~250
countries' modules (~0.1 s of every run), only a small JSON file.

The file holds dates and country codes, nothing that runs. It is tied to the installed
package (its path, and its version file's size and modification time): another version
starts a new file. A country or year it lacks is asked of the package and the file is
replaced whole (written aside, then renamed). A file that cannot be read or written
only costs the package's import: the answers are the same.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import sys
from datetime import date
from pathlib import Path

from cobranza import holiday_data
from cobranza.holiday_data import LibraryHolidays
from sync.jsonfile import write_json

log = logging.getLogger("cobranza")

FILE_NAME = "holidays.json"
_FORMAT = 1


def cache_dir() -> Path:
    """COBRANZA_CACHE_DIR, else the user's cache folder (LOCALAPPDATA on Windows,
    XDG_CACHE_HOME or ~/.cache elsewhere), in a folder `cobranza`."""
    chosen = os.environ.get("COBRANZA_CACHE_DIR")
    if chosen:
        return Path(chosen)
    if sys.platform == "win32" and os.environ.get("LOCALAPPDATA"):
        return Path(os.environ["LOCALAPPDATA"]) / "cobranza"
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "cobranza"


def package_stamp() -> list | None:
    """The installed `holidays` package as [path, version file size, its mtime in ns],
    found without importing it; None when it is not installed."""
    spec = importlib.util.find_spec("holidays")
    if spec is None or not spec.origin:
        return None
    version = Path(spec.origin).parent / "version.py"
    try:
        st = version.stat()
    except OSError:
        return None
    return [str(version), st.st_size, st.st_mtime_ns]


class CachedHolidays:
    """A `HolidaySource` answering from the file at `path` what it holds, and from the
    package (then saved) what it does not."""

    def __init__(self, path: Path, stamp: list | None) -> None:
        self.path, self.stamp = path, stamp
        self.library = LibraryHolidays()
        self.data = self._load()

    def _load(self) -> dict:
        empty = {"format": _FORMAT, "stamp": self.stamp, "countries": None, "years": {}}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return empty
        fits = (isinstance(data, dict) and data.get("format") == _FORMAT
                and data.get("stamp") == self.stamp and isinstance(data.get("years"), dict))
        return data if fits else empty

    def year(self, country: str, year: int) -> frozenset[date]:
        key = f"{country}:{year}"
        try:
            return frozenset(map(date.fromordinal, self.data["years"][key]))
        except (KeyError, TypeError, ValueError, OverflowError):  # not there, or not dates
            days = self.library.year(country, year)
            self.data["years"][key] = sorted(d.toordinal() for d in days)
            self._save()
            return days

    def countries(self) -> frozenset[str]:
        known = self.data["countries"]
        if not (isinstance(known, list) and all(isinstance(c, str) for c in known)):
            known = self.data["countries"] = sorted(self.library.countries())
            self._save()
        return frozenset(known)

    def _save(self) -> None:
        if self.stamp is None:  # no package to tie the answers to
            return
        try:
            write_json(self.path, self.data)
        except OSError as exc:
            log.debug("No se guardaron los feriados en %s: %s", self.path, exc)


_installed = False


def install() -> None:
    """Answer the holiday calendar from the cache from now on (once per process)."""
    global _installed
    if not _installed:
        holiday_data.use_source(CachedHolidays(cache_dir() / FILE_NAME, package_stamp()))
        _installed = True
