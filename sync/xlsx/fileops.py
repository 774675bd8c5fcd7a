"""Safe replacement of the workbook on disk: owner-file check, temp file, backups, replace.

The workbook is the team's source of truth, so it is never written in place: the new
package goes to a temporary file in the same directory (same file system, so
`os.replace` is atomic), is fsynced, the previous file is kept as a dated backup, and
only then does the new file take the workbook's name.

A temporary file is named after the host and process writing it, so a later run can
tell the leftovers of a killed write (its process is gone) from a write in progress.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import secrets
import shutil
import socket
import stat
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from sync.errors import WorkbookBusy, WorkbookOpen

log = logging.getLogger("cobranza")

BACKUP_DIR = Path(".cobranza") / "backups"
_TEMP_PREFIX = ".cobranza-tmp-"  # never "~$": that would look like an Excel owner file
_OLD_INIT_PREFIX = ".~tmp-"  # `cobranza init`'s temp before temps carried host and pid
# .cobranza-tmp-<host>-<pid>-<random><suffix>; older ones are .cobranza-tmp-<random><suffix>
_TEMP_NAME = re.compile(r"^\.cobranza-tmp-(?P<host>.+)-(?P<pid>\d+)-[^-]+$")
# A temp whose owner cannot be asked (another host, an older name) is a leftover once it
# has not changed for this long: a write takes seconds, even on a slow share.
STALE_AFTER_SECONDS = 3600.0


def file_identity(st: os.stat_result) -> tuple[int, int, int]:
    """What tells one saved version of the workbook from the next."""
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def owner_file(path: Path) -> Path:
    """The lock file Excel creates beside an open workbook: `~$name`."""
    return path.with_name("~$" + path.name)


def owner_files(path: Path) -> tuple[Path, ...]:
    """Every owner-file name Office uses: `~$name`, and for long names `~$` replacing the
    first two characters (Word's rule, which some Office builds also apply to Excel)."""
    names = [owner_file(path)]
    if len(path.stem) > 2:
        names.append(path.with_name("~$" + path.name[2:]))
    return tuple(names)


def libreoffice_lock(path: Path) -> Path:
    """The lock file LibreOffice creates beside a document it has open: `.~lock.name#`."""
    return path.with_name(f".~lock.{path.name}#")


def opened_by(path: Path) -> str | None:
    """The program whose lock file says it has the workbook open, or None."""
    if any(p.exists() for p in owner_files(path)):
        return "Excel"
    if libreoffice_lock(path).exists():
        return "LibreOffice"
    return None


def is_open(path: Path) -> bool:
    return opened_by(path) is not None


def check_not_open(path: Path) -> None:
    """Raise `WorkbookOpen` when Excel or LibreOffice holds the workbook (its lock file
    exists): our replace would be lost when that program saves its copy."""
    program = opened_by(path)
    if program:
        raise WorkbookOpen(
            f"El libro está abierto en {program} ({path.name}); "
            "las hojas de salida se escribirán cuando se cierre."
        )


def temp_path(target: Path) -> Path:
    """A new temp name beside `target` (same suffix), for a writer that creates the file
    itself; `remove_leftovers` knows it by its prefix."""
    return target.with_name(f"{_temp_prefix()}{secrets.token_hex(4)}{target.suffix}")


def _temp_prefix() -> str:
    return f"{_TEMP_PREFIX}{_host()}-{os.getpid()}-"


def remove_leftovers(folder: Path, *, now: float | None = None) -> list[Path]:
    """Remove the temp files of writes that died (killed, power cut) from `folder`.

    A temp of this host is removed when its process is gone; one of another host, or
    with an older name, when unchanged for STALE_AFTER_SECONDS (`now` is the wall
    clock, `time.time()` by default). Never one a live process may still be writing.
    """
    now = time.time() if now is None else now
    removed = []
    with contextlib.suppress(OSError), os.scandir(folder) as entries:
        for entry in entries:
            if _is_leftover(entry, now):
                try:
                    os.unlink(entry.path)
                except OSError:  # open elsewhere (Windows) or removed by someone else
                    continue
                removed.append(Path(entry.path))
                log.info("Se eliminó %s, archivo temporal de una escritura interrumpida.",
                         entry.name)
    return removed


def _is_leftover(entry: os.DirEntry, now: float) -> bool:
    name = entry.name
    if not (name.startswith(_TEMP_PREFIX)
            or (name.startswith(_OLD_INIT_PREFIX) and name.lower().endswith(".xlsm"))):
        return False
    try:
        if not entry.is_file(follow_symlinks=False):
            return False
        ours = _TEMP_NAME.match(name)
        if ours and ours["host"].casefold() == _host().casefold():
            from sync.ledger.store import pid_alive

            return not pid_alive(int(ours["pid"]))
        return now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_SECONDS
    except OSError:
        return False


def _host() -> str:
    """This computer's name as it appears in temp file names."""
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def write_temp(target: Path, write: Callable[[BinaryIO], None]) -> Path:
    """Write a temp file beside `target` with `write(f)`, fsync it; remove it on any error."""
    fd, name = tempfile.mkstemp(prefix=_temp_prefix(), suffix=target.suffix, dir=target.parent)
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if target.exists():  # mkstemp makes it 0600; keep the workbook's permissions
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp


def commit(
    temp: Path, target: Path, *, backups: int, now: datetime,
    expected: tuple[int, int, int] | None = None,
) -> Path | None:
    """Back up `target`, then atomically move `temp` onto it. Returns the backup path.

    `expected` is the identity of the version `temp` was made from: if someone saved the
    workbook meanwhile, replacing it would lose their change, so we give up this time.
    """
    try:
        check_not_open(target)  # Excel may have opened it while we were writing
        if expected is not None and file_identity(os.stat(target)) != expected:
            raise WorkbookBusy(
                f"{target.name} cambió mientras se escribían las hojas de salida; "
                "se escribirán en el próximo ciclo."
            )
        backup = keep_backup(target, backups, now) if target.exists() else None
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
    return backup


def replace_file(temp: Path, target: Path) -> None:
    """Move a written temp (`write_temp`) onto `target`, atomically and durably; for
    files with no backup and no owner (the archive's messages)."""
    try:
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def keep_backup(path: Path, keep: int, now: datetime) -> Path | None:
    """Save `path` as `.cobranza/backups/<stem>-YYYYmmdd-HHMMSS<suffix>`; keep the newest."""
    if keep <= 0:
        return None
    folder = path.parent / BACKUP_DIR
    folder.mkdir(parents=True, exist_ok=True)
    backup = _free_name(folder, f"{path.stem}-{now:%Y%m%d-%H%M%S}", path.suffix)
    try:
        os.link(path, backup)  # zero-copy: the old inode survives the replace
    except OSError:
        shutil.copy2(path, backup)
    prune_backups(path, keep)
    return backup


def backups_of(path: Path) -> list[Path]:
    """Backups of this workbook, oldest first (names sort by timestamp)."""
    folder = path.parent / BACKUP_DIR
    pattern = f"{path.stem}-[0-9]*-[0-9]*{path.suffix}"
    return sorted(folder.glob(pattern)) if folder.is_dir() else []


def prune_backups(path: Path, keep: int) -> None:
    existing = backups_of(path)
    for old in existing[: max(len(existing) - keep, 0)]:
        old.unlink(missing_ok=True)


def _free_name(folder: Path, stem: str, suffix: str) -> Path:
    """Two writes within one second get `_1`, `_2`... ("_" sorts after the suffix's ".")."""
    candidate, n = folder / f"{stem}{suffix}", 0
    while candidate.exists():
        n += 1
        candidate = folder / f"{stem}_{n}{suffix}"
    return candidate


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable where the OS allows syncing a directory (not Windows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
