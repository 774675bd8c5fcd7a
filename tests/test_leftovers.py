"""Leftovers of killed writes are cleaned, never a live write's; LibreOffice's lock counts.

* A real `cobranza sync` is SIGKILLed in the middle of its write (a slow disk: its fsync
  of the new file hangs): its temp file stays. The next run removes it, but not the temp
  of another sync that is still writing.
* Temps whose owner cannot be asked (another host, older names) go once stale.
* A workbook open in real LibreOffice (its `.~lock.<name>#`) is "open", like Excel's `~$`.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest

from sync.cycle import run_cycle
from sync.summary import summary_lines
from sync.workbook.init import create_workbook
from sync.xlsx import fileops
from tests import lo

REPO = Path(__file__).resolve().parents[1]
AS_OF = "2026-12-01T10:00"
# A slow disk: fsync of the sync's new file (or init's final rename) hangs, after saying
# so in the file named by $STALL_MARKER; the process is then killed or left hanging.
# $STALL_SUFFIX: the temp files that hang (".xlsm": the workbook's; ".eml": the archive's).
SLOW_DISK = """
import os, sys, time
marker, suffix = os.environ["STALL_MARKER"], os.environ["STALL_SUFFIX"]

real_fsync, real_replace = os.fsync, os.replace

def stall(name):
    if (os.path.basename(name).startswith((".cobranza-tmp-", ".~tmp-"))
            and name.endswith(suffix)):
        with open(marker + ".part", "w") as f:
            f.write(name)
        real_replace(marker + ".part", marker)
        time.sleep(600)

os.fsync = lambda fd: (stall(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1]
os.replace = lambda src, dst: (stall(str(src)), real_replace(src, dst))[1]
from sync.cli import main
sys.exit(main())
"""
CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
    return env | {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **extra}


def stalled(args: list[str], folder: Path, marker: Path,
            suffix: str = ".xlsm") -> tuple[subprocess.Popen, Path]:
    """Start `cobranza <args>` on the slow disk; wait until it hangs writing a temp file
    ending in `suffix`."""
    proc = subprocess.Popen([sys.executable, "-c", SLOW_DISK, *args], cwd=folder,
                            env=environment(STALL_MARKER=str(marker), STALL_SUFFIX=suffix),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the write never started"
        time.sleep(0.02)
    return proc, Path(marker.read_text())


def temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()
                  if p.name.startswith((".cobranza-tmp-", ".~tmp-")))


def kill(proc: subprocess.Popen) -> str:
    """SIGKILL; returns what the process logged."""
    proc.kill()
    proc.wait(30)
    with proc.stderr:
        return proc.stderr.read()


def test_a_killed_write_is_cleaned_by_the_next_run_but_a_live_one_is_not(tmp_path):
    book = create_workbook(tmp_path / "libro.xlsm", demo=True, as_of=date(2026, 12, 1),
                           invoices=40)
    before = book.read_bytes()
    host = socket.gethostname()

    killed, killed_temp = stalled(["sync", str(book), "--as-of", AS_OF], tmp_path,
                                  tmp_path / "a.marker")
    kill(killed)  # SIGKILL half-way through the write
    assert temps(tmp_path) == [killed_temp.name]
    assert book.read_bytes() == before  # the workbook is never written in place

    # The next run removes the dead write's temp, then hangs writing its own.
    live, live_temp = stalled(["sync", str(book), "--as-of", AS_OF], tmp_path,
                              tmp_path / "b.marker")
    try:
        assert temps(tmp_path) == [live_temp.name]
        assert killed_temp.name.startswith(f".cobranza-tmp-{host}-{killed.pid}-")
        # A run meanwhile writes the workbook and leaves the live write's temp alone.
        done = subprocess.run([*CLI, "sync", str(book), "--as-of", AS_OF], cwd=tmp_path,
                              env=environment(), capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr
        assert done.stdout.splitlines()[-1].startswith("Hojas de salida actualizadas en")
        assert temps(tmp_path) == [live_temp.name]
    finally:
        logged = kill(live)
    assert (f"Se eliminó {killed_temp.name}, archivo temporal de una escritura "
            "interrumpida.") in logged
    assert fileops.remove_leftovers(tmp_path) == [live_temp]  # now dead too
    assert temps(tmp_path) == []


def test_a_killed_init_is_cleaned_by_the_next_one(tmp_path):
    proc, temp = stalled(["init", str(tmp_path / "norte.xlsm")], tmp_path,
                         tmp_path / "init.marker")
    kill(proc)
    assert temps(tmp_path) == [temp.name] and not (tmp_path / "norte.xlsm").exists()
    create_workbook(tmp_path / "sur.xlsm")
    assert temps(tmp_path) == []


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_temps_whose_owner_cannot_be_asked_go_only_when_stale(tmp_path):
    host = fileops._host()
    now = time.time()
    fresh, stale = now - 60, now - fileops.STALE_AFTER_SECONDS - 60
    files = {
        ".cobranza-tmp-otro-servidor-4242-k3j5h2l1.xlsm": fresh,  # another host, writing
        ".cobranza-tmp-otro-servidor-4243-m2n4b6v8.xlsm": stale,  # another host, dead
        ".cobranza-tmp-q8w7e6r5.xlsm": fresh,  # an older name: owner unknown
        ".cobranza-tmp-z1x2c3v4.xlsm": stale,
        ".~tmp-norte.xlsm": fresh,  # `cobranza init` before host and pid were in the name
        ".~tmp-sur.xlsm": stale,
        f".cobranza-tmp-{host}-{dead_pid()}-a1s2d3f4.xlsm": fresh,  # this host, pid gone
        f".cobranza-tmp-{host}-{os.getpid()}-g5h6j7k8.xlsm": stale,  # this host, alive
        "libro.xlsm": stale,  # everything else is not ours
        "~$libro.xlsm": stale,
        ".~lock.libro.xlsm#": stale,
        ".~tmp-notas.txt": stale,
    }
    for name, mtime in files.items():
        (tmp_path / name).write_bytes(b"PK")
        os.utime(tmp_path / name, (mtime, mtime))
    (tmp_path / ".cobranza-tmp-carpeta").mkdir()
    os.utime(tmp_path / ".cobranza-tmp-carpeta", (stale, stale))

    removed = fileops.remove_leftovers(tmp_path, now=now)
    assert sorted(p.name for p in removed) == sorted([
        ".cobranza-tmp-otro-servidor-4243-m2n4b6v8.xlsm", ".cobranza-tmp-z1x2c3v4.xlsm",
        ".~tmp-sur.xlsm", next(n for n in files if "-a1s2d3f4" in n)])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        {*files, ".cobranza-tmp-carpeta"} - {p.name for p in removed})


@pytest.fixture
def open_in_libreoffice():
    """Open a workbook in a real headless LibreOffice; yields once its lock file exists."""
    started: list[subprocess.Popen] = []

    def start(book: Path, profile: Path) -> Path:
        proc = subprocess.Popen(
            [lo.soffice(), f"-env:UserInstallation={profile.as_uri()}", "--headless",
             "--norestore", str(book)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        started.append(proc)
        lock = book.with_name(f".~lock.{book.name}#")  # LibreOffice's own name
        deadline = time.monotonic() + 120
        while not lock.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "LibreOffice no abrió"
            time.sleep(0.05)
        return lock

    yield start
    for proc in started:  # its own session: the launcher and soffice.bin go together
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)


def test_a_workbook_open_in_libreoffice_is_not_written_until_closed(
        tmp_path, open_in_libreoffice, monkeypatch):
    for name in [k for k in os.environ if k.startswith("COBRANZA_")]:
        monkeypatch.delenv(name)  # the outbox, no SMTP server
    book = create_workbook(tmp_path / "libro.xlsm", demo=True, as_of=date(2026, 12, 1),
                           invoices=40)
    lock = open_in_libreoffice(book, tmp_path / "perfil")
    assert lock.name == ".~lock.libro.xlsm#"
    before = book.read_bytes()
    result = run_cycle(book, datetime(2026, 12, 1, 10, 0))
    assert summary_lines(result)[-1] == (
        "Aviso: El libro está abierto en LibreOffice (libro.xlsm); las hojas de salida se "
        "escribirán cuando se cierre.")
    assert book.read_bytes() == before
    sent = len(list((tmp_path / "salida").glob("*.eml")))
    assert sent > 0  # the notices went out (outbox: no SMTP settings)

    lock.unlink()  # LibreOffice closed it
    result = run_cycle(book, datetime(2026, 12, 1, 10, 5))
    assert result.written and "Envíos" in result.changed
    assert len(list((tmp_path / "salida").glob("*.eml"))) == sent
