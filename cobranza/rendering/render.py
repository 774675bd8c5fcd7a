"""Render the Plantillas Asunto/Cuerpo of one outgoing message, safely.

Templates are text the team edits in Excel, so they run in Jinja2's immutable sandbox
with strict undefined variables, within the limits of one message (size, iterations,
time: `cobranza.rendering.limits`): a syntax error, an unknown variable, an attempt to
reach Python internals (``{{ ''.__class__ }}``) or a runaway loop becomes a Spanish
reason on the message, never a crash and never data. Values taken from the workbook are only ever
inserted as text; they are never parsed as template code.

Variables (`VARIABLES`; the README and the Plantillas sheet's note list them for users):
``empresa``, ``remitente``, ``cliente`` (.codigo .nombre), ``facturas`` (see
`InvoiceView`; a customer email lists at most 50, ``facturas_mas`` counts the rest:
`with_more`), ``totales`` (list of {moneda, saldo}, over every invoice), ``fecha_corte``,
``destinatario``, ``fecha_gestion`` (SIN_CONTACTO: the date of the gestión Sin contacto),
``facturas_asunto`` ("factura F-1", "facturas F-1 y F-2", "5 facturas": the `facturas`
of the text, named up to three), the Configuración company and payment details
(``razon_social``, ``rfc``, ``domicilio``, ``telefono_cobranza``, ``horario_atencion``,
``banco``, ``cuenta``, ``beneficiario``, ``aviso_privacidad``: "" when blank) and
``descuento_pronto_pago`` ("2%", "" when none). Customer notices also ``cobrador``
(`CollectorView`), ``enlace_pago`` (Enlace de pago for the `facturas` of the text) and
``referencia_pago`` (Referencia de pago, itself a template, rendered once per email with
the email's context), plus the planner's ``Outgoing.context``. Instalment notices
(CUOTA_PREVIA, CUOTA_VENCIDA): ``convenio``, ``cuota``, ``vencimiento_cuota``,
``importe_cuota`` and ``saldo_cuota`` of the notice's first instalment ("" otherwise).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import date
from email.utils import parseaddr
from functools import lru_cache
from typing import Any

import jinja2
import pandas as pd
from jinja2 import meta
from jinja2.runtime import new_context
from jinja2.sandbox import SecurityError

from cobranza.book.config import REFERENCE, Config
from cobranza.book.lookups import Template, names_by_code
from cobranza.book.money import format_amount
from cobranza.book.records import Book
from cobranza.notices.discount import early_payment, percent_text
from cobranza.notices.messages import Line, Outgoing, Part
from cobranza.notices.payment import payment_link
from cobranza.notices.statement import listed
from cobranza.plural import count, named
from cobranza.rendering.budget import Budget, Limits, TemplateLimitError, active, limited
from cobranza.rendering.limits import LimitedSandbox, render_pieces
from cobranza.vocabulary import Kind, NoticeCode

HEADER, FOOTER = "ENCABEZADO", "PIE"  # Plantillas rows around every customer email
VARIABLES = (
    "empresa", "remitente", "cliente", "facturas", "facturas_mas", "totales", "fecha_corte",
    "destinatario", "fecha_gestion", "cobrador", "facturas_asunto", "razon_social", "rfc",
    "domicilio", "telefono_cobranza", "horario_atencion", "banco", "cuenta", "beneficiario",
    "referencia_pago", "enlace_pago", "aviso_privacidad", "descuento_pronto_pago",
    "convenio", "cuota", "vencimiento_cuota", "importe_cuota", "saldo_cuota",
)

# Used only when Plantillas has no row for a digest code (digests are internal mail).
DIGEST_FALLBACK = (
    "{{ empresa }}: {{ asunto_resumen | default('Resumen de cobranza') }} al {{ fecha_corte }}",
    "Hola {{ destinatario }}:\n\n"
    "{% for f in facturas %}- {{ f.cliente }} {{ f.factura }}: {{ f.saldo }}, "
    "{{ f.dias_vencidos }} días vencidos{% if f.detalle %} ({{ f.detalle }}){% endif %}\n"
    "{% endfor %}\nTotal: {% for t in totales %}{{ t.saldo }}{% if not loop.last %}, "
    "{% endif %}{% endfor %}\n\n{{ remitente }}\n",
)


@dataclass(frozen=True)
class CustomerView:
    codigo: str
    nombre: str


@dataclass(frozen=True)
class CollectorView:
    """How a customer reaches its collector (Cobradores); "" for what is not known."""

    nombre: str
    email: str
    telefono: str


# Not frozen: a digest builds ~20 000 of these, and a frozen dataclass's __init__ costs
# four times as much. Nothing changes a view once built (a template cannot assign an
# attribute: Jinja has no such statement but for a namespace()); hashed like a frozen one.
@dataclass(unsafe_hash=True)
class InvoiceView:
    """One invoice as a template sees it; dates are dd/mm/aaaa text, saldo is formatted.
    Customer notices also: its own payment link and, while inside its early-payment
    window, the discounted amount (formatted) and the last day to pay it ("" otherwise)."""

    factura: str
    cliente: str
    emision: str
    vencimiento: str
    dias_vencidos: int
    saldo: str
    moneda: str
    fecha_compromiso: str
    estatus: str
    detalle: str
    enlace_pago: str = ""
    pronto_pago: str = ""
    fecha_pronto_pago: str = ""


@dataclass(frozen=True)
class Rendered:
    """Rendered subject (one line) and plain-text body, or the Spanish reason it failed."""

    subject: str = ""
    body: str = ""
    error: str = ""
    footer_at: int | None = None  # where the PIE starts in `body` (None: no PIE)

    @property
    def ok(self) -> bool:
        return not self.error


_VIEW_FIELDS = {view: frozenset(f.name for f in fields(view))
                for view in (CustomerView, InvoiceView, CollectorView)}
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Sandbox(LimitedSandbox):
    """The immutable sandbox, bounded (`cobranza.rendering.limits`), with fast lookups.

    Each message looks up ``f.saldo``, ``cliente.nombre``, ``t.moneda``..., so `getattr`
    answers directly the two cases the stock checks always allow anyway:
    - a declared field of our own views (`_VIEW_FIELDS`, exact type: a subclass could add
      properties): for such objects the stock check refuses only names starting with "_";
    - a key of a plain dict that is not the name of a dict attribute: the stock sandbox
      returns ``obj[key]`` for it, unchecked.
    `getitem` answers the first case too (``f["saldo"]``, and ``selectattr("estatus")``,
    ``map(attribute=...)``, ``sort(attribute=...)``, which look a field up by name): the
    stock path gets there through ``obj[key]`` raising, views not being subscriptable.
    Every other lookup (``__class__``, ``__dict__``, ``clear``, other types) takes the
    stock path and its refusals.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        kind = type(obj)
        if attribute in _VIEW_FIELDS.get(kind, ()):
            return getattr(obj, attribute)
        if kind is dict and attribute not in _DICT_ATTRIBUTES and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if type(argument) is str and argument in _VIEW_FIELDS.get(type(obj), ()):
            return getattr(obj, argument)
        return super().getitem(obj, argument)


_ENV = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)


@lru_cache(maxsize=4096)
def dmy(value: date | None) -> str:
    """date -> "dd/mm/aaaa" ("" for blank); a run formats few distinct dates, many times."""
    if type(value) is date and value.year >= 1000:  # the common case, without strftime
        return f"{value.day:02d}/{value.month:02d}/{value.year}"
    if value is None or pd.isna(value):
        return ""
    return value.strftime("%d/%m/%Y")


def invoice_view(line: Line, config: Config | None = None,
                 as_of: date | None = None) -> InvoiceView:
    """The view of `line`; with `config` (customer notices) also its payment link and
    its early-payment discount on `as_of`."""
    link = pay = until = ""
    if config is not None:
        link = payment_link(config.payment_link, line.customer, (line,))
        early = early_payment(int(line.balance), line.issued, as_of, config.early_discount,
                              config.early_days)
        if early is not None:
            pay, until = format_amount(early.amount, line.currency), dmy(early.deadline)
    # positional, in field order: a digest builds ~20 000 of these (keywords cost more)
    return InvoiceView(
        line.invoice,  # factura
        line.customer,  # cliente
        dmy(line.issued),  # emision
        dmy(line.due),  # vencimiento
        int(line.days_overdue),  # dias_vencidos
        format_amount(line.balance, line.currency),  # saldo
        line.currency,  # moneda
        dmy(line.promise_date),  # fecha_compromiso
        line.status,  # estatus
        line.detail,  # detalle
        link,  # enlace_pago
        pay,  # pronto_pago
        until,  # fecha_pronto_pago
    )


def company_variables(config: Config) -> dict[str, str]:
    """The Configuración company identification and payment details ("" when blank)."""
    return {
        "razon_social": config.legal_name, "rfc": config.tax_id, "domicilio": config.address,
        "telefono_cobranza": config.collections_phone, "horario_atencion": config.office_hours,
        "banco": config.bank, "cuenta": config.account, "beneficiario": config.beneficiary,
        "aviso_privacidad": config.privacy_notice,
        "descuento_pronto_pago": percent_text(config.early_discount),
    }


def subject_invoices(lines: tuple[Line, ...]) -> str:
    """The invoices of `lines` as a subject names them: "factura F-1", "facturas F-1 y
    F-2", "facturas F-1, F-2 y F-3", "5 facturas"."""
    return named(list(dict.fromkeys(ln.invoice for ln in lines if ln.invoice)), "factura")


def totals(lines: tuple[Line, ...]) -> list[dict[str, str]]:
    """Open balance per currency, in order of first appearance, formatted."""
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.currency] = sums.get(line.currency, 0) + int(line.balance)
    return [{"moneda": cur, "saldo": format_amount(v, cur)} for cur, v in sums.items()]


@lru_cache(maxsize=64)
def sender_name(sender: str) -> str:
    """ "Cobranza ACME <cobranza@acme.mx>" -> "Cobranza ACME" (the address if no name)."""
    name, addr = parseaddr(sender)
    return name or addr or sender


def outgoing_name(book: Book, outgoing: Outgoing) -> str:
    """The customer's name for a notice (the planner already put it in the context)."""
    if outgoing.kind != Kind.NOTICE:
        return ""
    return str(outgoing.context.get("customer_name") or customer_name(book, outgoing.recipient))


def customer_name(book: Book, code: str) -> str:
    """The Clientes Nombre of `code` ("" when unknown); first row wins."""
    return book.customer_names.get(code, "")


def customer_names(frame: pd.DataFrame | None) -> dict[str, str]:
    """Customer code -> name for a Clientes frame (first row wins): build it once per run."""
    return {} if frame is None else names_by_code(frame)


def outgoing_collector(book: Book, outgoing: Outgoing) -> CollectorView | None:
    """The customer's collector for a notice (blank fields when it has none); None for a
    digest."""
    if outgoing.kind != Kind.NOTICE:
        return None
    return CollectorView(*book.collector_contacts.get(outgoing.recipient, ("", "", "")))


def contact_day(lines: tuple[Line, ...]) -> str:
    """The latest gestión Sin contacto date of `lines` (dd/mm/aaaa), "" when none."""
    return dmy(max((ln.contact_date for ln in lines if ln.contact_date is not None),
                   default=None))


def owed_lines(lines: tuple[Line, ...]) -> tuple[Line, ...]:
    """The invoice lines of `lines`; its instalment lines only when it has no other. An
    instalment is part of its invoices' balance: an email carrying both lists, totals and
    links the invoices, and names the instalment through the plan variables."""
    invoices = tuple(ln for ln in lines if not ln.instalment)
    return invoices or lines


def instalment_variables(lines: tuple[Line, ...]) -> dict[str, str]:
    """The plan variables of the first instalment line of `lines` ("" when none)."""
    line = next((ln for ln in lines if ln.instalment), None)
    if line is None:
        return dict.fromkeys(("convenio", "cuota", "vencimiento_cuota", "importe_cuota",
                              "saldo_cuota"), "")
    return {"convenio": line.invoice, "cuota": str(line.instalment),
            "vencimiento_cuota": dmy(line.due),
            "importe_cuota": format_amount(line.instalment_amount, line.currency),
            "saldo_cuota": format_amount(line.balance, line.currency)}


def template_context(outgoing: Outgoing, config: Config, name: str, as_of: date,
                     collector: CollectorView | None = None,
                     views: dict[int, InvoiceView] | None = None) -> dict[str, Any]:
    """Every variable a template may use for `outgoing` (`cobrador`: with `collector`),
    but `referencia_pago` (see `with_reference`). A customer email lists at most
    `BODY_INVOICES` invoices (`facturas`, in the notice's order) and counts the rest
    (`facturas_mas`); totals, subject and payment link are over all of them. Digests are
    internal: they list everything. `views`: the invoice views already built for this
    message, by `id` of their line (the whole email and each of its notices list the same
    lines)."""
    context: dict[str, Any] = {
        "empresa": config.company,
        "remitente": sender_name(config.sender),
        "cliente": CustomerView(outgoing.recipient, name),
        "fecha_corte": dmy(as_of),
        "destinatario": name or outgoing.recipient,
        **company_variables(config),
    }
    if collector is not None:
        context["cobrador"] = collector
    return with_lines(context, outgoing, config, as_of, views)


def with_lines(context: Mapping[str, Any], outgoing: Outgoing, config: Config, as_of: date,
               views: dict[int, InvoiceView] | None = None,
               lines: tuple[Line, ...] | None = None) -> dict[str, Any]:
    """A copy of `context` with the variables of `lines` (by default the message's) and
    the planner's `Outgoing.context`: each notice of a combined email shares the rest of
    the email's context (`template_context`), built once."""
    lines = outgoing.lines if lines is None else lines
    notice = outgoing.kind == Kind.NOTICE
    terms = config if notice else None  # payment links and discounts: customer emails
    owed = owed_lines(lines)
    shown, more = listed(owed) if notice else (lines, 0)
    out = {
        **context,
        "facturas": ([invoice_view(line, terms, as_of) for line in shown] if views is None
                     else _views(shown, terms, as_of, views)),
        "facturas_mas": more,
        "totales": totals(owed),
        "fecha_gestion": contact_day(lines),
        "facturas_asunto": subject_invoices(owed),
        **instalment_variables(lines),
    }
    if notice:
        out["enlace_pago"] = _link(config, outgoing.recipient, owed, views)
    out.update(outgoing.context)
    return out


def _link(config: Config, customer: str, owed: tuple[Line, ...],
          views: dict[int, InvoiceView] | None) -> str:
    """`payment_link` of `owed`; that of one invoice of `customer` is its view's, already
    built (most notices of an email are about one invoice)."""
    if views is not None and len(owed) == 1 and owed[0].customer == customer:
        view = views.get(id(owed[0]))
        if view is not None:
            return view.enlace_pago
    return payment_link(config.payment_link, customer, owed)


def _views(lines: tuple[Line, ...], terms: Config | None, as_of: date,
           built: dict[int, InvoiceView]) -> list[InvoiceView]:
    """`invoice_view` of each line, reusing (and adding to) those `built` by line id."""
    views = []
    for line in lines:
        view = built.get(id(line))
        if view is None:
            view = built[id(line)] = invoice_view(line, terms, as_of)
        views.append(view)
    return views


def find_template(book: Book, code: str) -> Template | None:
    """(subject, body, approved) of the Plantillas row with this Código, or None."""
    return book.templates_by_code.get(code.upper())


# What every template of _ENV sees besides its variables (`Template.render` copies them
# out of a ChainMap on every call).
_GLOBALS = dict(_ENV.globals)


@lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    """Templates repeat for every message of a run: compile each text once."""
    return _ENV.from_string(source)


def precompile(sources: Iterable[str]) -> None:
    """Compile template texts ahead of their first render (a text that does not compile
    is left for the render to report)."""
    for source in sources:
        # a text that fails here fails again, and is reported, at its render
        with contextlib.suppress(Exception):
            _compiled(source)


def _variables(context: Mapping[str, Any]) -> dict[str, Any]:
    """The globals and a message's variables merged, as a render reads them: once per
    context, shared by the texts rendered with it (a render never changes them: what a
    template sets goes to its own `Context.vars`)."""
    return {**_GLOBALS, **context}


def render_text(source: str, context: Mapping[str, Any], limits: Limits | None = None) -> str:
    """Render one template text; raises jinja2 errors and TemplateLimitError (see
    `explain`). Inside `render_pair` both texts share the limits of the message.

    `Template.render` minus its per-call copy of the globals and traceback rewriting.
    """
    variables, budget = _variables(context), active()
    if budget is None:
        with limited(limits or Limits()) as budget:
            return _render(budget, source, variables)
    return _render(budget, source, variables)


def _render(budget: Budget, source: str, variables: dict[str, Any]) -> str:
    """Render `source` with `variables` (`_variables`: the stock call copies them again)."""
    template = _compiled(source)  # compiling inside the budget, too
    ctx = new_context(_ENV, template.name, template.blocks, variables, shared=True,
                      globals=_GLOBALS)
    return render_pieces(budget, template.root_render_func(ctx))


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, tabs) into single spaces: safe for a header."""
    return " ".join(text.split())


def explain(exc: Exception, template: str, part: str) -> str:
    """A rendering failure as one Spanish sentence naming the template and the part."""
    return explain_at(exc, f'Plantilla "{template}", {part}')


def explain_at(exc: Exception, where: str) -> str:
    """A rendering failure as one Spanish sentence that starts with `where`."""
    if isinstance(exc, TemplateLimitError):
        return f"{where}: {exc.describe()}"
    if isinstance(exc, RecursionError):
        return (f"{where}: la plantilla excede la profundidad máxima de llamadas anidadas; "
                "revise las macros que se llaman a sí mismas.")
    if isinstance(exc, SecurityError):
        m = re.search(r"attribute '([^']+)'", str(exc))
        what = f'el acceso a "{m.group(1)}"' if m else str(exc)
        return f"{where}: la plantilla intenta una operación no permitida ({what}); " + (
            "use solo las variables del aviso."
        )
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return (
            f"{where}, línea {exc.lineno}: error de sintaxis ({exc.message}); "
            "revise que cada {{ }} y {% %} esté bien cerrado."
        )
    if isinstance(exc, jinja2.UndefinedError):
        return f"{where}: {_undefined(str(exc))} (use {', '.join(VARIABLES)})."
    return f"{where}: no se pudo generar el texto ({type(exc).__name__}: {exc})."


def _undefined(message: str) -> str:
    if m := re.search(r"'([^']+)' is undefined", message):
        return f'la variable "{m.group(1)}" no existe'
    if m := re.search(r"has no attribute '([^']+)'", message):
        return f'el dato "{m.group(1)}" no existe'
    return f"variable no definida ({message})"


def render_pair(subject: str, body: str, context: Mapping[str, Any], template: str,
                limits: Limits | None = None) -> Rendered:
    """Render subject and body within the limits of one message (by default those of a
    message listing its `facturas`); any template failure becomes `Rendered.error`."""
    out: dict[str, str] = {}
    variables = _variables(context)
    with limited(limits or Limits.for_invoices(len(context.get("facturas", ())))) as budget:
        for part, label, source in (("subject", "Asunto", subject), ("body", "Cuerpo", body)):
            try:
                out[part] = _render(budget, source, variables)
            except Exception as exc:  # noqa: BLE001 - user text: every failure is a reason
                return Rendered(error=explain(exc, template, label))
    body_text = out["body"].replace("\r\n", "\n").replace("\r", "\n")
    return Rendered(subject=one_line(out["subject"]), body=with_more(body_text, body, context))


def with_reference(context: dict[str, Any], config: Config) -> dict[str, Any]:
    """`context` plus ``referencia_pago``: Configuración Referencia de pago rendered with
    it, on one line. Raises what rendering raises (see `reference_error`)."""
    context["referencia_pago"] = one_line(render_text(config.payment_reference, context))
    return context


def reference_error(exc: Exception) -> str:
    """Why Referencia de pago failed to render, in Spanish (it names the parameter)."""
    return explain_at(exc, f"Configuración, {REFERENCE}")


def render_outgoing(outgoing: Outgoing, book: Book, as_of: date) -> Rendered:
    """Look up `outgoing.template` in Plantillas and render it (a digest, or one notice
    on its own; a customer email is `render_message`)."""
    found = find_template(book, outgoing.template)
    if found is None and outgoing.kind == Kind.DIGEST:
        found = (*DIGEST_FALLBACK, True)
    failed = _unusable(outgoing.template, found)
    if failed:
        return Rendered(error=failed)
    subject, body, _ = found
    name = outgoing_name(book, outgoing)
    context = template_context(outgoing, book.config, name, as_of,
                               outgoing_collector(book, outgoing))
    if outgoing.kind == Kind.NOTICE:
        try:
            with_reference(context, book.config)
        except Exception as exc:  # noqa: BLE001 - user text: every failure is a reason
            return Rendered(error=reference_error(exc))
    return render_pair(subject, body, context, outgoing.template)


def _unusable(code: str, found: Template | None) -> str:
    """Why a Plantillas row cannot be used (missing, not approved); "" when it can."""
    if found is None:
        return f'No existe la plantilla "{code}" en Plantillas.'
    if not found[2]:
        return f'La plantilla "{code}" no está aprobada (Aprobada debe ser Sí).'
    return ""


@dataclass(frozen=True)
class RenderedMessage:
    """A customer email: what goes (`rendered`, an error when nothing can), the notices it
    carries, and those left out with the Spanish reason (they wait for a fix); `frame`
    names ENCABEZADO, PIE or Configuración's Referencia de pago (`REFERENCE`) when the
    error is theirs (then nothing goes)."""

    rendered: Rendered
    parts: tuple[Part, ...] = ()
    failed: tuple[tuple[Part, str], ...] = ()
    frame: str = ""


def render_message(outgoing: Outgoing, book: Book, as_of: date) -> RenderedMessage:
    """One customer email: the subject of its most severe notice that renders; the body
    ENCABEZADO + each notice's Cuerpo (with its own invoices) + PIE, joined by a blank
    line. Without ENCABEZADO/PIE rows (first-release Plantillas) the bodies stand alone.
    A notice whose Plantilla is missing, not approved or fails is left out (`failed`);
    the others go. Each notice renders within the limits of its own invoices.
    Referencia de pago renders once, with the whole email's context; its failure holds
    the email like a failing PIE."""
    name = outgoing_name(book, outgoing)
    collector = outgoing_collector(book, outgoing)
    views: dict[int, InvoiceView] = {}  # lines are alive while this message renders
    whole = template_context(outgoing, book.config, name, as_of, collector, views)
    frames = {}
    for frame in (HEADER, FOOTER):
        found = find_template(book, frame)
        if found is not None and (problem := _unusable(frame, found)):
            return RenderedMessage(Rendered(error=problem), frame=frame)
        frames[frame] = found
    try:
        with limited(Limits.for_invoices(len(outgoing.lines))):
            with_reference(whole, book.config)  # each part's context copies it
    except Exception as exc:  # noqa: BLE001 - user text: every failure is a reason
        return RenderedMessage(Rendered(error=reference_error(exc)), frame=REFERENCE)
    done: list[tuple[Part, str, str]] = []  # part, subject, body
    failed: list[tuple[Part, str]] = []
    for part in outgoing.parts:
        found = find_template(book, part.template)
        problem = _unusable(part.template, found)
        result = Rendered(error=problem) if problem else render_pair(
            found[0], found[1], with_lines(whole, outgoing, book.config, as_of, views, part.lines),
            part.template)
        if result.ok:
            done.append((part, result.subject, result.body))
        else:
            failed.append((part, result.error))
    if not done:
        return RenderedMessage(Rendered(error=failed[0][1]), (), tuple(failed))
    return _framed(done, frames, whole, tuple(failed))


def _framed(done: list[tuple[Part, str, str]], frames: Mapping[str, Template | None],
            whole: Mapping[str, Any], failed: tuple[tuple[Part, str], ...]) -> RenderedMessage:
    """The rendered notices between ENCABEZADO and PIE (rendered for the whole email)."""
    pieces = [body for _, _, body in done]
    lines = sum(len(part.lines) for part, _, _ in done)
    footer = ""
    variables = _variables(whole)
    with limited(Limits.for_invoices(lines)) as budget:
        for frame, at in ((HEADER, 0), (FOOTER, len(pieces) + 1)):
            found = frames[frame]
            if found is None:
                continue
            try:
                text = _render(budget, found[1], variables)
            except Exception as exc:  # noqa: BLE001 - user text: every failure is a reason
                return RenderedMessage(Rendered(error=explain(exc, frame, "Cuerpo")),
                                       frame=frame)
            text = with_more(text.replace("\r\n", "\n").replace("\r", "\n"), found[1], whole)
            pieces.insert(min(at, len(pieces)), text)
            footer = text.strip("\n") if frame == FOOTER else footer
    body = joined(pieces)
    # the PIE is the last piece: the HTML part puts the invoice table before it
    footer_at = body.rfind(footer) if footer.strip() else None
    rendered = Rendered(subject=done[0][1], body=body, footer_at=footer_at)
    return RenderedMessage(rendered, tuple(part for part, _, _ in done), failed)


def joined(pieces: list[str]) -> str:
    """Body pieces separated by one blank line; a single piece stays as rendered."""
    pieces = [p for p in pieces if p.strip()]
    if len(pieces) <= 1:
        return pieces[0] if pieces else ""
    end = "\n" if pieces[-1].endswith("\n") else ""
    return "\n\n".join(p.strip("\n") for p in pieces) + end


def with_more(text: str, source: str, context: Mapping[str, Any]) -> str:
    """A body whose template listed the first `BODY_INVOICES` invoices of more says how
    many it left out: "y 3 facturas más: vea el estado de cuenta adjunto." on the line
    after the first one naming the last invoice listed (where the list ends; a second
    list, such as the early-payment discounts, comes after it), or at the end when no
    line names it. Done here, not in each Plantillas text, so it also holds for a team's
    own templates and those of older workbooks; a template that uses `facturas_mas`
    itself places the sentence where it wants, and one that never uses `facturas` gets
    none."""
    more = int(context.get("facturas_mas") or 0)
    shown = context.get("facturas") or ()
    if not more or not shown or not _lists_invoices(source):
        return text
    sentence = f"y {count(more, 'factura más', 'facturas más')}: vea el estado de cuenta adjunto."
    last = re.compile(rf"(?<![\w-]){re.escape(shown[-1].factura)}(?![\w-])")
    rows = text.split("\n")
    at = next((i for i, row in enumerate(rows) if last.search(row)), None)
    if at is None:
        return text.rstrip("\n") + "\n\n" + sentence[0].upper() + sentence[1:] + "\n"
    rows.insert(at + 1, sentence)
    return "\n".join(rows)


@lru_cache(maxsize=256)
def _lists_invoices(source: str) -> bool:
    """The template uses `facturas` and leaves `facturas_mas` to us."""
    try:
        names = meta.find_undeclared_variables(_ENV.parse(source))
    except jinja2.TemplateError:
        return False
    return "facturas" in names and "facturas_mas" not in names


def statement_reference(book: Book, customer: str, lines: tuple[Line, ...], as_of: date) -> str:
    """Configuración Referencia de pago for `customer`'s statement, rendered like a
    template with the variables of its ESTADO_MENSUAL notice; "" (the line left out of
    the statement) when it is blank or does not render."""
    source = book.config.payment_reference
    if not source.strip():
        return ""
    statement = Outgoing(kind=Kind.NOTICE, code=NoticeCode.STATEMENT, recipient=customer,
                         to=(), cc=(), template=NoticeCode.STATEMENT, lines=lines, keys=())
    context = template_context(statement, book.config, customer_name(book, customer), as_of,
                               outgoing_collector(book, statement))
    try:
        return with_reference(context, book.config)["referencia_pago"]
    except Exception:  # noqa: BLE001 - user text: a broken reference is left out
        return ""
