"""Progress of long operations: a bar on a terminal, plain log lines otherwise.

Usage, from any step that loops over many rows or a few slow stages::

    from sync.progress import progress, track

    with progress(len(rows), "Generando facturas de demostración") as bar:
        for chunk in chunks:
            ...
            bar.advance(len(chunk))

    for message in track(outgoing, "Enviando avisos"):
        ...

Short operations print nothing: the bar appears only after `delay` seconds, and log
lines only every `log_every` seconds, so a small workbook's cycle stays quiet. Stdlib
only; the bar is one `\\r` line on stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TextIO, TypeVar

log = logging.getLogger("cobranza")
T = TypeVar("T")

# Set COBRANZA_PROGRESS=0 to silence progress entirely (bar and log lines).
_ENV_SWITCH = "COBRANZA_PROGRESS"
_BAR_WIDTH = 30


class Progress:
    """A running count towards `total` (None = unknown total), reported as it advances."""

    def __init__(
        self,
        total: int | None,
        label: str,
        *,
        stream: TextIO | None = None,
        tty: bool | None = None,
        delay: float = 0.5,
        log_every: float = 5.0,
        clock=time.monotonic,
    ) -> None:
        self.total = total if total and total > 0 else None
        self.label = label
        self.done = 0
        self.stream = stream if stream is not None else sys.stderr
        self.tty = _isatty(self.stream) if tty is None else tty
        self.enabled = os.environ.get(_ENV_SWITCH, "1") != "0"
        self.delay = delay
        self.log_every = log_every
        self._clock = clock
        self._start = clock()
        self._last_draw = 0.0
        self._last_log = self._start
        self._drawn = False
        self._logged = False

    def advance(self, n: int = 1) -> None:
        """Count `n` more units of work done."""
        self.done += n
        self._report()

    def update(self, done: int) -> None:
        """Set the absolute number of units done."""
        self.done = done
        self._report()

    def text(self) -> str:
        """The progress as one Spanish line, without the bar."""
        elapsed = self._clock() - self._start
        if self.total:
            pct = min(100, self.done * 100 // self.total)
            return f"{self.label}: {pct}% ({_n(self.done)} de {_n(self.total)}, {elapsed:.0f} s)"
        return f"{self.label}: {_n(self.done)} ({elapsed:.0f} s)"

    def bar(self) -> str:
        if not self.total:
            return self.text()
        filled = min(_BAR_WIDTH, self.done * _BAR_WIDTH // self.total)
        return f"{self.label} [{'#' * filled}{'.' * (_BAR_WIDTH - filled)}] " + self.text()[
            len(self.label) + 2:
        ]

    def finish(self) -> None:
        """Close the bar line, or log the final line if progress was logged before."""
        if not self.enabled:
            return
        if self._drawn:
            self._draw(final=True)
        elif self._logged:
            elapsed = self._clock() - self._start
            log.info("%s: listo (%s en %.0f s)", self.label, _n(self.done), elapsed)

    def _report(self) -> None:
        if not self.enabled:
            return
        now = self._clock()
        if now - self._start < self.delay:
            return
        if self.tty:
            if now - self._last_draw >= 0.1:
                self._draw()
        elif now - self._last_log >= self.log_every:
            self._last_log = now
            self._logged = True
            log.info("%s", self.text())

    def _draw(self, final: bool = False) -> None:
        self._last_draw = self._clock()
        self._drawn = True
        self.stream.write("\r" + self.bar() + ("\n" if final else ""))
        self.stream.flush()


@contextmanager
def progress(total: int | None, label: str, **options) -> Iterator[Progress]:
    """Report progress of one long operation; see the module docstring."""
    bar = Progress(total, label, **options)
    try:
        yield bar
    finally:
        bar.finish()


def track(items: Iterable[T], label: str, total: int | None = None, **options) -> Iterator[T]:
    """Yield `items`, advancing a progress report by one per item."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, label, **options) as bar:
        for item in items:
            yield item
            bar.advance()


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _n(value: int) -> str:
    """Thousands with a space, as Spanish style guides prefer: 100 000."""
    return f"{value:,}".replace(",", " ")
