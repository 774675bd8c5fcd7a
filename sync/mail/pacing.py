"""Sending under the mail provider's limits: Configuración `Correos por minuto` (messages
in any rolling 60 s) and `Destinatarios por día` (To + Cc in any rolling 24 h), and a
pause with backoff after the provider's "slow down" replies (421, 451, 4.7.x).

The rules are pure functions of the sends the ledger remembers (`sync.ledger.provider`)
and an instant. The cycle's clock is its as-of instant plus the real time elapsed since
the cycle began, so one `cobranza sync --as-of` after another computes its windows from
the ledger's stamps without anyone sleeping; inside a cycle, a message that would break
the minute limit waits (woken by `stop()`) while the cycle's waiting stays under
`CYCLE_WAIT`; past it, or past the day's recipients, the rest of the batch waits
`pendiente` ("límite del proveedor") for the next cycles, in the batch's order (most
severe first: `cobranza.notices.planner.sending_order`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cobranza.vocabulary import Reason, ReasonCode, reason
from sync.ledger.provider import ProviderLog

MINUTE = timedelta(seconds=60)
DAY = timedelta(hours=24)
# How long one cycle may spend waiting for the minute budget: 10 minutes (about 300
# messages at 30 a minute), then the rest goes in the next cycles, so `cobranza run`
# still serves its other workbooks and writes the sheets. Tests and the benchmark set
# COBRANZA_PACING_WAIT_SECONDS.
CYCLE_WAIT = 600.0
WAIT_ENV = "COBRANZA_PACING_WAIT_SECONDS"
FIRST_PAUSE = timedelta(minutes=5)
MAX_PAUSE = timedelta(hours=1)
STEP = 0.2  # seconds: how promptly a stop request ends a wait
STOPPED = "stopped"


def minute_wait(sent: Sequence[datetime], at: datetime, per_minute: int) -> timedelta:
    """How long after `at` one more message may go with at most `per_minute` messages in
    any 60 s (`sent`: when the earlier ones went, oldest first); zero when it may go now."""
    recent = [t for t in sent if t > at - MINUTE]
    if len(recent) < per_minute:
        return timedelta(0)
    return max(recent[-per_minute] + MINUTE - at, timedelta(0))


def day_used(sent: Sequence[tuple[datetime, int]], at: datetime) -> int:
    """Recipients (To + Cc) of the messages sent in the 24 h before `at`."""
    return sum(n for t, n in sent if t > at - DAY)


def pause_after(throttles: int) -> timedelta:
    """The wait after `throttles` slow-down replies in a row: 5, 10, 20, 40 minutes, then
    an hour."""
    return min(FIRST_PAUSE * 2 ** max(throttles - 1, 0), MAX_PAUSE)


def cycle_wait(env: Mapping[str, str] = os.environ) -> float:
    """Seconds a cycle may wait for the minute budget (WAIT_ENV, else CYCLE_WAIT)."""
    text = env.get(WAIT_ENV, "").strip()
    try:
        return max(float(text), 0.0) if text else CYCLE_WAIT
    except ValueError:
        return CYCLE_WAIT


@dataclass
class Pacer:
    """The limits of one cycle's batch, with the sends the ledger remembers."""

    log: ProviderLog
    per_minute: int
    per_day: int
    start: datetime  # the cycle's instant (aware)
    stop: Callable[[], bool] = lambda: False
    budget: float = field(default_factory=cycle_wait)  # seconds it may wait
    sent: list[tuple[datetime, int]] = field(default_factory=list)
    throttles: int = 0
    resume: datetime | None = None
    waited: float = 0.0
    reply: str = ""  # the last slow-down reply, as Envíos shows it
    _t0: float = field(default_factory=time.monotonic)

    @classmethod
    def of(cls, log: ProviderLog, per_minute: int, per_day: int, start: datetime,
           stop: Callable[[], bool]) -> Pacer:
        throttles, resume = log.pause()
        return cls(log, per_minute, per_day, start, stop, sent=log.sends_since(start - DAY),
                   throttles=throttles, resume=resume)

    def clock(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)

    def admit(self, recipients: int) -> Reason | str | None:
        """None when a message to `recipients` addresses may go now (after waiting, if the
        cycle may); else why it waits, or STOPPED when a stop was asked while waiting."""
        while True:
            at = self.clock()
            if self.resume is not None and at < self.resume:
                return self._paused()
            used = day_used(self.sent, at)
            if used and used + recipients > self.per_day:
                return reason(ReasonCode.PROVIDER_LIMIT,
                              detail=f"Destinatarios por día ({self.per_day})")
            wait = minute_wait([t for t, _ in self.sent], at, self.per_minute).total_seconds()
            if wait <= 0:
                return None
            if self.waited + wait > self.budget:
                return reason(ReasonCode.PROVIDER_LIMIT,
                              detail=f"Correos por minuto ({self.per_minute})")
            if not self._sleep(wait):
                return STOPPED

    def went(self, recipients: int, message_id: str) -> None:
        """A message the provider took (or may have): it counts toward both limits, and
        the provider is no longer asking to wait."""
        at = self.clock()
        self.sent.append((at, recipients))
        self.log.add(at, recipients, message_id)
        if self.throttles or self.resume:
            self.throttles, self.resume = 0, None
            self.log.set_pause(0, None)

    def throttled(self, reply: str) -> Reason:
        """The provider asked to slow down: pause, longer after each such reply in a row."""
        self.throttles += 1
        # whole seconds, like the ledger's next try of the refused message
        self.resume = (self.clock() + pause_after(self.throttles)).replace(microsecond=0)
        self.log.set_pause(self.throttles, self.resume)
        self.reply = reply
        return self._paused()

    def _paused(self) -> Reason:
        until = self.resume.astimezone(self.start.tzinfo)
        reply = self.reply or "según su respuesta anterior"
        return reason(ReasonCode.PROVIDER_THROTTLED, detail=reply,
                      until=f"{until:%Y-%m-%d %H:%M}")

    def _sleep(self, seconds: float) -> bool:
        """Wait `seconds`, waking for a stop request; False when stopped."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            if self.stop():
                self.waited += seconds - left
                return False
            time.sleep(min(left, STEP))
        self.waited += seconds
        return True
