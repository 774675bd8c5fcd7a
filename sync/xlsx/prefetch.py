"""Start parsing a workbook's Facturas sheet before the program has finished importing.

`cobranza sync BOOK` spends ~0.5 s importing pandas, numpy and the project before it can
read anything; calamine parses a sheet's XML without holding the GIL, so the largest
sheet is parsed meanwhile in a thread (`start`, from `sync.launch`). The reader takes
the rows (`take`) only when they come from the very file it reads: same path, and the
file unchanged since (device, inode, size and modification time), otherwise it reads
as always. This module imports nothing heavy.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from cobranza.book.text import match_names

BIG_SHEET = "Facturas"


class _Prefetch:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.stamp = _stamp(path)
        self.sheet = ""  # the workbook's name for Facturas ("" = none found)
        self.rows: list[list] | None = None  # None: failed (the reader reads it again)
        self.thread = threading.Thread(target=self._run, name="prefetch", daemon=True)

    def _run(self) -> None:
        try:
            import python_calamine

            book = python_calamine.CalamineWorkbook.from_path(str(self.path))
            try:
                self.sheet = match_names(book.sheet_names, (BIG_SHEET,)).get(BIG_SHEET, "")
                if self.sheet:
                    self.rows = book.get_sheet_by_name(self.sheet).to_python(
                        skip_empty_area=False)
            finally:
                book.close()
        except BaseException:  # noqa: BLE001 - a hint only: the reader reads and reports
            self.rows = None


_pending: _Prefetch | None = None
_lock = threading.Lock()


def start(path: str | os.PathLike) -> None:
    """Parse Facturas of the workbook at `path` in a background thread (a hint: nothing
    happens when it is not a readable file)."""
    global _pending
    target = Path(path).resolve()
    if not target.is_file():
        return
    with _lock:
        _pending = _Prefetch(target)
        _pending.thread.start()


def take(path: str | os.PathLike, sheet: str) -> list[list] | None:
    """The prefetched rows of `sheet` of the workbook at `path`, once, when they were read
    from this file as it still is; else None (read it as usual)."""
    global _pending
    with _lock:
        found, _pending = _pending, None
    if found is None or found.path != Path(path).resolve():
        return None
    found.thread.join()
    if found.sheet != sheet or found.rows is None or _stamp(found.path) != found.stamp:
        return None
    return found.rows


def _stamp(path: Path) -> tuple[int, ...] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
