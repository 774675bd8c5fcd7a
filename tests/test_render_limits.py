"""Bounded templates: output size, loop iterations and time per message (issue 10, point 6).

A runaway Plantilla ends as the Spanish reason on its message, quickly and in little
memory, and the run goes on; the templates the team writes render exactly what the
stock sandbox renders, and long real messages (a 5 000-invoice customer, a digest of
thousands of lines) still render. The runaway templates run in a child process under a
generous liveness timeout: one that never finished fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tracemalloc
from collections import Counter
from dataclasses import replace
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from test_render import AS_OF, book, outgoing, render
from test_render_fast_paths import context, stock

from cobranza.notices.messages import Line, Outgoing
from cobranza.rendering.budget import Limits
from cobranza.rendering.render import render_outgoing, render_pair, render_text, template_context
from tests.smtp_server import Received, SmtpTestServer
from tests.workbook_edit import save_atomically, set_cells

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
WHERE = 'Plantilla "VENCIDA_1", Cuerpo: '
SIZE = WHERE + ("la plantilla excede el tamaño máximo de 1 MB por mensaje; revise los "
                "ciclos {% for %} y los textos que repite o amplía.")
STEPS = WHERE + ("la plantilla excede el máximo de 100,000 repeticiones por mensaje "
                 "(vueltas de ciclos {% for %} y llamadas); revise los ciclos anidados y "
                 "las macros que se llaman a sí mismas.")
DIGITS = WHERE + ("la plantilla excede el máximo de 4,300 dígitos de un número; revise las "
                  "potencias (**) y las multiplicaciones.")
DEPTH = WHERE + ("la plantilla excede la profundidad máxima de llamadas anidadas; revise "
                 "las macros que se llaman a sí mismas.")
DOUBLING = ("{% set ns = namespace(x='x') %}{% for i in range(40) %}"
            "{% set ns.x = ns.x ~ ns.x %}{% endfor %}{{ ns.x }}")
NESTED = ("{% set a = [0] * 1000 %}{% set b = [a] * 1000 %}")  # b prints as 2 MB: [[0, 0...
SHARED = ("{% set ns = namespace(x=[1]) %}{% for i in range(60) %}"
          "{% set ns.x = [ns.x, ns.x] %}{% endfor %}")  # 2**60 ones, a few KB of memory

# Each builds far more than 1 MB (most of them gigabytes) or runs for hours.
RUNAWAY_SIZE = {
    "doubling ~": DOUBLING,
    "doubling +": DOUBLING.replace("ns.x ~ ns.x", "ns.x + ns.x"),
    "doubling list": "{% set ns = namespace(x=[1]) %}{% for i in range(40) %}"
                     "{% set ns.x = ns.x + ns.x %}{% endfor %}{{ ns.x|length }}",
    "nested list printed": SHARED + "{{ ns.x }}",
    "nested tuple hashed": SHARED.replace("[ns.x, ns.x]", "(ns.x, ns.x)")
                           + "{{ [ns.x]|unique|list|length }}",
    "nested list as text": SHARED + "{{ ns.x|string|length }}",
    "nested * printed": NESTED + "{% set c = [b] * 1000 %}{{ c }}",
    "nested * compared": NESTED + "{% set a2 = [0] * 1000 %}{{ b == [a2] * 1000 }}",
    "nested * as json": NESTED + "{{ b|tojson|length }}",
    "* string": "{{ 'x' * 10000000 }}",
    "* bytes": "{{ ('x'.encode() * 999999999)|length }}",
    "center filter": "{{ 'x'|center(30000000) }}",
    "center method": "{{ 'x'.center(30000000) }}",
    "ljust": "{{ 'x'.ljust(999999999) }}",
    "zfill": "{{ '1'.zfill(999999999) }}",
    "expandtabs": "{{ ('\t' * 100000).expandtabs(100000) }}",
    "indent": "{{ ('a\n' * 100000)|indent(100000) }}",
    "wordwrap": "{{ ('a ' * 400000)|wordwrap(1, wrapstring='x' * 1000) }}",
    "format *": "{{ '%*d'|format(999999999, 1) }}",
    "format width": "{{ '%999999999d'|format(1) }}",
    "% width": "{{ '%999999999d' % 1 }}",
    "% precision": "{{ '%.999999999f' % 1.0 }}",
    "% mapping": "{{ '%(a)s%(a)s%(a)s' % {'a': 'x' * 500000} }}",
    "str.format width": "{{ '{:>999999999}'.format(1) }}",
    "str.format nested width": "{{ '{:{}}'.format(1, 999999999) }}",
    "str.format many fields": "{{ ('{0:>999999}' * 1000).format(1) }}",
    "join separator": "{{ range(100000)|join('x' * 100000) }}",
    "join method": "{{ ('x' * 100000).join(['a'] * 100000) }}",
    "replace filter": "{{ ('x' * 100000)|replace('x', 'y' * 100000) }}",
    "replace empty": "{{ ('x' * 100000).replace('', 'y' * 100000) }}",
    "translate": "{{ ('x' * 100000).translate({120: 'y' * 100000}) }}",
    "batch fill": "{{ [1]|batch(999999999, 0)|list|length }}",
    "slice": "{{ [1]|slice(999999999)|list|length }}",
    "sum of lists": "{{ ([[1] * 1000] * 1000)|sum(start=[])|length }}",
    "map center": "{{ range(100000)|map('center', 999999)|list|length }}",
    "urlize target": "{{ ('http://a.mx ' * 50000)|urlize(target='x' * 10000) }}",
    "lipsum": "{{ lipsum(999999999) }}",
    "to_bytes": "{{ (1).to_bytes(999999999, 'big')|length }}",
    "fromkeys": "{{ {}.fromkeys(range(100000), [1] * 100000) }}",
    "~ chain": "{% set s = 'x' * 999999 %}{{ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s ~ s }}",
    "output in a loop": "{% set s = 'x' * 999999 %}{% for i in range(100000) %}{{ s }}{% endfor %}",
    "text in a loop": "{% for i in range(1000) %}{% for j in range(1000) %}"
                      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}",
    "macro output": "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 999999 }}"
                    "{% endfor %}{% endmacro %}{{ m() }}",
    "macro printing a list": "{% set big = [1] * 300000 %}{% macro m() %}"
                             "{% for i in range(100000) %}{{ big }}{% endfor %}{% endmacro %}"
                             "{{ m() }}",
    "set block": "{% set x %}{% for i in range(100000) %}{{ 'y' * 999999 }}{% endfor %}"
                 "{% endset %}{{ x|length }}",
    "filter block": "{% filter upper %}{% for i in range(1000) %}{% for j in range(1000) %}"
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}"
                    "{% endfilter %}",
}
RUNAWAY_DIGITS = {
    "power": "{{ 2 ** 999999999 }}",
    "power of 9": "{{ 9 ** 99999 }}",
    "squaring chain": "{% set ns = namespace(x=2) %}{% for i in range(100) %}"
                      "{% set ns.x = ns.x * ns.x %}{% endfor %}{{ ns.x }}",
    "doubling chain": "{% set ns = namespace(x=1) %}{% for i in range(100000) %}"
                      "{% set ns.x = ns.x + ns.x %}{% endfor %}",
    "parsed numbers": "{{ ('9' * 4300)|int * ('9' * 4300)|int }}",
}
# Under STEP_LIMITS (a tenth of the steps, so the test is quick; an hour, so the clock
# cannot come first) these end on the iteration limit, deterministically.
RUNAWAY_STEPS = {
    "nested range": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                    "{% endfor %}",
    "nested range with a test": "{% for i in range(100000) %}"
                                "{% for j in range(100000) if false %}{% endfor %}{% endfor %}",
    "macro fan-out": "{% macro m(n) %}{% if n %}{{ m(n - 1) }}{{ m(n - 1) }}{% endif %}"
                     "{% endmacro %}{{ m(40) }}",
    "recursive loop fan-out": "{% for x in range(2) recursive %}"
                              "{{ loop(range(2)) if loop.depth < 40 else '' }}{% endfor %}",
}
RECURSION = "{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}"
STEP_LIMITS = {"chars": 1_000_000, "steps": 100_000, "seconds": 3600.0}
# The limits of a 3-invoice notice, with an hour for time: a loaded machine cannot turn
# a size reason into a time reason (the time limit has its own test).
NO_CLOCK = replace(Limits.for_invoices(3), seconds=3600.0)


def probe() -> None:
    """Child process: render each {name: [body, limits or null]} read from stdin; print
    {name: [reason, body length, peak memory of the render (production limits only)]}."""
    out = {}
    for name, (source, limits) in json.load(sys.stdin).items():
        ctx = template_context(outgoing(), book("s", "b").config, "Ferretería López", AS_OF)
        if limits:  # the loops: many steps, no memory to speak of (tracemalloc is slow)
            result = render_pair("Aviso", source, ctx, "VENCIDA_1", Limits(**limits))
            out[name] = [result.error, len(result.body), 0]
            continue
        tracemalloc.start()
        result = render_pair("Aviso", source, ctx, "VENCIDA_1", NO_CLOCK)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        out[name] = [result.error, len(result.body), peak]
    print(json.dumps(out))


def run_probe(cases: dict[str, tuple[str, dict | None]]) -> dict[str, list]:
    done = subprocess.run(
        [sys.executable, "-c", "import test_render_limits as t; t.probe()"],
        input=json.dumps(cases), capture_output=True, text=True, timeout=120, check=False,
        cwd=TESTS, env={**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{REPO}"},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def runaway() -> dict[str, list]:
    """Every runaway template, rendered once in a child process (liveness: 120 s)."""
    cases: dict[str, tuple[str, dict | None]] = {
        name: (source, None) for name, source in (RUNAWAY_SIZE | RUNAWAY_DIGITS).items()}
    cases |= {name: (source, STEP_LIMITS) for name, source in RUNAWAY_STEPS.items()}
    cases["recursion"] = (RECURSION, None)
    return run_probe(cases)


@pytest.mark.parametrize("name", RUNAWAY_SIZE)
def test_runaway_size_ends_as_the_size_reason_in_little_memory(runaway, name: str) -> None:
    error, body, peak = runaway[name]
    assert (error, body) == (SIZE, 0)
    assert peak < 24_000_000  # what a message may build in all (16 MB) and some change


def test_the_doubling_loop_never_builds_more_than_a_few_mb(runaway) -> None:
    # the last string it may build has 2**19 characters; the next, 2**20, is refused
    assert runaway["doubling ~"][2] < 3_000_000


@pytest.mark.parametrize("name", RUNAWAY_DIGITS)
def test_runaway_numbers_end_as_the_digits_reason(runaway, name: str) -> None:
    assert runaway[name][:2] == [DIGITS, 0]


@pytest.mark.parametrize("name", RUNAWAY_STEPS)
def test_runaway_loops_and_calls_end_as_the_iterations_reason(runaway, name: str) -> None:
    assert runaway[name][:2] == [STEPS, 0]


def test_endless_recursion_ends_as_the_depth_reason(runaway) -> None:
    assert runaway["recursion"][:2] == [DEPTH, 0]


def test_a_loop_that_never_ends_stops_at_the_time_limit() -> None:
    result = render_pair("Aviso", RUNAWAY_STEPS["nested range"], context(), "VENCIDA_1",
                         Limits(steps=10**12, seconds=0.3))
    assert result.error == WHERE + (
        "la plantilla excede el tiempo máximo de 0.3 segundos por mensaje; simplifique los "
        "ciclos {% for %} y los cálculos.")


@pytest.mark.parametrize(
    ("source", "limits", "ok"),
    [
        # output: exactly the limit, then one character more
        ("{{ 'x' * 10 }}", Limits(chars=10), True),
        ("{{ 'x' * 11 }}", Limits(chars=10), False),
        ("{{ 'x' * 5 }}{{ 'y' * 5 }}", Limits(chars=10), True),
        ("{{ 'x' * 5 }}{{ 'y' * 6 }}", Limits(chars=10), False),
        # steps: the call to range is one, each iteration one
        ("{% for i in range(99) %}{% endfor %}", Limits(steps=100), True),
        ("{% for i in range(100) %}{% endfor %}", Limits(steps=100), False),
        # numbers: 4 300 digits are allowed, not more
        ("{{ 10 ** 4299 }}", Limits(), True),
        ("{{ 10 ** 4400 }}", Limits(), False),
    ],
)
def test_limit_boundaries(source: str, limits: Limits, ok: bool) -> None:
    result = render_pair("", source, context(), "VENCIDA_1", limits)
    assert result.ok is ok, result.error
    if not ok:
        assert result.error.startswith(WHERE + "la plantilla excede el")


def test_subject_and_body_share_the_size_of_the_message() -> None:
    result = render("{{ 'x' * 600000 }}", "{{ 'y' * 600000 }}")
    assert result.error == SIZE


def test_a_namespace_prints_without_its_contents() -> None:
    # A namespace can change after a list holding it was measured: it prints the same.
    source = ("{% set ns = namespace(x='') %}{% set l = [ns] * 1000 %}"
              "{% set ns.x = 'y' * 999999 %}{{ l[0] }} {{ l|length }}")
    assert render("s", source).body == "<Namespace> 1000"


# ------------------------------------------------------------------ legit templates

# Templates a team could write, through every guarded path: the same text as stock Jinja.
LEGIT = [
    "{{ cliente.nombre|center(30) }}|{{ cliente.nombre|indent(4, first=true) }}|"
    "{{ 'a b c d e f'|wordwrap(3) }}|{{ 'a\nb'|indent('> ') }}",
    "{{ '%s debe %s'|format(cliente.nombre, totales[0].saldo) }} "
    "{{ '%05.1f|%-6s|%*d' % (3.14159, 'ab', 4, 7) }} {{ '%(a)s' % {'a': 1} }}",
    "{{ facturas|map(attribute='factura')|join(', ') }} {{ [1, 2, 3]|join }} "
    "{{ facturas|join('; ', attribute='saldo') }}",
    "{{ cliente.nombre|replace('a', 'á') }} {{ 'x-y-z'|replace('-', '', 1) }} "
    "{{ 'ab'.replace('', '.') }}",
    "{{ facturas|batch(2, '-')|list|length }} {% for row in range(7)|batch(3, 0) %}{{ row }}"
    "{% endfor %} {{ range(7)|slice(3)|list }} {{ range(5)|slice(2, 'x')|list }}",
    "{{ facturas|sum(attribute='dias_vencidos') }} {{ [[1], [2, 3]]|sum(start=[]) }} "
    "{{ [0.5, 1]|sum }}",
    "{{ facturas|selectattr('dias_vencidos', 'gt', 2)|map(attribute='factura')|list }} "
    "{{ facturas|groupby('moneda')|map(attribute='grouper')|list }} "
    "{{ {'b': 1, 'a': 2}|dictsort }}",
    "{{ facturas|sort(attribute='dias_vencidos', reverse=true)|first }} "
    "{{ range(5)|reject('odd')|list }} {{ [3, 1, 3]|unique|list }} {{ 'abc'|list }} "
    "{{ facturas|length }} {{ facturas|last }}",
    "{{ 'Hola' ~ ' ' ~ cliente.nombre ~ 3 ~ [1] }} {{ 'ab' * 3 }} {{ [1, 2] * 2 }} "
    "{{ (1, 2) + (3,) }} {{ 2 ** 10 }} {{ 7 % 3 }} {{ 10 * 10 }} {{ 'a' + 'b' }} "
    "{{ 2 ** -1 }} {{ 1.5 * 2 }} {{ (2 ** 64) * 3 }}",
    "{{ '{:>8}|{:.2f}|{nombre}'.format('x', 2.5, nombre=cliente.nombre) }} "
    "{{ '{a}'.format_map({'a': 1}) }} {{ 'x'.center(9, '*') }} {{ '7'.zfill(3) }} "
    "{{ 'a\tb'.expandtabs(4) }} {{ '-'.join(['a', 'b']) }} {{ cliente.nombre.split(' ') }} "
    "{{ 'x'.ljust(3) }}|{{ 'x'.rjust(3) }}",
    "{% macro linea(f, sep='-') %}{{ sep }} {{ f.factura }}{% endmacro %}"
    "{% macro marco(f) %}[{{ caller(f) }}]{% endmacro %}{% for f in facturas %}"
    "{{ linea(f) }}{% call(x) marco(f) %}{{ linea(x, '*') }} ({{ x.saldo }}){% endcall %}\n"
    "{% endfor %}",
    "{% set total %}{% for t in totales %}{{ t.saldo }} {% endfor %}{% endset %}[{{ total }}] "
    "{% filter upper %}{{ cliente.nombre }}{% endfilter %}",
    "{% for f in facturas if f.dias_vencidos > 1 %}{{ loop.index }}/{{ loop.length }} "
    "{{ loop.cycle('a', 'b') }}{% else %}nada{% endfor %}{% for x in [] %}{% else %}vacío"
    "{% endfor %}",
    "{% for item in [{'n': 1, 'hijos': [{'n': 2, 'hijos': []}]}] recursive %}{{ item.n }}"
    "({{ loop(item.hijos) }}){% endfor %}",
    "{{ dict(a=1, b=[1, 2]) }} {{ {'k': (1, 2)} }} {{ (1,) }} {{ range(3)|list }} "
    "{{ cliente.nombre|truncate(9, true, '...', 0) }} {{ 'hola mundo'|title }} {{ '  x '|trim }} "
    "{{ 'https://a.mx'|urlize }} {{ none|default('-') }}",
    "{{ facturas[0]|string|length > 0 }} {{ totales|tojson }} {{ '<a>'|e }} "
    "{{ 1234567|filesizeformat }} {{ 'x y'|wordcount }} {{ 'ab'|upper|lower|capitalize }} "
    "{{ [1, [2]]|pprint }}",
    "{% set a, b = 1, 2 %}{{ a + b }} {% for k, v in {'x': 1}.items() %}{{ k }}={{ v }}"
    "{% endfor %} {{ 3 in [1, 2, 3] }} {{ ('a', 'b')|join }} {{ 'ab'|reverse }} "
    "{{ [1, 5]|max }} {{ {'a': 'b'}|xmlattr }}",
    "{% set b = '<b>' %}{% autoescape true %}{{ '<' ~ cliente.nombre }}{{ b|safe ~ '<' }}"
    "{% endautoescape %} {{ b|safe + '<' }}",
]


@pytest.mark.parametrize("source", LEGIT)
def test_guarded_paths_render_the_same_text_as_the_stock_sandbox(source: str) -> None:
    ctx = context()
    assert render_text(source, ctx) == stock(source, ctx)


def test_a_customer_with_5000_invoices_gets_50_and_the_total_of_all() -> None:
    """A body lists at most 50 invoices (issue 13; the statement attached has them all);
    the total is over all 5000."""
    lines = tuple(Line(f"F-{i}", "C1", date(2026, 11, 1), 24, 100 + i, "MXN")
                  for i in range(5000))
    body = ("{% for f in facturas -%}\n- Factura {{ f.factura }}, vencida el {{ f.vencimiento }}"
            " ({{ f.dias_vencidos }} días): {{ f.saldo }}\n{% endfor %}"
            "{% for t in totales %}Total: {{ t.saldo }}{% endfor %}")
    result = render_outgoing(outgoing(lines=lines, keys=()), book("Aviso", body), AS_OF)
    assert result.error == ""
    rows = result.body.split("\n")
    assert rows[0] == "- Factura F-0, vencida el 01/11/2026 (24 días): $1.00 MXN"
    assert rows[49] == "- Factura F-49, vencida el 01/11/2026 (24 días): $1.49 MXN"
    assert rows[50] == "y 4950 facturas más: vea el estado de cuenta adjunto."
    assert rows[51:] == ["Total: $129,975.00 MXN"]


def test_a_digest_longer_than_1_mb_still_goes() -> None:
    """Each listed invoice adds 1 KB to the size limit: a digest of the whole portfolio
    (1.5 MB at 100 000 invoices) is not a runaway template."""
    lines = tuple(Line(f"F-{i}", f"C{i}", date(2026, 11, 1), 24, 100, "MXN",
                       detail="x" * 60) for i in range(15_000))
    digest = Outgoing(kind="resumen", code="RESUMEN_ACCIONES", recipient="t@miempresa.com",
                      to=("t@miempresa.com",), cc=(), template="RESUMEN_ACCIONES",
                      lines=lines, keys=())
    result = render_outgoing(digest, book("s", "b"), AS_OF)
    assert result.error == ""
    assert len(result.body) > 1_000_000
    assert result.body.count("- C14999 F-14999: $1.00 MXN, 24 días vencidos (xxx") == 1


# ------------------------------------------------------------------ end to end

CLI = [sys.executable, "-c", "import sys; from sync.cli import main; sys.exit(main())"]
AT = "2026-12-01T10:00"


def cobranza(*args: object, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done


def edit(path: Path, sheet: str, header: str, values: dict[str, str]) -> None:
    """Type each value in column `header` of the `sheet` row whose Código is its key, as a
    user does in Excel (on Configuración, the Avisos table starts at column K)."""
    wb = openpyxl.load_workbook(path, keep_vba=True)
    ws = wb[sheet]
    for code, value in values.items():
        cell = next(c for row in ws.iter_rows() for c in row if c.value == code)
        column = next(c.column for c in ws[1] if c.value == header and c.column >= cell.column)
        ws.cell(row=cell.row, column=column, value=value)
    save_atomically(wb, path)


def table(path: Path, sheet: str) -> list[dict[str, object]]:
    """The output table of `sheet` (header on row 4), as dicts."""
    wb = openpyxl.load_workbook(path, read_only=True)
    try:
        rows = list(wb[sheet].iter_rows(min_row=4, values_only=True))
    finally:
        wb.close()
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:] if any(r)]


def to_of(message: Received) -> frozenset[str]:
    return frozenset(a.addr_spec for a in message.message["To"].addresses)


def test_a_runaway_template_holds_its_notices_and_the_run_goes_on(tmp_path: Path) -> None:
    """A real workbook whose VENCIDA_1 Cuerpo is the doubling loop: every VENCIDA_1 notice
    is `pendiente` in Envíos with the Spanish reason (the user can fix the template), every
    other notice due (what a dry run of the untouched workbook lists) reaches the SMTP
    server, none above 1 MB."""
    book_path, clean = tmp_path / "libro.xlsm", tmp_path / "limpio" / "libro.xlsm"
    clean.parent.mkdir()
    with SmtpTestServer() as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
        env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0", **server.env()}
        cobranza("init", "--demo", "--as-of", "2026-12-01", book_path, cwd=tmp_path, env=env)
        # Fewer notices keep the test quick (sending and recording one takes ~40 ms):
        # NUEVA, PREVIO, VENCIDA_1, the promises and the digests stay active.
        edit(book_path, "Configuración", "Activo", dict.fromkeys(
            ("ESTADO_MENSUAL", "VENCIDA_15", "VENCIDA_30", "MORA_45", "SUSPENSION_60"), "No"))
        # The local server is no mail provider: every due message goes in this one cycle.
        set_cells(book_path, "Configuración", ("Parámetro", "Correos por minuto"),
                  {"Valor": "1000"})
        shutil.copyfile(book_path, clean)
        cobranza("sync", clean, "--as-of", AT, "--dry-run", cwd=clean.parent, env=env)
        edit(book_path, "Plantillas", "Cuerpo", {"VENCIDA_1": DOUBLING})
        cobranza("sync", book_path, "--as-of", AT, cwd=tmp_path, env=env)
        received = server.received()
    due = [r for r in table(clean, "Vista previa") if r["Estado"] == "listo"]
    # A customer email goes without its VENCIDA_1 notice, when it carries another one.
    others = [r for r in due if set(str(r["Código"]).split(", ")) - {"VENCIDA_1"}]
    runaway = {str(r["Cliente"]).split(" - ")[0] for r in due
               if "VENCIDA_1" in str(r["Código"]).split(", ")}
    failed = {r["Destinatario"]: (r["Estado"], r["Motivo"]) for r in table(book_path, "Envíos")
              if r["Código"] == "VENCIDA_1" and r["Estado"] != "omitido"
              and r["Destinatario"] in runaway}
    assert len(runaway) > 10
    assert failed == dict.fromkeys(runaway, ("pendiente", SIZE))
    sent = Counter(to_of(r) for r in received)
    assert sent == Counter(frozenset(str(r["Para"]).split("; ")) for r in others)
    assert all("VENCIDA_1" not in str(r.message["X-Cobranza-Avisos"] or "") for r in received)
    assert max(len(r.message.as_bytes()) for r in received) < 1_000_000
