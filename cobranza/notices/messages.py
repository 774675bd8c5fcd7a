"""What the planner hands to delivery: one outgoing message and the invoices it lists.

The planner (`cobranza.notices.planner`, `cobranza.notices.digests`) is pure: it decides
*what* is due and in which state. Delivery (`sync.mail.sending`) renders, claims the
ledger keys, sends and records the outcome. The ledger key is the identity that makes
"exactly once" hold.

Notices the planner skips (`omitido`: their time passed, the customer is excluded, the
template cannot be used) are never rendered, only recorded and counted; a first sync of a
full history skips tens of thousands, so they travel as one columnar `Skipped` batch
instead of one `Outgoing` each.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from cobranza.vocabulary import Kind, Reason, SendState


def notice_key(customer: str, invoice: str, code: str, promise: date | None = None) -> str:
    """Ledger key of one customer notice for one invoice (promise notices: per promise date)."""
    return f"aviso|{customer}|{invoice}|{code}|{promise.isoformat() if promise else ''}"


def digest_key(recipient: str, code: str, period: str) -> str:
    """Ledger key of one digest for one recipient and period ("2026-11-25", "2026-W48")."""
    return f"resumen|{recipient.lower()}|{code}|{period}"


@dataclass(frozen=True)
class Line:
    """One invoice listed in a message."""

    invoice: str
    customer: str
    due: date | None
    days_overdue: int
    balance: int  # minor units
    currency: str
    issued: date | None = None
    promise_date: date | None = None
    status: str = ""
    detail: str = ""  # digests: why the invoice is listed


@dataclass(frozen=True)
class Outgoing:
    """One email to be sent (or held back), grouping all its invoices.

    Customer notices: one per customer per code per run. Digests: one per recipient per
    code per period.
    """

    kind: Kind
    code: str  # Avisos Código (NUEVA, ...) or a DigestCode
    recipient: str  # customer id for avisos, email for digests
    to: tuple[str, ...]
    cc: tuple[str, ...]
    template: str  # Plantillas Código used to render it
    lines: tuple[Line, ...]
    keys: tuple[str, ...]  # ledger keys: one per invoice (avisos) or one per period (digest)
    # READY (allowed to go now), PENDING or ERROR (`omitido` ones travel in a `Skipped`)
    state: SendState = SendState.READY
    reason: Reason | None = None  # the rule that held it back

    context: Mapping[str, Any] = field(default_factory=dict)  # extra template variables


def invoice_list(invoices: Iterable[str]) -> str:
    """A message's invoices as Envíos shows them: distinct, in line order, ", "-joined."""
    return ", ".join(dict.fromkeys(filter(None, invoices)))


def unique_keys(keys: list[str]) -> tuple[str, ...]:
    """A message's ledger keys from its lines' keys: invoice notices have one key per line;
    a monthly statement repeats its single key on every line."""
    return (keys[0],) if keys[0] == keys[-1] else tuple(keys)


class SkippedMessage(NamedTuple):
    """One message of a `Skipped` batch, as the ledger records it."""

    code: str
    recipient: str
    to: str  # addresses, "; "-joined
    template: str
    reason: Reason
    invoices: str  # distinct invoices in line order, ", "-joined (as Envíos shows them)
    keys: tuple[str, ...]


def _strings(values: object = ()) -> np.ndarray:
    return np.asarray(values, dtype=object)


@dataclass(frozen=True)
class Skipped:
    """Customer notices planned `omitido`, columnar, in plan order.

    Per message (one per customer, code and reason, like an `Outgoing`): code, recipient,
    to (addresses "; "-joined), template, reason and `start`, its first line. Per line,
    the messages' lines one after another, each in line order: invoice and ledger key.
    """

    code: np.ndarray = field(default_factory=_strings)
    recipient: np.ndarray = field(default_factory=_strings)
    to: np.ndarray = field(default_factory=_strings)
    template: np.ndarray = field(default_factory=_strings)
    reason: np.ndarray = field(default_factory=_strings)
    start: np.ndarray = field(default_factory=lambda: np.array([], dtype="int64"))
    invoice: np.ndarray = field(default_factory=_strings)
    key: np.ndarray = field(default_factory=_strings)

    def __len__(self) -> int:
        return len(self.code)

    def messages(self) -> list[SkippedMessage]:
        """The messages, in plan order."""
        invoice, key = self.invoice.tolist(), self.key.tolist()
        starts = self.start.tolist()
        stops = [*starts[1:], len(key)] if starts else []
        heads = zip(self.code.tolist(), self.recipient.tolist(), self.to.tolist(),
                    self.template.tolist(), self.reason.tolist(), strict=True)
        out = []
        for head, start, stop in zip(heads, starts, stops, strict=True):
            out.append(SkippedMessage(*head, invoice_list(invoice[start:stop]),
                                      unique_keys(key[start:stop])))
        return out
