"""What one message's templates may spend: output size, loop iterations, time.

`Limits` are the figures of one message (1 MB, 1 000 000 iterations and calls, 2 s,
plus an allowance per listed invoice); a `Budget` is what is left of them while its
subject and body render, in a context variable so every hook of the sandbox
(`cobranza.rendering.limits`) finds it. Past a limit it raises `TemplateLimitError`,
whose `describe` is the Spanish reason.

Sizes are weights: about the length of the text `str(value)` would give, counted
without producing it. A list holding the same long list a thousand times weighs a
thousand times that list, although it takes little memory: printing or comparing it
would not.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from enum import Enum
from itertools import chain
from types import GeneratorType
from typing import Any

from markupsafe import Markup

# Characters; "1 MB" for the people who read the reasons (the text is mostly ASCII).
MAX_CHARS = 1_000_000  # output of one message (subject and body) and any value it builds
MAX_STEPS = 1_000_000  # loop iterations, calls and filters of one message
MAX_SECONDS = 2.0  # of one message
# Each invoice a message lists adds to its limits: a digest lists thousands of lines.
CHARS_PER_INVOICE = 1_000
STEPS_PER_INVOICE = 100
SECONDS_PER_INVOICE = 0.001
MAX_DIGITS = 4_300  # longest integer a template may build (Python will not print longer)
_MAX_BITS = int(MAX_DIGITS * math.log2(10)) + 1
BUILT_FACTOR = 16  # everything a message builds, together: 16 times its output limit
MAX_DEPTH = 64  # nesting of lists and dicts a template may build
_MEMO_WEIGHT = 256  # weights are remembered from this size on (smaller ones walk fast)
_MEMO_COST = 256  # what remembering one costs against the allowance (keeps the memo small)


class Limit(Enum):
    SIZE = "size"
    STEPS = "steps"
    TIME = "time"
    DIGITS = "digits"


@dataclass(frozen=True)
class Limits:
    chars: int = MAX_CHARS
    steps: int = MAX_STEPS
    seconds: float = MAX_SECONDS

    @staticmethod
    @functools.lru_cache(maxsize=1024)
    def for_invoices(count: int) -> Limits:
        """The limits of a message that lists `count` invoices."""
        return Limits(MAX_CHARS + CHARS_PER_INVOICE * count,
                      MAX_STEPS + STEPS_PER_INVOICE * count,
                      MAX_SECONDS + SECONDS_PER_INVOICE * count)


class TemplateLimitError(Exception):
    """A render passed one of its limits (see `describe`)."""

    def __init__(self, limit: Limit, limits: Limits) -> None:
        super().__init__(limit.value)
        self.limit, self.limits = limit, limits

    def describe(self) -> str:
        """The Spanish reason, after 'Plantilla "X", Cuerpo: '."""
        limits = self.limits
        if self.limit is Limit.STEPS:
            return (f"la plantilla excede el máximo de {limits.steps:,} repeticiones por "
                    "mensaje (vueltas de ciclos {% for %} y llamadas); revise los ciclos "
                    "anidados y las macros que se llaman a sí mismas.")
        if self.limit is Limit.TIME:
            return (f"la plantilla excede el tiempo máximo de {_number(limits.seconds)} "
                    "segundos por mensaje; simplifique los ciclos {% for %} y los cálculos.")
        if self.limit is Limit.DIGITS:
            return (f"la plantilla excede el máximo de {MAX_DIGITS:,} dígitos de un número; "
                    "revise las potencias (**) y las multiplicaciones.")
        return (f"la plantilla excede el tamaño máximo de {_number(limits.chars / 1e6)} MB "
                "por mensaje; revise los ciclos {% for %} y los textos que repite o amplía.")


def _number(value: float) -> str:
    return f"{value:,.1f}".removesuffix(".0")


_VIEWS = (type({}.keys()), type({}.values()))
_SCALARS = (float, bool, type(None))
_SIZED = frozenset({str, Markup, bytes, list, tuple, dict})


class Budget:
    """What one message may still spend; raises `TemplateLimitError` past a limit."""

    __slots__ = ("limits", "steps", "built", "output", "deadline", "clock", "memo")

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits, self.clock = limits, clock
        self.steps = limits.steps
        self.built = limits.chars * BUILT_FACTOR
        self.output = limits.chars
        self.deadline = clock() + limits.seconds
        self.memo: dict[int, tuple[Any, int]] = {}  # id -> (container, weight); keeps it alive

    def fail(self, limit: Limit) -> TemplateLimitError:
        return TemplateLimitError(limit, self.limits)

    def step(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise self.fail(Limit.STEPS)
        if self.clock() > self.deadline:
            raise self.fail(Limit.TIME)

    def allow(self, size: int) -> None:
        """A value of `size` may be built (checked before building it)."""
        if size > self.limits.chars:
            raise self.fail(Limit.SIZE)

    def charge(self, size: int) -> None:
        """A value of `size` was built."""
        self.allow(size)
        self.built -= size
        if self.built < 0:
            raise self.fail(Limit.SIZE)

    def emit(self, size: int) -> None:
        """`size` more characters of output."""
        self.output -= size
        if self.output < 0:
            raise self.fail(Limit.SIZE)

    def bits(self, count: int) -> None:
        """An integer of `count` bits may be built."""
        if count > _MAX_BITS:
            raise self.fail(Limit.DIGITS)

    def weight(self, value: Any, depth: int = 0) -> int:
        """About len(str(value)), without building it; raises past the size limit."""
        kind = type(value)
        if kind is str or kind is Markup:
            return len(value)
        if kind is int:
            return value.bit_length() * 3 // 10 + 2
        if kind in _SCALARS:
            return 24
        if kind is bytes:
            return 4 * len(value) + 3  # repr: b'\xff'
        hit = self.memo.get(id(value))
        if hit is not None:
            return hit[1]
        if kind is list or kind is tuple or kind in _VIEWS:
            items: Iterable[Any] = value
        elif kind is dict:
            items = chain.from_iterable(value.items())
        elif kind is type({}.items()):
            items = chain.from_iterable(value)
        else:
            return self._remember(value, len(repr(value)))  # views of invoices, jinja objects
        if depth > MAX_DEPTH:
            raise self.fail(Limit.SIZE)
        total = 2
        for item in items:
            total += self.weight(item, depth + 1) + 2
            self.allow(total)
        return self._remember(value, total)

    def _remember(self, value: Any, weight: int) -> int:
        self.allow(weight)
        self.remember(value, weight)
        return weight

    def remember(self, value: Any, weight: int) -> None:
        """The weight of `value`, known: not walked again (large ones only)."""
        if weight >= _MEMO_WEIGHT:
            self.charge(_MEMO_COST)
            self.memo[id(value)] = (value, weight)

    def result(self, value: Any) -> Any:
        """Charge what a call, filter or operator returned; lazy results count per item."""
        kind = type(value)
        if kind in _SIZED:  # a list, tuple or dict holds what was already paid for
            self.charge(len(value))
        elif kind is GeneratorType:
            return self._stepped(value)
        return value

    def container(self, value: Any) -> Any:
        """A list, tuple or dict literal the template built."""
        self.weight(value)
        self.charge(len(value))
        return value

    def _stepped(self, items: Iterator[Any]) -> Iterator[Any]:
        for item in items:
            self.step()
            yield item


_CURRENT: ContextVar[Budget | None] = ContextVar("template_budget", default=None)


def current() -> Budget:
    """The budget of the render in progress (a fresh one outside any render)."""
    return _CURRENT.get() or Budget(Limits())


def active() -> Budget | None:
    return _CURRENT.get()


class limited:  # noqa: N801 - used as a function: `with limited(limits) as budget:`
    """A new budget for what runs inside (one message: its subject and its body)."""

    __slots__ = ("budget", "token")

    def __init__(self, limits: Limits) -> None:
        self.budget = Budget(limits)

    def __enter__(self) -> Budget:
        self.token = _CURRENT.set(self.budget)
        return self.budget

    def __exit__(self, *exc: object) -> None:
        _CURRENT.reset(self.token)
