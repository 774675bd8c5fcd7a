"""The send ledger on SQLite and on PostgreSQL (issue 17).

    python -m benchmarks.ledger_claims [--claims 2000] [--invoices 100000] [--kill-trials 10]

Starts its own PostgreSQL (Debian's binaries, `tests.pg_server`, fsync ON: the figures of
a real server on this disk) and measures:

  claims/s      `claim` alone, then `claim` + `record` (a sent message's two commits),
                one message of two keys each, on a SQLite file and on the database;
  first sync    `cobranza sync` of the --invoices benchmark book (benchmarks.generate) to
                the outbox (no COBRANZA_SMTP_*), fresh copy and empty ledger, on each;
  kill trials   `cobranza sync --ledger-url` of the 40-invoice demo book against a slow
                SMTP server, SIGKILLed after a random number of messages, then run again:
                duplicates (must be 0) and states (every due message enviado/incierto).

Prints Markdown; progress to stderr. `--invoices 0` / `--kill-trials 0` skip those parts.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from cobranza.notices.messages import Line, Outgoing, notice_key
from cobranza.vocabulary import SendState
from sync.ledger.postgres import PgLedger
from sync.ledger.store import Ledger, LedgerCore
from tests.pg_server import PgTestServer, pg_bin
from tests.smtp_server import SmtpTestServer
from tests.test_crash import AT, CLI, SlowSmtpServer, clave, environment

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 25, 16, 0, tzinfo=UTC)


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def message(i: int) -> Outgoing:
    customer = f"C{i}"
    lines = tuple(Line(f"F{i}-{k}", customer, NOW.date(), 1, 1000, "MXN") for k in (1, 2))
    return Outgoing(kind="aviso", code="VENCIDA_1", recipient=customer,
                    to=(f"{customer.lower()}@x.mx",), cc=(), template="VENCIDA_1", lines=lines,
                    keys=tuple(notice_key(customer, line.invoice, "VENCIDA_1")
                               for line in lines))


def claims_per_second(ledger: LedgerCore, n: int, record: bool, offset: int) -> float:
    start = time.perf_counter()
    for i in range(offset, offset + n):
        assert ledger.claim(message(i), f"m{i}", NOW)
        if record:
            ledger.record(f"m{i}", SendState.SENT, None, NOW)
    return n / (time.perf_counter() - start)


def claim_rates(server: PgTestServer, work: Path, n: int) -> dict[str, tuple[float, float]]:
    url = server.new_database()
    out = {}
    for name, ledger in (("SQLite", Ledger.open(work / "claims.sqlite", NOW, "bench")),
                         ("PostgreSQL", PgLedger.open(url, NOW, "bench"))):
        with ledger:
            log(f"   claims on {name}")
            out[name] = (claims_per_second(ledger, n, False, 0),
                         claims_per_second(ledger, n, True, n))
    return out


def first_sync(book: Path, work: Path, url: str | None) -> tuple[float, int]:
    """Wall seconds of a first real sync to the outbox, and the .eml files written."""
    folder = work / ("pg" if url else "sqlite")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    copy = Path(shutil.copyfile(book, folder / book.name))
    ledger = ["--ledger-url", url] if url else ["--ledger", str(folder / "l.sqlite")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "sync.cli", "sync", str(copy), "--as-of",
                           "2026-11-25T10:00", *ledger], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return seconds, len(list((folder / "salida").glob("*.eml")))


def kill_trial(server: PgTestServer, book: Path, work: Path, due: int, seed: int) -> dict:
    """One SIGKILL after a random number of messages, then a restart: what arrived."""
    url = server.new_database()
    work = work / f"trial{seed}"  # its own folder: no SQLite history beside it to take in
    work.mkdir()
    copy = Path(shutil.copyfile(book, work / book.name))
    after = random.Random(seed).randint(1, max(due - 2, 1))
    with SlowSmtpServer(delay=0.05) as smtp:
        command = [*CLI, "sync", str(copy), "--as-of", AT, "--ledger-url", url]
        proc = subprocess.Popen(command, cwd=work, env=environment(smtp),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while smtp.in_data() < after and proc.poll() is None:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        while not smtp.idle():
            time.sleep(0.01)
        smtp.delay = 0.0
        subprocess.run(command, cwd=work, env=environment(smtp), capture_output=True,
                       timeout=300, check=True)
        received = [clave(m) for m in smtp.received()]
    with psycopg.connect(url) as db:
        states = dict(db.execute("SELECT DISTINCT message_id, state FROM sends").fetchall())
    sent = {k for k, s in states.items() if s in ("enviado", "incierto", "enviando")}
    return {"duplicates": sum(n - 1 for n in Counter(received).values()),
            "enviando": sum(s == "enviando" for s in states.values()),
            "incierto": sum(s == "incierto" for s in states.values()),
            "lost": len(sent - set(received) - {k for k, s in states.items()
                                                if s == "incierto"}),
            "missing": due - len(set(received) | {k for k, s in states.items()
                                                   if s == "incierto"}),
            "sent": len(set(received))}


def demo_book(work: Path) -> tuple[Path, int]:
    """The 40-invoice demo book and how many messages an undisturbed sync sends."""
    book = work / "demo.xlsm"
    subprocess.run([*CLI, "init", "--demo", "--as-of", "2026-12-01", "--facturas", "40",
                    str(book)], cwd=work, env=environment(SmtpTestServer()), check=True,
                   capture_output=True)
    with SmtpTestServer() as smtp:
        (work / "ref").mkdir()
        reference = Path(shutil.copyfile(book, work / "ref" / "ref.xlsm"))
        subprocess.run([*CLI, "sync", str(reference), "--as-of", AT, "--ledger",
                        str(work / "ref.sqlite")], cwd=work, env=environment(smtp), check=True,
                       capture_output=True)
        return book, len(smtp.received())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ledger_claims", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--claims", type=int, default=2000)
    p.add_argument("--invoices", type=int, default=100_000)
    p.add_argument("--kill-trials", type=int, default=10)
    args = p.parse_args(argv)
    if pg_bin() is None:
        raise SystemExit("PostgreSQL no instalado (apt-get install postgresql)")
    root = Path(tempfile.mkdtemp(prefix="cobranza-ledger-bench-"))
    root.chmod(0o755)
    server = PgTestServer(root / "pg", pg_bin(), durable=True)  # type: ignore[arg-type]
    (root / "pg").mkdir()
    server.init().start()
    try:
        report(server, root, args)
    finally:
        server.stop("fast")
        shutil.rmtree(root, ignore_errors=True)
    return 0


def report(server: PgTestServer, root: Path, args: argparse.Namespace) -> None:
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    print(f"Measured {when} on {os.cpu_count()} cores, PostgreSQL "
          f"{server.bin.parent.name} on localhost (fsync on), Python "
          f"{sys.version.split()[0]}.\n")
    rates = claim_rates(server, root, args.claims)
    print("| ledger | claims/s | claim + record /s |\n|---|---|---|")
    for name, (claim, both) in rates.items():
        print(f"| {name} | {claim:,.0f} | {both:,.0f} |")
    if args.invoices:
        from benchmarks.generate import cached_workbook

        log(f"== first sync of {args.invoices} invoices")
        book = cached_workbook(args.invoices)
        print(f"\n| first real sync, {args.invoices:,} invoices, outbox | wall s | .eml |")
        print("|---|---|---|")
        for name, url in (("SQLite", None), ("PostgreSQL", server.new_database())):
            log(f"   {name}")
            seconds, written = first_sync(book, root / "sync", url)
            print(f"| {name} | {seconds:.1f} | {written:,} |")
    if args.kill_trials:
        work = root / "kill"
        work.mkdir()
        book, due = demo_book(work)
        trials = []
        for seed in range(args.kill_trials):
            log(f"   kill trial {seed + 1}/{args.kill_trials}")
            trials.append(kill_trial(server, book, work, due, seed))
        print(f"\nSIGKILL trials: {len(trials)}, duplicates "
              f"{sum(t['duplicates'] for t in trials)}, left enviando "
              f"{sum(t['enviando'] for t in trials)}, incierto "
              f"{sum(t['incierto'] for t in trials)}, lost {sum(t['lost'] for t in trials)}, "
              f"due but never sent {sum(t['missing'] for t in trials)} "
              f"({due} messages due per trial).")


if __name__ == "__main__":
    raise SystemExit(main())
