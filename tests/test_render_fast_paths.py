"""The sandbox's fast lookups and direct render call: same text as stock Jinja, no new access."""

from __future__ import annotations

from datetime import date

import jinja2
import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment
from test_render import AS_OF, book, outgoing, render

from cobranza.rendering.render import CustomerView, InvoiceView, render_text, template_context

# What `cobranza.rendering.render` did before its fast paths: the stock immutable sandbox.
STOCK = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
)


def context() -> dict:
    ctx = template_context(outgoing(), book("s", "b").config, "Ferretería López", AS_OF)
    ctx["extra"] = {"items": "dato", "nombre": "Ana"}  # a key that is also a dict method
    return ctx


def stock(source: str, ctx: dict) -> str:
    return STOCK.from_string(source).render(ctx)


@pytest.mark.parametrize(
    "source",
    [
        # every view field, by attribute and by item
        "{{ cliente.codigo }} {{ cliente['nombre'] }} {{ cliente }}\n"
        "{% for f in facturas %}{{ f.factura }}|{{ f['cliente'] }}|{{ f.emision }}|"
        "{{ f.vencimiento }}|{{ f.dias_vencidos + 1 }}|{{ f.saldo }}|{{ f['moneda'] }}|"
        "{{ f.fecha_compromiso }}|{{ f.estatus }}|{{ f.detalle }}|{{ f }}\n{% endfor %}",
        # totals are plain dicts: keys by attribute or item, dict methods still work
        "{% for t in totales %}{{ t.moneda }}={{ t['saldo'] }} {{ t.items() | list }} "
        "{{ t | dictsort }} {{ t.get('moneda') }}{% endfor %}",
        "{{ extra.items }} {{ extra['items'] }} {{ extra.nombre }} {{ extra.keys() | list }}",
        # globals and filters reach the template as with Template.render
        "{{ range(3) | list }} {{ namespace(a=1).a }} {{ dict(b=2) }} {{ facturas | length }}",
        "{% set ns = namespace(total=0) %}{% for f in facturas %}"
        "{% set ns.total = ns.total + f.dias_vencidos %}{% endfor %}{{ ns.total }}",
        # filters that look a view's field up by name; views hash and compare as values
        "{{ facturas | selectattr('moneda', 'equalto', 'MXN') | map(attribute='factura')"
        " | join(',') }} {{ facturas | sort(attribute='saldo') | map(attribute='factura')"
        " | list }} {{ facturas | rejectattr('pronto_pago') | list | length }} "
        "{{ facturas | groupby('moneda') | list | length }} {{ facturas | unique | list "
        "| length }} {{ facturas[0] == facturas[0] }} {{ facturas[0] in facturas }}",
        # several pieces and tags on one line, and a line with a tag of its own
        "{% for f in facturas %}- {{ f.factura }} ({{ f.cliente }}){% if f.saldo %}: "
        "{{ f.saldo }}{% endif %} {{ loop.index }}/{{ loop.length }}\n"
        "{% if loop.last %}{{ facturas | length }} en total{% endif %}{% endfor %}",
    ],
)
def test_fast_paths_render_the_same_text_as_the_stock_sandbox(source: str) -> None:
    ctx = context()
    assert render_text(source, ctx) == stock(source, ctx)


@pytest.mark.parametrize(
    "source",
    [
        "{{ cliente.email }}",
        "{{ facturas[0].total }}",
        "{{ totales[0].nada }}",
        "{{ totales[0]['nada'] }}",
        "{{ sin_definir }}",
    ],
)
def test_unknown_names_fail_with_the_stock_message(source: str) -> None:
    ctx = context()
    with pytest.raises(jinja2.UndefinedError) as ours:
        render_text(source, ctx)
    with pytest.raises(jinja2.UndefinedError) as theirs:
        stock(source, ctx)
    assert str(ours.value) == str(theirs.value)


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("{{ facturas[0].__class__.__mro__ }}", "__class__"),
        ("{% for f in facturas %}{{ f.__class__ }}{% endfor %}", "__class__"),
        ("{{ facturas[0].__init__.__globals__ }}", "__init__"),
        ("{{ facturas[0]['__dict__'] }}", "__dict__"),
        ("{{ cliente.__dict__ }}", "__dict__"),
        ("{{ cliente.__init__ }}", "__init__"),
        ("{{ cliente.__dataclass_fields__ }}", "__dataclass_fields__"),
        ("{{ totales[0].__class__ }}", "__class__"),
        ("{{ totales[0].__init__.__globals__ }}", "__init__"),
    ],
)
def test_internals_of_our_views_and_dicts_are_refused(source: str, name: str) -> None:
    result = render(source)
    assert result.subject == "" and result.body == ""
    assert result.error == (
        'Plantilla "VENCIDA_1", Asunto: la plantilla intenta una operación no permitida '
        f'(el acceso a "{name}"); use solo las variables del aviso.'
    )


@pytest.mark.parametrize("method", ["clear", "pop", "update", "setdefault", "popitem"])
def test_totals_dicts_cannot_be_modified(method: str) -> None:
    result = render(f"{{{{ totales[0].{method}() }}}}")
    assert result.error.endswith(f'(el acceso a "{method}"); use solo las variables del aviso.')


def test_a_subclass_of_a_view_gets_the_full_check() -> None:
    class Sub(CustomerView):
        def saludo(self) -> str:
            return "hola " + self.nombre

    ctx = {"cliente": Sub("C1", "Ana"), "f": InvoiceView(*"abcd", 1, *"efghi")}
    source = "{{ cliente.nombre }} {{ cliente.saludo() }} {{ f.cliente }}"
    assert render_text(source, ctx) == stock(source, ctx) == "Ana hola Ana b"
    with pytest.raises(jinja2.sandbox.SecurityError):
        render_text("{{ cliente.__class__ }}", ctx)


def test_dates_and_amounts_are_formatted_per_line() -> None:
    ctx = template_context(outgoing(), book("s", "b").config, "x", date(2026, 11, 25))
    text = render_text("{% for f in facturas %}{{ f.vencimiento }} {{ f.saldo }};{% endfor %}",
                       ctx)
    assert text == "24/11/2026 $1,500.50 MXN;20/11/2026 $999.00 MXN;01/11/2026 $50.00 USD;"
