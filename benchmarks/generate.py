"""Realistic benchmark workbooks of N invoices, built through the project's own template.

    python -m benchmarks.generate 100000 [--out PATH] [--seed 7] [--shape demo|deep]

Rows come from `sync.workbook.demo.generate` (the `cobranza init --demo` data: every notice
stage, every status, customers in four countries) sized to N invoices, N/20 customers,
N/2 payments and N/10 gestiones (topped up with every Resultado), plus about 2 % bad rows
per input sheet and about 1 % of valid dates typed as dd/mm/aaaa text.

How the file is made: `addin.build_template.build` (the code that makes
workbook_template.xlsm and the demo workbook) writes the workbook with Clientes,
Cobradores and Áreas filled, ribbon and VBA included. xlsxwriter would need minutes for
the big sheets, so Facturas, Pagos and Gestiones are then streamed in as worksheet XML
(shared strings, the template's column styles, its formula cells on every Facturas row),
their tables and validation ranges extended; every other member is copied unchanged.
Files are cached per (N, seed, as-of, source hash) in `cache_dir()`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from lxml import etree

from addin import build_template
from addin.template import layout
from cobranza.book.config import WORKBOOK_ID
from cobranza.book.records import RESULTS
from sync.workbook import demo
from sync.xlsx.package import Relationships, Workbook, resolve
from sync.xlsx.writer import write_outputs

AS_OF = date(2026, 11, 25)  # a Wednesday; the runner syncs at 10:00 that day
# Book shapes: "demo" is the demo data sized to N; "deep" differs from it on purpose (see
# `make_deep_rows`). Both are synced at AS_OF.
SHAPES = ("demo", "deep")
DEEP_AHEAD = timedelta(days=90)  # deep: data dated up to 90 days after the cut-off
DEEP_INSTALMENTS = 3  # deep: each payment in up to 3 instalments
DEEP_CONTACTS_PER_INVOICE = 5  # deep: gestiones concentrated on few invoices
BAD_SHARE = 0.02
TEXT_DATE_SHARE = 0.01
HAND_MADE_ROWS = 100  # demo.generate's named cases come first; they are never spoiled
BIG_TABLES = ("tblFacturas", "tblPagos", "tblGestiones")
ROWS_PER_CHUNK = 20_000
EXCEL_EPOCH = date(1899, 12, 30)

Row = tuple[object, ...]
Tables = dict[str, list[Row]]
_ROOT = Path(__file__).resolve().parent.parent


# --- rows ------------------------------------------------------------------------------


def make_rows(n: int, *, seed: int = 7, as_of: date = AS_OF, shape: str = "demo") -> Tables:
    """Input rows keyed by Excel table name, deterministic for (n, seed, as_of, shape)."""
    if shape == "deep":
        return make_deep_rows(n, seed=seed, as_of=as_of)
    # without the demo's payment plans: exactly n invoices, as the benchmarks state
    data = demo.generate(as_of, seed=seed, invoices=n, customers=max(n // 20, 1), plans=False)
    rng = random.Random(f"bench-{seed}-{n}")
    invoices = list(data.invoices)
    payments = _resize(data.payments, n // 2, rng)
    contacts = _contacts(data, n // 10, rng, as_of)
    return _spoiled_tables(data, invoices, payments, contacts, rng)


def make_deep_rows(n: int, *, seed: int = 7, as_of: date = AS_OF) -> Tables:
    """A book unlike the demo's: N/10 customers over the same five collectors, the data
    dated around the cut-off (half the invoices issued after it, so many are open or not
    yet due), payments in instalments (~N payment rows) and N/2 gestiones on N/10 invoices
    (five each). The same share of bad rows and text dates as the demo shape."""
    data = demo.generate(as_of + DEEP_AHEAD, seed=seed, invoices=n,
                         customers=max(n // 10, 1), plans=False)
    rng = random.Random(f"bench-deep-{seed}-{n}")
    invoices = list(data.invoices)
    payments = _instalments(data.payments, rng)
    contacts = _deep_contacts(data, n // 2, rng, as_of)
    return _spoiled_tables(data, invoices, payments, contacts, rng)


def _spoiled_tables(data: demo.DemoData, invoices: list[Row], payments: list[Row],
                    contacts: list[Row], rng: random.Random) -> Tables:
    """The demo's tables with these three, each with its share of bad rows and of dates
    typed as text (both shapes alike)."""
    _spoil(invoices, rng, _bad_invoice)
    _spoil(payments, rng, _bad_payment)
    _spoil(contacts, rng, _bad_contact)
    _text_dates(invoices, rng, column=2)
    _text_dates(payments, rng, column=0)
    tables = data.tables()
    tables.update(tblFacturas=invoices, tblPagos=payments, tblGestiones=contacts)
    return tables


def _instalments(rows: list[Row], rng: random.Random) -> list[Row]:
    """Each bulk payment split into 1..DEEP_INSTALMENTS instalments a week apart (same
    total): long payment histories per invoice."""
    out = list(rows[:HAND_MADE_ROWS])
    for when, who, number, amount, ref in rows[HAND_MADE_ROWS:]:
        parts = rng.randint(1, DEEP_INSTALMENTS)
        if not isinstance(amount, float | int) or parts == 1:
            out.append((when, who, number, amount, ref))
            continue
        share = round(amount / parts, 2)
        for k in range(parts):
            last = k == parts - 1
            value = round(amount - share * (parts - 1), 2) if last else share
            out.append((when - timedelta(days=7 * (parts - 1 - k)), who, number, value,
                        f"{ref}-{k + 1}"))
    return out


def _deep_contacts(data: demo.DemoData, wanted: int, rng: random.Random,
                   as_of: date) -> list[Row]:
    """`wanted` gestiones, DEEP_CONTACTS_PER_INVOICE on each of a sample of the invoices
    due before `as_of`, all nine Resultado values."""
    collector = {c[0]: c[7] for c in data.customers}
    due = [r for r in data.invoices[HAND_MADE_ROWS:] if isinstance(r[3], date) and r[3] < as_of]
    chosen = rng.sample(due, min(len(due), wanted // DEEP_CONTACTS_PER_INVOICE))
    rows = list(data.contacts[:HAND_MADE_ROWS])
    rows += [_extra_contact(invoice, rng, as_of, collector, i * DEEP_CONTACTS_PER_INVOICE + k)
             for i, invoice in enumerate(chosen) for k in range(DEEP_CONTACTS_PER_INVOICE)]
    return rows[:HAND_MADE_ROWS] + sorted(rows[HAND_MADE_ROWS:], key=lambda r: (r[0], r[3]))


def _resize(rows: list[Row], wanted: int, rng: random.Random) -> list[Row]:
    """Keep the hand-made rows and a sample of the rest, in order, `wanted` in all."""
    head, bulk = rows[:HAND_MADE_ROWS], rows[HAND_MADE_ROWS:]
    keep = max(wanted - len(head), 0)
    if keep >= len(bulk):
        return list(rows)
    chosen = sorted(rng.sample(range(len(bulk)), keep))
    return head + [bulk[i] for i in chosen]


def _contacts(data: demo.DemoData, wanted: int, rng: random.Random, as_of: date) -> list[Row]:
    """Demo gestiones resized to `wanted`, topped up with all nine Resultado values."""
    rows = _resize(data.contacts, wanted, rng)
    collector = {c[0]: c[7] for c in data.customers}
    overdue = [r for r in data.invoices[HAND_MADE_ROWS:] if isinstance(r[3], date)
               and r[3] < as_of]
    extra = [_extra_contact(rng.choice(overdue), rng, as_of, collector, i)
             for i in range(max(wanted - len(rows), 0)) if overdue]
    return rows + sorted(extra, key=lambda r: (r[0], r[3]))


def _extra_contact(invoice: Row, rng: random.Random, as_of: date,
                   collector: dict[object, object], i: int) -> Row:
    number, customer, due = invoice[0], invoice[1], invoice[3]
    result = RESULTS[i % len(RESULTS)]
    span = max(min((as_of - due).days - 1, 30), 1)  # type: ignore[operator]
    when = as_of - timedelta(days=rng.randint(1, span))
    promise = when + timedelta(days=rng.randint(2, 15)) if result == "Promesa de pago" else None
    area = rng.choice(demo.AREAS)[0] if result == "Disputa" else None
    follow = (when + timedelta(days=rng.randint(1, 7))
              if result in ("Sin contacto", "Sin compromiso") else None)
    return (when, collector.get(customer), customer, number, result, promise, area,
            f"Gestión de seguimiento ({result.lower()})", follow)


def _spoil(rows: list[Row], rng: random.Random, make_bad) -> None:
    """Turn about BAD_SHARE of the bulk rows into bad input, one kind after another."""
    bulk = range(min(HAND_MADE_ROWS, len(rows)), len(rows))
    for kind, i in enumerate(rng.sample(bulk, int(len(bulk) * BAD_SHARE))):
        rows[i] = make_bad(list(rows[i]), kind, rows[i - 1])


def _bad_invoice(row: list, kind: int, previous: Row) -> Row:
    match kind % 6:
        case 0:
            row[3] = "31/02/2026"  # impossible date
        case 1:
            row[5] = "mil pesos"
        case 2:
            row[1] = "ZZZ000000XX0"  # unknown customer
        case 3:
            row[0] = None  # missing Factura
        case 4:
            row[0] = previous[0]  # duplicate Factura
        case _:
            row[5] = -abs(float(row[5]))  # type: ignore[arg-type]
    return tuple(row)


def _bad_payment(row: list, kind: int, previous: Row) -> Row:
    match kind % 3:
        case 0:
            row[2] = "F-9" + str(row[2])[2:]  # unknown invoice
        case 1:
            row[0] = "32/01/2026"
        case _:
            row[3] = "n/d"
    return tuple(row)


def _bad_contact(row: list, kind: int, previous: Row) -> Row:
    match kind % 3:
        case 0:
            row[4] = "Llamar la próxima semana"  # not a Resultado
        case 1:
            row[2] = None  # missing Cliente
        case _:
            row[0] = "ayer"
    return tuple(row)


def _text_dates(rows: list[Row], rng: random.Random, column: int) -> None:
    """Some valid dates typed as dd/mm/aaaa text, as people do."""
    for i in rng.sample(range(len(rows)), int(len(rows) * TEXT_DATE_SHARE)):
        value = rows[i][column]
        if isinstance(value, date):
            rows[i] = (*rows[i][:column], f"{value:%d/%m/%Y}", *rows[i][column + 1:])


# --- the package -----------------------------------------------------------------------


class SharedStrings:
    """xl/sharedStrings.xml of the built workbook, with new strings appended."""

    PART = "xl/sharedStrings.xml"

    def __init__(self, xml: bytes) -> None:
        root = etree.fromstring(xml)
        self._xml = xml
        self.count = int(root.get("count", "0"))
        self.index: dict[str, int] = {}
        for i, si in enumerate(root):
            self.index.setdefault("".join(si.itertext()), i)
        self._base = len(root)
        self._new: list[str] = []

    def __call__(self, text: str) -> int:
        self.count += 1
        found = self.index.get(text)
        if found is None:
            found = self.index[text] = self._base + len(self._new)
            self._new.append(text)
        return found

    def to_bytes(self) -> bytes:
        unique = self._base + len(self._new)
        items = "".join(f"<si>{_t(s)}</si>" for s in self._new).encode()
        head, _, _ = self._xml.rpartition(b"</sst>")
        head = re.sub(rb'count="\d+"', f'count="{self.count}"'.encode(), head, count=1)
        head = re.sub(rb'uniqueCount="\d+"', f'uniqueCount="{unique}"'.encode(), head, count=1)
        return head + items + b"</sst>"


def _t(text: str) -> str:
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if text != text.strip():
        return f'<t xml:space="preserve">{escaped}</t>'
    return f"<t>{escaped}</t>"


@dataclass
class SheetShape:
    """A built input sheet cut around its data rows."""

    head: str  # up to and including <sheetData> and the header row
    tail: str  # from </sheetData>
    styles: list[str]  # ' s="N"' (or "") per data column, from <cols>
    letters: list[str]
    formulas: list[str]  # row-2 formula cells with "{r}" for the row number

    @classmethod
    def parse(cls, xml: str, width: int) -> SheetShape:
        start = xml.index("<sheetData>") + len("<sheetData>")
        end = xml.index("</sheetData>")
        rows = xml[start:end]
        header = re.match(r'<row r="1".*?</row>', rows)
        assert header, "the template sheet has no header row"
        col_style = {}
        for col in re.findall(r"<col [^>]*/>", xml):
            first, style = re.search(r'min="(\d+)"', col), re.search(r'style="(\d+)"', col)
            if first and style:
                col_style[int(first[1])] = style[1]
        styles = [f' s="{col_style[c]}"' if col_style.get(c) else ""
                  for c in range(1, width + 1)]
        formulas = [re.sub(r'r="([A-Z]+)2"', r'r="\g<1>{r}"', cell)
                    for cell in re.findall(r"<c [^>]*><f>.*?</c>", rows)]
        letters = [_letter(c) for c in range(width)]
        return cls(xml[:start] + header.group(0), xml[end:], styles, letters, formulas)


def _letter(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


def _cell(ref: str, style: str, value: object, sst: SharedStrings) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return f'<c r="{ref}"{style} t="s"><v>{sst(value)}</v></c>'
    if isinstance(value, date):
        return f'<c r="{ref}"{style}><v>{(value - EXCEL_EPOCH).days}</v></c>'
    return f'<c r="{ref}"{style}><v>{value!r}</v></c>'


def _formula_cells(formulas: list[str], values: Sequence[object] | None) -> str:
    """The row's formula cells, each with its cached value (as the template builder
    writes them), or as the template's row 2 has them when `values` is None."""
    if values is None:
        return "".join(formulas)
    cells = []
    for cell, value in zip(formulas, values, strict=True):
        found = re.match(r'(<c [^>]*?)(?: t="\w+")?>(<f>.*?</f>)', cell)
        assert found, cell
        start, formula = found.groups()
        if isinstance(value, str):
            escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            cells.append(f'{start} t="str">{formula}<v>{escaped}</v></c>')
        else:
            cells.append(f"{start}>{formula}<v>{value!r}</v></c>")
    return "".join(cells)


def _row_chunks(shape: SheetShape, rows: Sequence[Row], sst: SharedStrings,
                cached: Sequence[Sequence[object]] = ()) -> Iterator[str]:
    cols = list(zip(shape.letters, shape.styles, strict=True))
    spans = f' spans="1:{len(cols) + len(shape.formulas)}"'
    chunk: list[str] = []
    for r, values in enumerate(rows, start=2):
        cells = "".join(_cell(f"{letter}{r}", style, v, sst)
                        for (letter, style), v in zip(cols, values, strict=True))
        row_values = cached[r - 2] if r - 2 < len(cached) else None
        formulas = _formula_cells(shape.formulas, row_values).replace("{r}", str(r))
        chunk.append(f'<row r="{r}"{spans}>{cells}{formulas}</row>')
        if len(chunk) == ROWS_PER_CHUNK:
            yield "".join(chunk)
            chunk = []
    yield "".join(chunk)


def _stream_sheet(out: IO[bytes], xml: str, rows: Sequence[Row], width: int,
                  sst: SharedStrings, cached: Sequence[Sequence[object]] = ()) -> None:
    shape = SheetShape.parse(xml, width)
    last = max(len(rows), 1) + 1
    last_col = _letter(width + len(shape.formulas) - 1)
    head = re.sub(r'<dimension ref="[^"]*"/>', f'<dimension ref="A1:{last_col}{last}"/>',
                  shape.head, count=1)
    out.write(head.encode())
    for chunk in _row_chunks(shape, rows, sst, cached):
        out.write(chunk.encode())
    end = max(layout.VALIDATION_ROWS, len(rows)) + 1
    out.write(re.sub(r'sqref="([A-Z]+)2:([A-Z]+)\d+"', rf'sqref="\g<1>2:\g<2>{end}"',
                     shape.tail).encode())


def _extend_table(xml: bytes, rows: int) -> bytes:
    last = max(rows, 1) + 1
    return re.sub(rb'ref="A1:([A-Z]+)\d+"', rb'ref="A1:\g<1>' + str(last).encode() + b'"', xml)


def _table_parts(zf: zipfile.ZipFile) -> dict[str, tuple[str, str]]:
    """Excel table name -> (its worksheet part, its table part)."""
    book = Workbook(zf.read(Workbook.PART), Relationships(zf.read("xl/_rels/workbook.xml.rels")))
    out = {}
    for entry in book.sheets():
        rels_name = entry.part.replace("worksheets/", "worksheets/_rels/") + ".rels"
        if rels_name not in zf.namelist():
            continue
        for rel in Relationships(zf.read(rels_name)).rels:
            part = resolve(entry.part, rel.target)
            if part.startswith("xl/tables/"):
                name = etree.fromstring(zf.read(part)).get("name")
                out[name] = (entry.part, part)
    return out


def _info(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, build_template.ZIP_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o600 << 16
    return info


def write_big_tables(built: Path, out: Path, tables: Tables,
                     cached: Sequence[Sequence[object]] = ()) -> None:
    """Copy `built` to `out`, streaming the rows of BIG_TABLES into their sheets (and
    `cached` as the Facturas formula cells' values)."""
    widths = {spec.name: len([c for c in spec.columns if not c.formula])
              for sheet in layout.INPUT_SHEETS for spec in sheet.tables}
    with zipfile.ZipFile(built) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        where = _table_parts(src)
        sheets = {where[t][0]: t for t in BIG_TABLES}
        table_parts = {where[t][1]: t for t in BIG_TABLES}
        sst = SharedStrings(src.read(SharedStrings.PART))
        for name in src.namelist():
            if name == SharedStrings.PART:
                continue
            if name in sheets:
                table = sheets[name]
                with dst.open(_info(name), "w") as fh:
                    _stream_sheet(fh, src.read(name).decode(), tables[table], widths[table], sst,
                                  cached if table == "tblFacturas" else ())
            elif name in table_parts:
                rows = len(tables[table_parts[name]])
                dst.writestr(_info(name), _extend_table(src.read(name), rows))
            else:
                dst.writestr(src.getinfo(name), src.read(name))
        dst.writestr(_info(SharedStrings.PART), sst.to_bytes())


def build_workbook(n: int, out: Path, *, seed: int = 7, as_of: date = AS_OF,
                   shape: str = "demo") -> Path:
    """Write the benchmark workbook of `n` invoices (of `shape`) to `out` and return it."""
    out = Path(out)
    tables = make_rows(n, seed=seed, as_of=as_of, shape=shape)
    small = {k: v for k, v in tables.items() if k not in BIG_TABLES}
    small[build_template.CUTOFF_KEY] = as_of
    with tempfile.TemporaryDirectory() as tmp:
        built = build_template.build(Path(tmp) / "small.xlsm", small)
        write_big_tables(built, out, tables)
        # Then again with the formula cells' values, as the template builder stores them.
        cached = build_template.formula_values(out, tables["tblFacturas"], as_of)
        write_big_tables(built, out, tables, cached)
    give_id(out, n, seed)
    return out


def give_id(path: Path, n: int, seed: int = 7) -> None:
    """The workbook's own Id del libro, as `cobranza init` gives every workbook (fixed per
    size and seed, so the file is reproducible)."""
    book_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"cobranza-xl/benchmark/{n}/{seed}"))
    write_outputs(path, [], backups=0, parameters={WORKBOOK_ID: book_id})


# --- cache -----------------------------------------------------------------------------


def cache_dir() -> Path:
    base = os.environ.get("COBRANZA_BENCH_CACHE") or Path(tempfile.gettempdir()) / "cobranza-bench"
    path = Path(base)
    path.mkdir(parents=True, exist_ok=True)
    return path


def source_hash() -> str:
    """Changes whenever the template sources, the demo data or this generator change."""
    digest = hashlib.sha256()
    demo_data = _ROOT / "sync" / "workbook" / "demo.py"
    files = [*sorted((_ROOT / "addin").rglob("*")), demo_data, Path(__file__)]
    for path in files:
        if path.is_file() and path.suffix in (".py", ".bas", ".cls", ".xml", ".toml"):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def cached_workbook(n: int, *, seed: int = 7, as_of: date = AS_OF,
                    directory: Path | None = None, shape: str = "demo") -> Path:
    """The benchmark workbook for `n` (of `shape`), generated once per source version."""
    directory = directory or cache_dir()
    kind = "" if shape == "demo" else f"{shape}-"  # the demo shape keeps its old names
    path = directory / f"bench-{kind}{n}-s{seed}-{as_of:%Y%m%d}-{source_hash()}.xlsm"
    if not path.exists():
        temp = path.with_name(f".tmp-{os.getpid()}-{path.name}")
        try:
            build_workbook(n, temp, seed=seed, as_of=as_of, shape=shape)
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate a benchmark workbook")
    parser.add_argument("n", type=int, help="number of invoice rows")
    parser.add_argument("--out", type=Path, help="output path (default: the cache)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--shape", choices=SHAPES, default="demo", help="book shape (demo)")
    args = parser.parse_args(argv)
    if args.out:
        path = build_workbook(args.n, args.out, seed=args.seed, shape=args.shape)
    else:
        path = cached_workbook(args.n, seed=args.seed, shape=args.shape)
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
