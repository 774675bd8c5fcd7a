"""Peak memory and wall time of a real first send against the dry run (issue 10, point 8).

    python -m benchmarks.send_memory [--invoices 100000] [--cache DIR]

Generates (or finds in the cache) the benchmark workbook of --invoices rows with
`benchmarks.generate`, then runs, each in a fresh process started through /usr/bin/time
(so the peak RSS is the child's own, not inherited from this process):

  dry run   `python -m sync.cli sync COPY --dry-run --as-of ... --ledger ...`
  real send the same without --dry-run and with no COBRANZA_SMTP_* settings, so every
            message is written as an .eml file into <folder>/salida/ (a first send:
            fresh copy, empty ledger)

and prints a Markdown table: wall seconds, peak RSS in MB and the .eml files written.
Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchmarks.generate import cached_workbook
from benchmarks.run import AT, log

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Run:
    label: str
    seconds: float
    peak_mb: float
    written: int


def sync_command(copy: Path, dry_run: bool) -> list[str]:
    command = [sys.executable, "-m", "sync.cli", "sync", str(copy),
               "--as-of", f"{AT:%Y-%m-%dT%H:%M}", "--ledger", str(copy.parent / "l.sqlite")]
    return command + (["--dry-run"] if dry_run else [])


def outbox_env() -> dict[str, str]:
    """This environment without SMTP settings: the transport is the outbox folder."""
    return {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_SMTP_")}


def run_sync(book: Path, work: Path, dry_run: bool) -> Run:
    """One sync of a fresh copy of `book` in a fresh process; its figures."""
    folder = work / ("dry" if dry_run else "send")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = folder / book.name
    shutil.copyfile(book, copy)
    timer = shutil.which("time", path="/usr/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        command = sync_command(copy, dry_run)
        wrapped = [timer, "-o", out.name, "-f", "%M"] + command if timer else command
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=ROOT, env=outbox_env())
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if os.waitstatus_to_exitcode(status):
            raise RuntimeError(f"{' '.join(command)} failed:\n{err[-2000:]}")
        peak_kb = int(out.read().split()[-1]) if timer else usage.ru_maxrss
    written = len(list((folder / "salida").glob("*.eml")))
    return Run("dry run" if dry_run else "real send (outbox)", seconds, peak_kb / 1024, written)


def table(n: int, runs: list[Run]) -> str:
    lines = ["| N | run | wall s | peak MB | .eml written |", "|---|---|---|---|---|"]
    size = f"{n:,}".replace(",", " ")
    lines += [f"| {size} | {r.label} | {r.seconds:.1f} | {r.peak_mb:.0f} | {r.written:,} |"
              .replace(",", " ") for r in runs]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.send_memory", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--invoices", type=int, default=100_000, help="Facturas rows (default 100000)")
    p.add_argument("--cache", type=Path, help="where generated workbooks are kept")
    args = p.parse_args(argv)
    log(f"== N = {args.invoices:,}: workbook")
    book = cached_workbook(args.invoices, directory=args.cache)
    runs = []
    with tempfile.TemporaryDirectory(prefix="cobranza-send-") as tmp:
        for dry_run in (True, False):
            log(f"   {'dry run' if dry_run else 'real send to the outbox'} (fresh process)")
            runs.append(run_sync(book, Path(tmp), dry_run))
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"Measured {when} on {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
          f"`python -m benchmarks.send_memory --invoices {args.invoices}`. Peak MB is the "
          "child's peak RSS (/usr/bin/time).\n")
    print(table(args.invoices, runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
