"""How often the demo's customers and staff are emailed, day by day (issue 12's figures).

    python -m benchmarks.contact_policy [--repo DIR] [--days 43] [--start 2026-12-01]
                                        [--times 08:30,16:00] [--invoices 2000]

Creates the demo workbook (`cobranza init --demo`) of the code in --repo (default: this
checkout; give an older checkout to measure before a change), then runs `cobranza sync`
at each of --times on each of --days consecutive days, as the service would, with no
SMTP settings: every message is an .eml file in the outbox folder `salida/`. Each file
is attributed to the day of the sync that wrote it and read back:

* customer emails (X-Cobranza-Clave not starting with "resumen"): per recipient and day,
  the max and mean count over the (recipient, day) pairs that got one, and how many
  pairs got more than one;
* digests (keys starting with "resumen") sent on a day that is not a business day of the
  company (weekend or a Mexican holiday by the `holidays` package, the demo's País
  feriados), counted independently of the product's own calendar;
* the ledger's customer notices at the end, by state and reason code (does holding a
  notice to the next day make it late?).

Prints a Markdown table; progress to stderr.
"""

from __future__ import annotations

import argparse
import email
import os
import sqlite3
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.policy import default as default_policy
from email.utils import getaddresses
from pathlib import Path

import holidays

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Tally:
    per_day: Counter[tuple[str, date]] = field(default_factory=Counter)  # customer emails
    digests_off: Counter[date] = field(default_factory=Counter)  # on non-business days
    digests: int = 0
    notices: Counter[str] = field(default_factory=Counter)  # ledger keys by state/reason


def cli(repo: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("COBRANZA_SMTP_", "COBRANZA_LEDGER"))}
    env |= {"PYTHONPATH": str(repo), "COBRANZA_PROGRESS": "0"}
    done = subprocess.run([sys.executable, "-m", "sync.cli", *args], cwd=repo, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"cobranza {' '.join(args)}:\n{done.stderr[-2000:]}")


def read(path: Path) -> tuple[str, tuple[str, ...]]:
    """(X-Cobranza-Clave, To addresses) of one .eml file."""
    with path.open("rb") as f:
        msg = email.message_from_binary_file(f, policy=default_policy)
    to = tuple(sorted(a.lower() for _, a in getaddresses([str(msg["To"] or "")]) if a))
    return str(msg["X-Cobranza-Clave"] or ""), to


def measure(repo: Path, start: date, days: int, times: list[str], invoices: int) -> Tally:
    tally = Tally()
    business = holidays.country_holidays("MX", years=range(start.year, start.year + 2))
    with tempfile.TemporaryDirectory(prefix="cobranza-contacto-") as tmp:
        book = Path(tmp) / "demo.xlsm"
        cli(repo, "init", str(book), "--demo", "--as-of", start.isoformat(),
            "--facturas", str(invoices))
        outbox = Path(tmp) / "salida"
        seen: set[Path] = set()
        for offset in range(days):
            day = start + timedelta(days=offset)
            for at in times:
                cli(repo, "sync", str(book), "--as-of", f"{day.isoformat()}T{at}")
            new = sorted(set(outbox.glob("*.eml")) - seen) if outbox.exists() else []
            seen.update(new)
            off = day.weekday() >= 5 or day in business
            for path in new:
                key, to = read(path)
                if key.startswith("resumen"):
                    tally.digests += 1
                    tally.digests_off[day] += off
                else:
                    tally.per_day[(";".join(to), day)] += 1
            print(f"{day:%d/%m/%Y}: {len(new)} mensajes", file=sys.stderr)
        with sqlite3.connect(Path(tmp) / ".cobranza" / "ledger.sqlite") as db:
            for state, why, n in db.execute(
                    "SELECT state, reason_code, COUNT(*) FROM sends WHERE kind = 'aviso' "
                    "GROUP BY state, reason_code"):
                tally.notices[f"{state} {why}".strip()] += n
    return tally


def report(tally: Tally, start: date, days: int) -> str:
    counts = list(tally.per_day.values())
    first = [n for (_, day), n in tally.per_day.items() if day == start]
    off = sum(tally.digests_off.values())
    off_days = sorted(d for d, n in tally.digests_off.items() if n)
    rows = [
        ("customer emails", f"{sum(counts)}"),
        ("(recipient, day) pairs emailed", f"{len(counts)}"),
        ("emails per recipient per day: max", f"{max(counts, default=0)}"),
        ("emails per recipient per day: mean", f"{sum(counts) / max(len(counts), 1):.2f}"),
        ("pairs with more than one email", f"{sum(n > 1 for n in counts)}"),
        (f"first day ({start:%d/%m/%Y}): max / mean",
         f"{max(first, default=0)} / {sum(first) / max(len(first), 1):.2f}"),
        ("digests", f"{tally.digests}"),
        ("digests on non-business days", f"{off}"
         + (f" ({', '.join(f'{d:%d/%m}' for d in off_days)})" if off_days else "")),
    ]
    rows += [(f"ledger notices: {what}", f"{n}") for what, n in sorted(tally.notices.items())]
    lines = [f"{days} days from {start:%d/%m/%Y}", "", "| figure | value |", "|---|---|"]
    return "\n".join(lines + [f"| {a} | {b} |" for a, b in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repo", type=Path, default=ROOT)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 12, 1))
    parser.add_argument("--days", type=int, default=43)
    parser.add_argument("--times", default="08:30,16:00")
    parser.add_argument("--invoices", type=int, default=2000)
    args = parser.parse_args(argv)
    tally = measure(args.repo.resolve(), args.start, args.days, args.times.split(","),
                    args.invoices)
    print(report(tally, args.start, args.days))
    return 0


if __name__ == "__main__":
    sys.exit(main())
