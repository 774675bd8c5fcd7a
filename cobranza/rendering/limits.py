"""Limits of one template render: output size, loop iterations and time per message.

Plantillas are text the team edits in Excel. A loop that doubles a string, a huge
`center` width, nested `range(100000)` loops or a huge power must end as a Spanish
reason on that message, quickly and in little memory: never a stalled service, a
crash or a 30 MB email. The limits are cooperative and deterministic (no threads, no
signals): one `Budget` per message (`cobranza.rendering.budget`) is checked where the
sandbox already routes every value a template builds:

- each `{% for %}` iteration (a step `LimitedCodeGenerator` adds to the loop),
  each call (function, method, macro) and each filter counts as a step and looks at
  the clock;
- each operation that can build a large value (`+ * % **`, `~`, list/tuple/dict
  literals, filters and methods with a width or a count, `str.format`) estimates the
  size of its result *before* computing it, so no single C-level operation can take
  seconds or gigabytes; what it built is charged to an allowance for the message;
- the output is counted while it is produced and stops as soon as it passes the limit.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Iterable
from types import BuiltinMethodType, MethodType
from typing import Any

from jinja2 import nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedFormatter
from jinja2.utils import Namespace, generate_lorem_ipsum
from markupsafe import EscapeFormatter, Markup

from cobranza.rendering.budget import Budget, Limit, current

_FORMAT_SLACK = 330  # a number formatted without width: "%f" of 1e308 has 316 characters


# --- estimates, before computing ---------------------------------------------------------

_PRINTF = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d*)(?:\.(\*|\d*))?[hlL]?(.)", re.S)
_SPEC_NUMBER = re.compile(r"\d+")


def _int(value: Any) -> int:
    return abs(value) if type(value) is int or type(value) is bool else 0


def printf_size(budget: Budget, fmt: str | bytes, args: Any) -> int:
    """Upper bound of len(fmt % args): every width and precision, the arguments' weights."""
    size = len(fmt) + budget.weight(args)
    pattern = _PRINTF if isinstance(fmt, str) else re.compile(_PRINTF.pattern.encode(), re.S)
    for width, precision, _ in pattern.findall(fmt):
        size += _FORMAT_SLACK + _digits_value(width) + _digits_value(precision)
    if "*" in str(fmt):  # widths taken from the arguments
        values = args if type(args) is tuple else (args,)
        size += sum(_int(v) for v in values)
    return size


def _digits_value(text: str | bytes) -> int:
    return int(text) if text and text not in ("*", b"*") else 0


def spec_size(spec: str) -> int:
    """Upper bound of what a str.format spec ("{:>20.2f}") adds to its value."""
    return _FORMAT_SLACK + sum(int(n) for n in _SPEC_NUMBER.findall(spec))


def binop(budget: Budget, table: dict[str, Callable[[Any, Any], Any]], op: str, left: Any,
          right: Any) -> Any:
    """`left op right` for the operators that can grow a value (+ * % **)."""
    weight = _binop_weight(budget, op, left, right)
    value = table[op](left, right)
    if type(value) is int:
        budget.bits(value.bit_length())
    elif weight is not None and type(value) in (list, tuple):
        budget.remember(value, weight)
    return budget.result(value)


def _binop_weight(budget: Budget, op: str, left: Any, right: Any) -> int | None:
    """Refuse what would be too large; the weight of a list or tuple result."""
    left_int, right_int = type(left) in (int, bool), type(right) in (int, bool)
    if left_int and right_int:
        if op == "*":
            budget.bits(left.bit_length() + right.bit_length())
        if op == "**" and right > 0 and abs(left) > 1:
            budget.bits(math.ceil(right * math.log2(abs(left))))
        return None
    if op == "*" and (left_int or right_int):
        seq, count = (right, left) if left_int else (left, right)
        if isinstance(seq, str | bytes | list | tuple) and count > 0:
            weight = budget.weight(seq) * count
            budget.allow(weight)
            return weight
    if op == "+" and isinstance(left, str | bytes | list | tuple) and \
            isinstance(right, str | bytes | list | tuple):
        weight = budget.weight(left) + budget.weight(right)
        budget.allow(weight)
        return weight
    if op == "%" and isinstance(left, str | bytes):
        budget.allow(printf_size(budget, left, right))
    return None


# --- filters, methods and globals ----------------------------------------------------------

def _center(budget: Budget, a: dict[str, Any]) -> None:
    budget.allow(max(budget.weight(a["value"]), _int(a["width"])))


def _indent(budget: Budget, a: dict[str, Any]) -> None:
    width = a["width"]
    width = len(width) if isinstance(width, str) else _int(width)
    text = a["s"]
    lines = text.count("\n") + 1 if isinstance(text, str) else budget.weight(text)
    budget.allow(budget.weight(text) + lines * width)


def _wordwrap(budget: Budget, a: dict[str, Any]) -> None:
    # at most one line per character, each ended by the wrap string
    wrap = a["wrapstring"] if a["wrapstring"] is not None else "\n"
    budget.allow(budget.weight(a["s"]) * (1 + budget.weight(wrap)))


def _format(budget: Budget, a: dict[str, Any]) -> None:
    value = a["value"]
    args = a["kwargs"] or a["args"]
    if not isinstance(value, str):
        budget.weight(value)
        value = str(value)
    budget.allow(printf_size(budget, value, args))


def _replace_size(budget: Budget, text: Any, old: Any, new: Any, count: Any) -> int:
    if not isinstance(text, str):
        budget.weight(text)
        text = str(text)
    old, new = str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if type(count) is int and count >= 0:
        found = min(found, count)
    return len(text) + found * max(0, len(new) - len(old))


def _replace(budget: Budget, a: dict[str, Any]) -> None:
    budget.allow(_replace_size(budget, a["s"], a["old"], a["new"], a["count"]))


def _join(budget: Budget, a: dict[str, Any]) -> None:
    items = a["value"] = list(a["value"])  # a generator is read once, here
    if a["attribute"] is None:
        size = sum(budget.weight(item) for item in items)
        budget.allow(size + budget.weight(a["d"]) * max(0, len(items) - 1))


def _batch(budget: Budget, a: dict[str, Any]) -> None:
    if a["fill_with"] is not None:
        budget.allow(_int(a["linecount"]) * (budget.weight(a["fill_with"]) + 2))


def _slice(budget: Budget, a: dict[str, Any]) -> None:
    budget.allow(_int(a["slices"]) * (budget.weight(a["fill_with"]) + 4))


def _sum(budget: Budget, a: dict[str, Any]) -> None:
    if isinstance(a["start"], int | float):
        return
    items = a["iterable"] = list(a["iterable"])  # adding lists copies the sum each time
    total = budget.weight(a["start"]) + sum(budget.weight(item) for item in items)
    budget.allow(total * max(1, len(items)))


def _urlize(budget: Budget, a: dict[str, Any]) -> None:
    text = a["value"]
    words = (text.count(" ") + text.count("\n") + 1) if isinstance(text, str) else 1
    extra = sum(budget.weight(a[k]) for k in ("target", "rel") if a[k] is not None)
    budget.allow(3 * budget.weight(text) + words * (extra + 60))


def _lipsum(budget: Budget, a: dict[str, Any]) -> None:
    budget.allow(_int(a["n"]) * (_int(a["max"]) + 1) * 16)


FILTER_CHECKS: dict[str, Callable[[Budget, dict[str, Any]], None]] = {
    "center": _center, "indent": _indent, "wordwrap": _wordwrap, "format": _format,
    "replace": _replace, "join": _join, "batch": _batch, "slice": _slice, "sum": _sum,
    "urlize": _urlize,
}
# Filters that build nothing and take constant time on what they get (`length` of a
# generator reads it, but its items are steps): left as they are, they cost nothing.
FREE = frozenset({"length", "count", "default", "d", "first", "last", "abs", "attr",
                  "round"})
# Filters that turn their whole input into text (`str(value)` and more).
STRINGIFY = frozenset({
    "string", "safe", "tojson", "pprint", "xmlattr", "escape", "e", "forceescape",
    "urlencode", "title", "upper", "lower", "capitalize", "trim", "truncate", "striptags",
    "wordcount",
})


def guard(name: str, func: Callable[..., Any],
          check: Callable[[Budget, dict[str, Any]], None] | None = None) -> Callable[..., Any]:
    """Filter `func`, counting as a step, checked before and charged after.

    The guarded filter takes the context, whatever `func` takes: Jinja never runs a
    context filter while compiling, so no constant is ever built outside a budget."""
    if getattr(func, "jinja_async_variant", False):  # its sync twin, with its own signature
        func = func.__wrapped__
    passes = getattr(getattr(func, "jinja_pass_arg", None), "name", None)
    signature = inspect.signature(func) if check else None
    stringify = name in STRINGIFY

    def guarded(context: Any, *args: Any, **kwargs: Any) -> Any:
        budget = current()
        budget.step()
        if stringify and args and type(args[0]) is not str:
            budget.weight(args[0])
        if passes == "context":
            args = (context, *args)
        elif passes == "eval_context":
            args = (context.eval_ctx, *args)
        elif passes == "environment":
            args = (context.environment, *args)
        if check is not None and signature is not None:
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            check(budget, bound.arguments)
            args, kwargs = bound.args, bound.kwargs
        return budget.result(func(*args, **kwargs))

    guarded = functools.update_wrapper(guarded, func)
    return pass_context(guarded)


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any = None) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _pad_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    budget.allow(max(len(owner), _int(_arg(args, kwargs, 0, "width", 0))))
    return args


def _tabs_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    tabs = owner.count("\t" if isinstance(owner, str) else b"\t")
    budget.allow(len(owner) + tabs * _int(_arg(args, kwargs, 0, "tabsize", 8)))
    return args


def _replace_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    if isinstance(owner, str) and len(args) >= 2:
        budget.allow(_replace_size(budget, owner, args[0], args[1], _arg(args, kwargs, 2,
                                                                          "count", -1)))
    elif isinstance(owner, bytes) and len(args) >= 2 and isinstance(args[1], bytes):
        found = owner.count(args[0]) if args[0] else len(owner) + 1
        budget.allow(len(owner) + found * len(args[1]))
    return args


def _join_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    if not args:
        return args
    items = list(args[0])
    size = sum(budget.weight(item) for item in items)
    budget.allow(size + len(owner) * max(0, len(items) - 1))
    return (items, *args[1:])


def _translate_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    if isinstance(owner, str) and args and isinstance(args[0], dict | list | tuple | str):
        table = args[0]
        values = table.values() if isinstance(table, dict) else table
        # each character becomes a string, a code point (one character) or nothing
        longest = max((len(v) if isinstance(v, str) else 1 for v in values), default=1)
        budget.allow(len(owner) * max(1, longest))
    return args


def _bytes_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    budget.allow(_int(_arg(args, kwargs, 0, "length", 1)))
    return args


def _fromkeys_method(budget: Budget, owner: Any, args: tuple, kwargs: dict) -> tuple:
    if args:
        keys = list(args[0])
        value = _arg(args, kwargs, 1, "value")
        budget.allow(budget.weight(keys) + len(keys) * (budget.weight(value) + 2))
        return (keys, *args[1:])
    return args


METHOD_CHECKS: dict[str, Callable[[Budget, Any, tuple, dict], tuple]] = {
    "center": _pad_method, "ljust": _pad_method, "rjust": _pad_method, "zfill": _pad_method,
    "expandtabs": _tabs_method, "replace": _replace_method, "join": _join_method,
    "translate": _translate_method, "to_bytes": _bytes_method, "fromkeys": _fromkeys_method,
}
_METHOD_OWNERS = (str, bytes, int, dict, type)


def check_call(budget: Budget, obj: Any, args: tuple, kwargs: dict) -> tuple:
    """Arguments of a call (`obj(*args)`), refused when a method would build too much."""
    if type(obj) is BuiltinMethodType or type(obj) is MethodType:
        check = METHOD_CHECKS.get(obj.__name__)
        if check is not None and isinstance(obj.__self__, _METHOD_OWNERS):
            return check(budget, obj.__self__, args, kwargs)
    return args


class LimitedNamespace(Namespace):
    """`namespace()`, printed without its contents: a namespace can change after a list
    that holds it was measured, so its text must not depend on them."""

    def __repr__(self) -> str:
        return "<Namespace>"


def lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    """The `lipsum` global, its size checked first."""
    budget = current()
    _lipsum(budget, {"n": n, "max": max})
    return generate_lorem_ipsum(n, html, min, max)


# --- str.format ----------------------------------------------------------------------------

class LimitedFormatter(SandboxedFormatter):
    """The sandbox's str.format, each field checked against the size limit first."""

    def vformat(self, format_string: str, args: Any, kwargs: Any) -> str:
        self.size = len(format_string)
        return super().vformat(format_string, args, kwargs)

    def format_field(self, value: Any, format_spec: str) -> Any:
        budget = current()
        self.size += budget.weight(value) + spec_size(format_spec)
        budget.allow(self.size)
        return super().format_field(value, format_spec)


class LimitedEscapeFormatter(LimitedFormatter, EscapeFormatter):
    pass


def wrap_str_format(env: ImmutableSandboxedEnvironment, value: Any) -> Callable | None:
    """`jinja2.sandbox.SandboxedEnvironment.wrap_str_format` with the limited formatter."""
    if type(value) not in (MethodType, BuiltinMethodType) or \
            value.__name__ not in ("format", "format_map"):
        return None
    owner = value.__self__
    if not isinstance(owner, str):
        return None
    formatter: LimitedFormatter
    if isinstance(owner, Markup):
        formatter = LimitedEscapeFormatter(env, escape=owner.escape)
    else:
        formatter = LimitedFormatter(env)
    is_map, str_type = value.__name__ == "format_map", type(owner)

    def wrapper(*args: Any, **kwargs: Any) -> str:
        if is_map:  # the stock wrapper's checks and messages
            if kwargs:
                raise TypeError("format_map() takes no keyword arguments")
            if len(args) != 1:
                raise TypeError(f"format_map() takes exactly one argument ({len(args)} given)")
            args, kwargs = (), args[0]
        return str_type(formatter.vformat(owner, args, kwargs))

    return functools.update_wrapper(wrapper, value)


# --- the compiled code ---------------------------------------------------------------------

_STEP = "loop_step"  # `environment.loop_step()`, one per loop iteration; always true


class LimitedCodeGenerator(CodeGenerator):
    """Stock code, plus: each loop iteration is a step; list, tuple and dict literals and
    `~` are measured before they are built; buffered output is an `OutputBuffer`."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        # Jinja allows no custom node types: the step is an EnvironmentAttribute node
        # (never constant-folded), written as a call by visit_EnvironmentAttribute.
        step = nodes.EnvironmentAttribute(_STEP, lineno=node.lineno)
        node.body = [nodes.ExprStmt(step, lineno=node.lineno), *node.body]
        if node.test is not None:  # `for x in y if test`: the test sees every item
            node.test = nodes.And(step, node.test, lineno=node.lineno)
        super().visit_For(node, frame)

    def buffer(self, frame: Frame) -> None:
        frame.buffer = self.temporary_identifier()
        self.writeline(f"{frame.buffer} = environment.output_buffer()")

    def visit_Output(self, node: nodes.Output, frame: Frame) -> None:
        # Unbuffered, the stock code yields each piece of the node alone ("- Factura ",
        # f.factura, " (", ...): a digest line is a dozen yields, each checked by
        # `render_pieces`. Yield the node's pieces as one string instead; the output is
        # the same text. A plain join, not `environment.concat` (a quarter of a digest's
        # render at 1 000 000 invoices): `render_pieces` measures the string as it comes,
        # and the pieces it joins already exist, so measuring first saves no memory.
        if frame.buffer is not None or frame.require_output_check or len(node.nodes) < 2:
            super().visit_Output(node, frame)
            return
        frame.buffer = pieces = self.temporary_identifier()
        try:
            self.writeline(f"{pieces} = []")
            super().visit_Output(node, frame)
            self.writeline(f"yield ''.join({pieces})")
        finally:
            frame.buffer = None

    def visit_EnvironmentAttribute(self, node: nodes.EnvironmentAttribute,
                                   frame: Frame) -> None:
        if node.name == _STEP:
            self.write(f"environment.{_STEP}()")
        else:
            super().visit_EnvironmentAttribute(node, frame)

    def visit_List(self, node: nodes.List, frame: Frame) -> None:
        self.write("environment.built(")
        super().visit_List(node, frame)
        self.write(")")

    def visit_Dict(self, node: nodes.Dict, frame: Frame) -> None:
        self.write("environment.built(")
        super().visit_Dict(node, frame)
        self.write(")")

    def visit_Tuple(self, node: nodes.Tuple, frame: Frame) -> None:
        if node.ctx != "load":  # a target: `{% for a, b in ... %}`
            super().visit_Tuple(node, frame)
            return
        self.write("environment.built(")
        super().visit_Tuple(node, frame)
        self.write(")")

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:  # as the stock generator chooses the join
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.joined({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def joined(budget: Budget, join: Callable[[Iterable[Any]], str], parts: tuple) -> str:
    """`a ~ b ~ c`, measured first."""
    budget.allow(sum(budget.weight(part) for part in parts))
    return budget.result(join(parts))


class OutputBuffer(list):
    """The output of a macro, a `{% set %}`, `{% filter %}` or `{% call %}` block or a
    recursive loop, collected before it is joined: each piece is paid for as it comes
    (a loop appending the same long text keeps only references, its join would not)."""

    __slots__ = ("budget",)

    def __init__(self, budget: Budget) -> None:
        super().__init__()
        self.budget = budget

    def append(self, piece: str) -> None:
        self.budget.charge(len(piece))
        super().append(piece)

    def extend(self, pieces: Iterable[str]) -> None:
        pieces = tuple(pieces)
        self.budget.charge(sum(map(len, pieces)))
        super().extend(pieces)


def concat(budget: Budget, pieces: Iterable[str]) -> str:
    """The text of an `OutputBuffer` (or any pieces): measured, then joined."""
    pieces = pieces if isinstance(pieces, list) else list(pieces)
    budget.allow(sum(map(len, pieces)))
    return "".join(pieces)


def render_pieces(budget: Budget, pieces: Iterable[str]) -> str:
    """The output of a template, stopped as soon as it passes the limit."""
    out: list[str] = []
    append, left = out.append, budget.output
    for piece in pieces:
        left -= len(piece)
        if left < 0:
            raise budget.fail(Limit.SIZE)
        append(piece)
    budget.output = left
    return "".join(out)


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, every render bounded by the `Budget` of its message."""

    intercepted_binops = frozenset({"+", "*", "%", "**"})
    code_generator_class = LimitedCodeGenerator

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.filters = {name: func if name in FREE else guard(name, func, FILTER_CHECKS.get(name))
                        for name, func in self.filters.items()}
        self.globals["namespace"] = LimitedNamespace
        self.globals["lipsum"] = lipsum  # `range` is already the sandbox's, 100 000 at most

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        return binop(current(), self.binop_table, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        budget = current()
        budget.step()
        args = check_call(budget, __obj, args, kwargs)
        return budget.result(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        return wrap_str_format(self, value)

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        return concat(current(), pieces)

    # called by the code of LimitedCodeGenerator
    def loop_step(self) -> bool:
        current().step()
        return True

    def output_buffer(self) -> OutputBuffer:
        return OutputBuffer(current())

    def built(self, value: Any) -> Any:
        return current().container(value)

    def joined(self, join: Callable[[Iterable[Any]], str], parts: tuple) -> str:
        return joined(current(), join, parts)
