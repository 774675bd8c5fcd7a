"""The performance benchmark of issue 6: floor, naive peer, our sync, its steps, the UDFs.

    python -m benchmarks.run --sizes 10000,100000,500000 [--repeat 3] [--huge] [--naive-all]
    python -m benchmarks.run --sizes 100000 --shape deep --ratio   # issue 18's criterion

Per N it times, in this process run after run (median of --repeat):
  floor   pandas read_excel(engine="calamine") of every input sheet the sync reads;
  naive   openpyxl.load_workbook(keep_vba=True) + a plain-Python compute + save;
  sync    run_cycle(copy, AT, dry_run=True, ledger_path=tmp) on a fresh copy each run;
  plan    sync.cycle.plan alone (frames already computed, empty ledger);
  write   sync.xlsx.writer.write_outputs alone (the cycle's own sheets, fresh copy);
and then as whole processes (wall time and peak RSS from os.wait4 of each child):
floor, naive and `cobranza sync --dry-run` as the entry point `sync.launch:console` runs it.
It also splits one in-process cycle into its phases, checks that the sync left every
non-output part of the package as it was, and times each UDF core of addin/udfs.py on a
--udf-n row column (cold: first call on a fresh Book; warm: next calls).
Progress goes to stderr; the Markdown tables go to stdout.
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from benchmarks.generate import AS_OF, SHAPES, cached_workbook
from sync.cycle import OUTPUT_SHEETS  # the sheets the sync may rewrite, one list

AT = datetime(AS_OF.year, AS_OF.month, AS_OF.day, 10, 0)
# Shared parts the writer edits additively: compared entry by entry, not byte for byte.
SEMANTIC = {"[Content_Types].xml", "xl/workbook.xml", "xl/_rels/workbook.xml.rels",
            "xl/styles.xml", "xl/calcChain.xml"}
NAIVE_MAX = 100_000  # above this the naive peer is estimated unless --naive-all
HUGE = 1_048_575
PROJECT_PACKAGES = ("cobranza", "sync", "addin", "benchmarks")
TARGETS = {"sync/floor at 100 000": 2.0, "naive/sync": 5.0, "peak MB at 100 000": 600,
           "UDF s at 100 000": 0.3, "500k/100k": 5.5}

Step = Callable[[Path, Path], float]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- the steps (each returns its own timed seconds) ------------------------------------


def floor_sheets(book: Path) -> list[str]:
    """The workbook's sheets that a sync reads (`sync.xlsx.reader.input_sheets`)."""
    import python_calamine

    from sync.xlsx.reader import input_sheets

    with python_calamine.CalamineWorkbook.from_path(str(book)) as wb:
        return list(input_sheets(wb.sheet_names).values())


def step_floor(book: Path, work: Path) -> float:
    import pandas as pd

    sheets = floor_sheets(book)
    start = time.perf_counter()
    pd.read_excel(book, sheet_name=sheets, engine="calamine")
    return time.perf_counter() - start


def step_naive(book: Path, work: Path) -> float:
    import openpyxl

    start = time.perf_counter()
    wb = openpyxl.load_workbook(book, keep_vba=True)
    alerts = naive_compute(wb, AS_OF)
    ws = wb["Alertas"]
    ws.delete_rows(1, ws.max_row)
    ws.append(["Tipo", "Cliente", "Factura", "Saldo", "Días"])
    for row in alerts:
        ws.append(row)
    wb.save(work / "naive.xlsm")
    return time.perf_counter() - start


def naive_compute(wb, as_of: date) -> list[tuple]:
    """What a typical script does: dicts over rows, balance, days, bucket, an alert list."""
    paid: dict[object, float] = defaultdict(float)
    for row in wb["Pagos"].iter_rows(min_row=2, values_only=True):
        if isinstance(row[3], int | float):
            paid[row[2]] += row[3]
    last: dict[object, str] = {}
    for row in wb["Gestiones"].iter_rows(min_row=2, values_only=True):
        if row[4]:
            last[row[3]] = row[4]
    alerts = []
    for row in wb["Facturas"].iter_rows(min_row=2, values_only=True):
        number, customer, _issued, due, _cur, amount = row[:6]
        if not isinstance(amount, int | float) or not isinstance(due, datetime):
            continue
        balance = amount - paid.get(number, 0.0)
        days = (as_of - due.date()).days
        if balance > 0 and days >= 60 and last.get(number) not in ("Disputa", "Castigo"):
            alerts.append(("Acciones", customer, number, round(balance, 2), days))
    return alerts


def _fresh_copy(book: Path, work: Path) -> Path:
    target = work / "sync" / book.name
    if target.parent.exists():
        shutil.rmtree(target.parent)
    target.parent.mkdir(parents=True)
    shutil.copyfile(book, target)
    return target


def step_sync(book: Path, work: Path) -> float:
    from sync.cycle import run_cycle

    copy = _fresh_copy(book, work)
    start = time.perf_counter()
    run_cycle(copy, AT, dry_run=True, ledger_path=copy.parent / "ledger.sqlite")
    return time.perf_counter() - start


def _computed(book: Path):
    from sync import cycle
    from sync.xlsx.reader import read_book

    data = read_book(book)
    return cycle.compute(data, cycle.localize(AT, data))


@contextlib.contextmanager
def _history(work: Path, now: datetime) -> Iterator[object]:
    from sync.ledger.store import Ledger

    path = work / "plan-ledger.sqlite"
    path.unlink(missing_ok=True)
    opener = getattr(Ledger, "open", None)
    # since issue 10 a ledger handle belongs to one workbook id; older revisions have none
    book = ("benchmark",) if "book" in inspect.signature(Ledger.__init__).parameters else ()
    with opener(path, now, *book) if opener else Ledger(path, *book) as ledger:
        yield ledger.history(now)


def step_plan(book: Path, work: Path, computed=None) -> float:
    from sync import cycle

    computed = computed or _computed(book)
    with _history(work, computed.now) as history:
        start = time.perf_counter()
        cycle.plan(computed, history)
        return time.perf_counter() - start


def cycle_sheets(book: Path, work: Path) -> list:
    """The output sheets one dry-run cycle writes, caught on their way to the writer."""
    from sync import cycle
    from sync.xlsx.writer import WriteResult

    caught: list = []
    real = cycle.write_outputs

    def catch(path: Path, sheets: list, **kw: object) -> WriteResult:
        caught.extend(sheets)
        return WriteResult((), None, 0)

    cycle.write_outputs = catch
    try:
        copy = _fresh_copy(book, work)
        cycle.run_cycle(copy, AT, dry_run=True, ledger_path=copy.parent / "ledger.sqlite")
    finally:
        cycle.write_outputs = real
    return caught


def step_write(book: Path, work: Path, sheets: list | None = None) -> float:
    from sync.xlsx.writer import write_outputs

    sheets = sheets if sheets is not None else cycle_sheets(book, work)
    copy = _fresh_copy(book, work)
    start = time.perf_counter()
    write_outputs(copy, sheets, now=AT)
    return time.perf_counter() - start


STEPS: dict[str, Step] = {"floor": step_floor, "naive": step_naive, "sync": step_sync,
                          "plan": step_plan, "write": step_write}


# --- phases of one cycle -----------------------------------------------------------------


PHASES = (("sync.cycle", "read_book", "read + validate"), ("sync.cycle", "compute", "compute"),
          ("sync.cycle", "plan", "plan"), ("sync.cycle", "deliver", "deliver (dry run)"),
          ("sync.cycle", "report_sheets", "layout: reports"),
          ("cobranza.layout.sends", "envios_sheet", "layout: Envíos"),
          ("cobranza.layout.sends", "preview_sheet", "layout: Vista previa"),
          ("sync.cycle", "write_outputs", "write outputs"))


def phases(book: Path, work: Path) -> dict[str, float]:
    """Seconds per phase of one run_cycle, by wrapping the functions it calls."""
    import importlib

    from sync.cycle import run_cycle

    spent: dict[str, float] = {}
    patched = []
    for module_name, attr, label in PHASES:
        module = importlib.import_module(module_name)
        real = getattr(module, attr, None)
        if real is None:
            continue
        patched.append((module, attr, real))
        setattr(module, attr, _timed(real, label, spent))
    copy = _fresh_copy(book, work)
    start = time.perf_counter()
    try:
        run_cycle(copy, AT, dry_run=True, ledger_path=copy.parent / "ledger.sqlite")
    finally:
        for module, attr, real in patched:
            setattr(module, attr, real)
    spent["whole cycle"] = time.perf_counter() - start
    return spent


def _timed(fn: Callable, label: str, spent: dict[str, float]) -> Callable:
    def wrapper(*args, **kwargs):
        start = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] = spent.get(label, 0.0) + time.perf_counter() - start

    return wrapper


# --- preservation ------------------------------------------------------------------------


def preservation_problems(before: Path, after: Path) -> list[str]:
    """Members of `before` that the sync changed but should not have (empty = preserved).

    Output sheets' own parts may change; SEMANTIC parts may only gain entries; every other
    member must keep its bytes, CRC and compressed size.
    """
    owned = output_parts(before)
    old, new = _members(before), _members(after)
    problems = [f"{name}: missing" for name in old if name not in new and name not in owned]
    for name, value in old.items():
        if name in owned or name not in new:
            continue
        if name in SEMANTIC:
            if not _leaves(value[0]) <= _leaves(new[name][0]):
                problems.append(f"{name}: entries lost")
        elif new[name] != value:
            problems.append(f"{name}: changed")
    return problems


def output_parts(book: Path) -> set[str]:
    """Each output sheet's part and everything reachable from it through relationships."""
    from sync.xlsx.package import Relationships, Workbook, rels_path, resolve

    with zipfile.ZipFile(book) as zf:
        names = set(zf.namelist())
        wb = Workbook(zf.read(Workbook.PART), Relationships(zf.read("xl/_rels/workbook.xml.rels")))
        queue = [e.part for e in wb.sheets() if e.name in OUTPUT_SHEETS]
        owned: set[str] = set()
        while queue:
            part = queue.pop()
            owned.add(part)
            rels = rels_path(part)
            if rels in names:
                owned.add(rels)
                queue += [resolve(part, r.target) for r in Relationships(zf.read(rels)).rels
                          if not r.external and resolve(part, r.target) not in owned]
    return owned


def _members(path: Path) -> dict[str, tuple[bytes, int, int]]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: (z.read(i), i.CRC, i.compress_size) for i in z.infolist()}


def _leaves(xml: bytes) -> set[tuple]:
    from lxml import etree

    root = etree.fromstring(xml)
    return {(el.tag, tuple(sorted(el.attrib.items())), el.text) for el in root.iter()
            if isinstance(el.tag, str) and not len(el)}


def check_synced_copy(book: Path, work: Path) -> tuple[Path, list[str]]:
    """Sync a fresh copy once; the synced file and its preservation problems."""
    from sync.cycle import run_cycle

    copy = _fresh_copy(book, work)
    run_cycle(copy, AT, dry_run=True, ledger_path=copy.parent / "ledger.sqlite")
    return copy, preservation_problems(book, copy)


# --- UDFs --------------------------------------------------------------------------------


def udf_timings(book: Path, repeat: int) -> dict[str, tuple[float, float]]:
    """UDF core -> (cold seconds, warm median seconds) on the book's first --udf-n rows."""
    from addin import udfs
    from sync.xlsx.reader import read_book, read_raw

    raw = read_raw(book)["Facturas"]
    columns = {"due": [[v] for v in raw["Vencimiento"]], "invoice": [[v] for v in raw["Factura"]],
               "customer": [[v] for v in raw["Cliente"]]}
    args = {"DIAS_VENCIDOS": "due", "TRAMO_MORA": "due", "SALDO": "invoice",
            "ESTATUS_COBRO": "invoice", "PROXIMO_AVISO": "invoice", "USO_CREDITO": "customer"}
    out = {}
    for name, core in udfs.CORES.items():
        udfs.clear_cache()
        data = read_book(book)  # a fresh Book: nothing memoized for it yet
        values = ((columns["invoice"], columns["due"]) if name == "CALCULO_FACTURAS"
                  else columns[args.get(name, "invoice")])
        cold = _once(lambda core=core, data=data, values=values: core(values, data, AS_OF))
        warm = [_once(lambda core=core, data=data, values=values: core(values, data, AS_OF))
                for _ in range(repeat)]
        out[name] = (cold, statistics.median(warm))
    return out


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


# --- whole processes ----------------------------------------------------------------------


def child_command(step: str, book: Path, work: Path) -> list[str]:
    if step == "sync":
        copy = _fresh_copy(book, work)
        return [sys.executable, "-c", "from sync.launch import console; console()", "sync",
                str(copy), "--dry-run",
                "--as-of", f"{AT:%Y-%m-%dT%H:%M}", "--ledger", str(copy.parent / "l.sqlite")]
    return [sys.executable, "-m", "benchmarks.run", "--child", step, "--book", str(book),
            "--work", str(work)]


def run_process(command: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one child process.

    A child forked from this (big) process starts with its parent's high-water mark, so
    the child is started by /usr/bin/time, a small process, which reports its peak RSS;
    without it, os.wait4's ru_maxrss is used (an upper bound).
    """
    timer = shutil.which("time", path="/usr/bin")
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        wrapped = [timer, "-o", out.name, "-f", "%M"] + command if timer else command
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                cwd=Path(__file__).resolve().parent.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.returncode = code
        if code:
            raise RuntimeError(f"{' '.join(command)} failed ({code}):\n{err[-2000:]}")
        peak_kb = int(out.read().split()[-1]) if timer else usage.ru_maxrss
    return wall, peak_kb / 1024


def cli_ratio(book: Path, work: Path, repeat: int) -> tuple[float, float]:
    """Median floor seconds (read time in a fresh process) and median wall seconds of the
    command-line dry-run sync, run alternately `repeat` times each (the load of a shared
    machine falls on both alike)."""
    floors, syncs = [], []
    for i in range(repeat):
        out = subprocess.run(child_command("floor", book, work), capture_output=True,
                             text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
        floors.append(json.loads(out.stdout.splitlines()[-1])["seconds"])
        syncs.append(run_process(child_command("sync", book, work))[0])
        log(f"   run {i + 1}: floor {floors[-1]:.2f} s, sync process {syncs[-1]:.2f} s")
    return statistics.median(floors), statistics.median(syncs)


def ratio_table(results: list[SizeResult], shape: str) -> str:
    head = "| shape | N | file MB | floor s | sync process s | sync/floor |"
    lines = [head, _rule(head)]
    for r in results:
        floor, sync = r.process["ratio"]
        lines.append(f"| {shape} | {r.n:,} | {r.file_mb:.1f} | {floor:.2f} | {sync:.2f} "
                     f"| {sync / floor:.2f} |".replace(",", " "))
    return "\n".join(lines)


# --- orchestration -----------------------------------------------------------------------


@dataclass
class SizeResult:
    n: int
    seconds: dict[str, float] = field(default_factory=dict)  # in-process medians
    process: dict[str, tuple[float, float]] = field(default_factory=dict)  # wall, MB
    estimated: set[str] = field(default_factory=set)
    phases: dict[str, float] = field(default_factory=dict)
    preserved: list[str] | None = None
    file_mb: float = 0.0


def median_of(step: Step, book: Path, work: Path, repeat: int) -> float:
    return statistics.median(step(book, work) for _ in range(repeat))


def measure(n: int, args: argparse.Namespace, work: Path) -> SizeResult:
    log(f"== N = {n:,}: workbook")
    book = cached_workbook(n, directory=args.cache, shape=args.shape)
    result = SizeResult(n, file_mb=book.stat().st_size / 1e6)
    if args.ratio:
        result.process["ratio"] = cli_ratio(book, work, args.repeat)
        return result
    naive = n <= NAIVE_MAX or args.naive_all
    for name in ("floor", "naive", "sync"):
        if name == "naive" and not naive:
            continue
        log(f"   {name} (in process, x{args.repeat})")
        result.seconds[name] = median_of(STEPS[name], book, work, args.repeat)
    log("   plan, write (in process)")
    computed = _computed(book)
    result.seconds["plan"] = statistics.median(
        step_plan(book, work, computed) for _ in range(args.repeat))
    del computed
    sheets = cycle_sheets(book, work)
    result.seconds["write"] = statistics.median(
        step_write(book, work, sheets) for _ in range(args.repeat))
    del sheets
    log("   phases and preservation")
    result.phases = phases(book, work)
    result.preserved = check_synced_copy(book, work)[1]
    if not args.no_process:
        for name in ("floor", "naive", "sync"):
            if name == "naive" and not naive:
                continue
            log(f"   {name} (whole process, x{args.repeat})")
            runs = [run_process(child_command(name, book, work)) for _ in range(args.repeat)]
            result.process[name] = (statistics.median(r[0] for r in runs),
                                    max(r[1] for r in runs))
    return result


def estimate_naive(results: list[SizeResult]) -> None:
    """Skipped naive runs: linear in N from the largest measured one (marked ~)."""
    measured = [r for r in results if "naive" in r.seconds]
    if not measured:
        return
    base = max(measured, key=lambda r: r.n)
    for r in results:
        if "naive" in r.seconds:
            continue
        scale = r.n / base.n
        r.seconds["naive"] = base.seconds["naive"] * scale
        if "naive" in base.process:
            wall, mb = base.process["naive"]
            r.process["naive"] = (wall * scale, mb * scale)
        r.estimated.add("naive")


# --- report --------------------------------------------------------------------------------


def _s(value: float | None, estimated: bool = False) -> str:
    if value is None:
        return "—"
    text = f"{value:.2f}" if value < 100 else f"{value:.0f}"
    return f"~{text}" if estimated else text


def _ratio(a: float | None, b: float | None, estimated: bool = False) -> str:
    if not a or not b:
        return "—"
    return f"{'~' if estimated else ''}{a / b:.2f}"


def main_table(results: list[SizeResult]) -> str:
    head = ("| N | file MB | floor s | sync s | naive s | plan s | write s | sync/floor "
            "| naive/sync | floor MB | sync MB | naive MB | sync process s | preserved |")
    lines = [head, _rule(head)]
    for r in results:
        s, p, est = r.seconds, r.process, "naive" in r.estimated
        lines.append("| " + " | ".join([
            f"{r.n:,}".replace(",", " "), f"{r.file_mb:.1f}", _s(s.get("floor")),
            _s(s.get("sync")), _s(s.get("naive"), est), _s(s.get("plan")), _s(s.get("write")),
            _ratio(s.get("sync"), s.get("floor")), _ratio(s.get("naive"), s.get("sync"), est),
            _mb(p.get("floor")), _mb(p.get("sync")), _mb(p.get("naive"), est),
            _s(p["sync"][0]) if "sync" in p else "—",
            "—" if r.preserved is None else ("yes" if not r.preserved else "NO"),
        ]) + " |")
    return "\n".join(lines)


def _rule(head: str) -> str:
    return "|" + "---|" * (head.count("|") - 1)


def _mb(value: tuple[float, float] | None, estimated: bool = False) -> str:
    return "—" if value is None else f"{'~' if estimated else ''}{value[1]:.0f}"


def phase_table(results: list[SizeResult]) -> str:
    labels = [label for _, _, label in PHASES] + ["whole cycle"]
    head = "| phase | " + " | ".join(f"N = {r.n:,}".replace(",", " ") for r in results) + " |"
    lines = [head, _rule(head)]
    for label in labels:
        cells = [_s(r.phases.get(label)) for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def udf_table(timings: dict[str, tuple[float, float]], n: int) -> str:
    head = f"| UDF core ({n:,} rows) | cold s | warm s | <= 0.3 s |".replace(",", " ")
    lines = [head, _rule(head)]
    for name, (cold, warm) in timings.items():
        ok = "yes" if cold <= TARGETS["UDF s at 100 000"] else (
            "warm only" if warm <= TARGETS["UDF s at 100 000"] else "no")
        lines.append(f"| {name} | {cold:.3f} | {warm:.3f} | {ok} |")
    return "\n".join(lines)


def targets_table(results: list[SizeResult], udf: dict[str, tuple[float, float]]) -> str:
    by_n = {r.n: r for r in results}
    rows = []
    if 100_000 in by_n:
        r = by_n[100_000]
        ratio = r.seconds["sync"] / r.seconds["floor"]
        rows.append(("sync/floor <= 2.0 at 100 000", f"{ratio:.2f}", ratio <= 2.0))
        if "sync" in r.process:
            mb = r.process["sync"][1]
            rows.append(("peak memory <= 600 MB at 100 000 (sync process)", f"{mb:.0f} MB",
                         mb <= 600))
    for r in results:
        if "naive" in r.seconds and r.seconds.get("sync"):
            ratio = r.seconds["naive"] / r.seconds["sync"]
            est = "~" if "naive" in r.estimated else ""
            rows.append((f"naive/sync >= 5 at {r.n:,}".replace(",", " "), f"{est}{ratio:.1f}",
                         ratio >= 5))
    if udf:
        worst = max(c for c, _ in udf.values())
        rows.append(("each UDF <= 0.3 s (cold)", f"max {worst:.3f} s", worst <= 0.3))
    if 100_000 in by_n and 500_000 in by_n:
        growth = by_n[500_000].seconds["sync"] / by_n[100_000].seconds["sync"]
        rows.append(("500 000 run <= 5.5x the 100 000 run", f"{growth:.2f}x", growth <= 5.5))
    head = "| target | measured | met |"
    return "\n".join([head, _rule(head)] + [f"| {t} | {m} | {'yes' if ok else 'NO'} |"
                                            for t, m, ok in rows])


def report(results: list[SizeResult], udf: dict, args: argparse.Namespace) -> str:
    when = datetime.now().strftime("%Y-%m-%d %H:%M")
    command = "python -m benchmarks.run " + " ".join(args.argv)
    parts = [
        f"Measured {when} on {os.cpu_count()} cores, Python {sys.version.split()[0]}; "
        f"`{command}`. Seconds are medians of {args.repeat}; MB is the peak RSS of a fresh "
        "process (os.wait4); ~ = estimated linearly from the largest measured naive run.",
        "", main_table(results), "", "Phases of one in-process cycle (seconds):", "",
        phase_table(results),
    ]
    if udf:
        parts += ["", udf_table(udf, args.udf_n)]
    parts += ["", targets_table(results, udf)]
    problems = [f"N={r.n}: {p}" for r in results for p in (r.preserved or [])]
    if problems:
        parts += ["", "Preservation problems:", *[f"- {p}" for p in problems]]
    return "\n".join(parts)


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="10000,100000,500000",
                   help="comma-separated invoice counts (default 10000,100000,500000)")
    p.add_argument("--repeat", type=int, default=3, help="runs per measurement (>= 3 to report)")
    p.add_argument("--huge", action="store_true", help=f"also N = {HUGE:,} (Excel's limit)")
    p.add_argument("--naive-all", action="store_true",
                   help=f"run the naive peer above {NAIVE_MAX:,} rows too (slow)")
    p.add_argument("--no-process", action="store_true", help="skip the whole-process runs")
    p.add_argument("--udf-n", type=int, default=100_000, help="rows for the UDF timings (0 = skip)")
    p.add_argument("--cache", type=Path, help="where generated workbooks are kept")
    p.add_argument("--shape", choices=SHAPES, default="demo",
                   help="book shape (benchmarks.generate): demo (default) or deep")
    p.add_argument("--ratio", action="store_true",
                   help="only the floor and the command-line dry-run sync, alternating")
    p.add_argument("--json", type=Path, help="also write the raw results as JSON here")
    p.add_argument("--child", choices=sorted(STEPS), help=argparse.SUPPRESS)
    p.add_argument("--book", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = argv
    return args


def compile_project() -> None:
    """Byte-compile the project's packages in the checkout the children import them from,
    as `pip install .` does for an installed copy: run from a checkout where Python
    cannot cache bytecode (PYTHONDONTWRITEBYTECODE=1, as on the benchmark machine), every
    timed sync would compile its ~120 modules again (~0.2 s of CPU at 100 000 invoices)
    while the floor's pandas comes compiled from its wheel."""
    import compileall

    root = Path(__file__).resolve().parent.parent
    for package in PROJECT_PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def run(args: argparse.Namespace) -> tuple[list[SizeResult], dict]:
    sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()} |
                   ({HUGE} if args.huge else set()))
    compile_project()
    with tempfile.TemporaryDirectory(prefix="cobranza-bench-") as tmp:
        work = Path(tmp)
        results = []
        for n in sizes:
            results.append(measure(n, args, work))
            if not args.ratio:
                log(main_table(results[-1:]))  # partial results survive a later failure
        if args.ratio:
            return results, {}
        estimate_naive(results)
        udf = {}
        if args.udf_n:
            log(f"== UDF cores on {args.udf_n:,} rows")
            try:
                udf = udf_timings(cached_workbook(args.udf_n, directory=args.cache,
                                                  shape=args.shape), args.repeat)
            except Exception as exc:  # noqa: BLE001 - keep the measured sizes
                log(f"   UDF timings failed: {type(exc).__name__}: {exc}")
    return results, udf


def main(argv: list[str] | None = None) -> int:
    args = parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.child:
        seconds = STEPS[args.child](args.book, args.work)
        print(json.dumps({"step": args.child, "seconds": seconds}))
        return 0
    results, udf = run(args)
    if args.ratio:
        print(ratio_table(results, args.shape))
        return 0
    if args.json:
        args.json.write_text(json.dumps({"results": [r.__dict__ | {"estimated": sorted(
            r.estimated)} for r in results], "udf": udf}, indent=2, default=str))
    print(report(results, udf, args))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
