"""What the planner hands to delivery: one outgoing message and the invoices it lists.

The planner (`cobranza.notices.planner`, `cobranza.notices.digests`) is pure: it decides
*what* is due and in which state. Delivery (`sync.mail.sending`) renders, claims the
ledger keys, sends and records the outcome. The ledger key is the identity that makes
"exactly once" hold.

Notices the planner skips (`omitido`: their time passed, a later stage goes instead, the
customer is excluded) are never rendered, only recorded and counted; a first sync of a
full history skips tens of thousands, so they travel as one columnar `Skipped` batch
instead of one `Outgoing` each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import partial
from typing import Any, NamedTuple, TypeVar

import numpy as np

from cobranza.vocabulary import Kind, Reason, SendState

# Ledger keys. A key is a structured value (`NoticeKey`, `DigestKey`) kept in the ledger,
# the plan and `History` as one string: its kind and fields joined by "|", with "\" and "|"
# inside a field escaped by a backslash. Two different keys never share a string, and a
# field without "|" or "\" is written as is: the keys of such codes are exactly the
# strings the first release wrote, so older ledgers need no migration.
_SEPARATOR, _ESCAPE = "|", "\\"
_ESCAPED = str.maketrans({_ESCAPE: _ESCAPE * 2, _SEPARATOR: _ESCAPE + _SEPARATOR})


@dataclass(frozen=True)
class NoticeKey:
    """Identity of one customer notice: sent at most once, ever."""

    customer: str  # Clientes Cliente
    invoice: str  # Facturas Factura; "" for a monthly statement (one per customer and month)
    code: str  # Avisos Código
    # the date the notice is about, for chains with one notice per date: the promise date
    # (promise notices), the gestión's Fecha (SIN_CONTACTO); monthly: the month's 1st
    day: date | None = None

    @property
    def recipient(self) -> str:
        """Who the notice goes to, as the ledger's recipient column names it."""
        return self.customer

    def encode(self) -> str:
        day = self.day.isoformat() if self.day else ""
        return _joined(("aviso", self.customer, self.invoice, self.code, day))


@dataclass(frozen=True)
class DigestKey:
    """Identity of one digest for one recipient and period: sent at most once."""

    recipient: str  # email address, lowercase
    code: str  # one of DIGEST_CODES
    period: str  # a day ("2026-11-25") or an ISO week ("2026-W48")

    def __post_init__(self) -> None:
        object.__setattr__(self, "recipient", self.recipient.lower())

    def encode(self) -> str:
        return _joined(("resumen", self.recipient, self.code, self.period))


def notice_key(customer: str, invoice: str, code: str, day: date | None = None) -> str:
    """Ledger key of one customer notice for one invoice (promise notices: per promise
    date; SIN_CONTACTO: per gestión date)."""
    return NoticeKey(customer, invoice, code, day).encode()


def digest_key(recipient: str, code: str, period: str) -> str:
    """Ledger key of one digest for one recipient and period ("2026-11-25", "2026-W48")."""
    return DigestKey(recipient, code, period).encode()


def decode_key(text: str) -> NoticeKey | DigestKey:
    """The structured key an encoded ledger key stands for; ValueError if it is none."""
    kind, *fields = _split(text)
    if kind == "aviso" and len(fields) == 4:
        customer, invoice, code, day = fields
        return NoticeKey(customer, invoice, code, date.fromisoformat(day) if day else None)
    if kind == "resumen" and len(fields) == 3:
        return DigestKey(*fields)
    raise ValueError(f"not a ledger key: {text!r}")


def notice_key_heads(customers: np.ndarray, invoices: np.ndarray) -> np.ndarray:
    """Whole columns of `NoticeKey(customer, invoice, ...).encode()` up to the code
    ("aviso|C1|F1|"): built once per plan, then `heads + notice_key_tail(code, ...)` per
    stage (the planner's vectorized twin of `notice_key`)."""
    pairs = zip(_escaped(customers).tolist(), _escaped(invoices).tolist(), strict=True)
    return np.array([f"aviso|{c}|{i}|" for c, i in pairs] or [], dtype=object)


def notice_key_tail(code: str, days: np.ndarray | str = "") -> np.ndarray | str:
    """The rest of a notice key after its head: the code and the dates it is about (ISO
    text, or "" for none)."""
    return code.translate(_ESCAPED) + _SEPARATOR + days


def monthly_keys(customers: np.ndarray, code: str, month: date) -> np.ndarray:
    """`notice_key(customer, "", code, month)` for a whole column of customers."""
    return "aviso|" + _escaped(customers) + ("||" + notice_key_tail(code, month.isoformat()))


def stored_key(text: str, kind: str, recipient: str, code: str) -> str:
    """A ledger row's key in this encoding, whichever version wrote it. Before fields
    were escaped, a field holding "|" or a backslash was written as is (two notices could
    share a key); such a row is read back through its own recipient and code columns."""
    if _ESCAPE not in text and text.count(_SEPARATOR) == (4 if kind == "aviso" else 3):
        return text  # no field holds "|" or a backslash: every version wrote this string
    try:
        key = decode_key(text)
    except ValueError:
        key = None
    if key is not None and (key.recipient, key.code) == (_recipient(kind, recipient), code):
        return text
    return _unescaped_key(text, kind, recipient, code) or text


def _recipient(kind: str, recipient: str) -> str:
    return recipient.lower() if kind == "resumen" else recipient


def _unescaped_key(text: str, kind: str, recipient: str, code: str) -> str | None:
    """Re-encode a key written without escapes, knowing its recipient and code."""
    head = f"{kind}|{_recipient(kind, recipient)}|"
    if not text.startswith(head):
        return None
    middle, _, last = text.removeprefix(head).rpartition(_SEPARATOR)
    if kind == "resumen":
        return digest_key(recipient, code, last) if middle == code else None
    invoice, tail = middle[: -len(code) - 1], middle[-len(code) - 1:]
    if tail != _SEPARATOR + code:
        return None
    try:
        return notice_key(recipient, invoice, code, date.fromisoformat(last) if last else None)
    except ValueError:
        return None


def _joined(fields: Iterable[str]) -> str:
    return _SEPARATOR.join(f.translate(_ESCAPED) for f in fields)


def _escaped(values: np.ndarray) -> np.ndarray:
    """A column's fields encoded; one scan when none holds "|" or a backslash (usual)."""
    joined = "".join(values.tolist())
    if _SEPARATOR not in joined and _ESCAPE not in joined:
        return values
    return np.array([v.translate(_ESCAPED) for v in values.tolist()], dtype=object)


def _split(text: str) -> list[str]:
    fields, field_chars, chars = [], [], iter(text)
    for ch in chars:
        if ch == _SEPARATOR:
            fields.append("".join(field_chars))
            field_chars = []
            continue
        if ch == _ESCAPE:
            ch = next(chars, "")
            if ch not in (_ESCAPE, _SEPARATOR):
                raise ValueError(f"not a ledger key: {text!r}")
        field_chars.append(ch)
    return [*fields, "".join(field_chars)]


class Line(NamedTuple):
    """One invoice listed in a message. A tuple: a plan builds tens of thousands (a digest
    lists every alert row), and a tuple is built in one C call where a frozen dataclass
    sets its fields one by one."""

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
    contact_date: date | None = None  # SIN_CONTACTO: the Fecha of the gestión Sin contacto
    # instalment notices (CUOTA_*): `invoice` is the plan's Convenio, `due` the Vencimiento
    # cuota and `balance` what is left of the instalment
    instalment: int = 0  # Cuota; 0 for an invoice line
    instalment_amount: int = 0  # Importe cuota, minor units


def lines_of(columns: Sequence[Iterable[Any]]) -> list[Line]:
    """One Line per row of `columns`: one sequence per field of Line, in field order (all
    of them: no defaults)."""
    if len(columns) != len(Line._fields):
        raise ValueError(f"Line has {len(Line._fields)} fields, got {len(columns)} columns")
    return records(Line, zip(*columns, strict=True))


T = TypeVar("T", bound=tuple)


def records(kind: type[T], rows: Iterable[tuple]) -> list[T]:
    """A NamedTuple `kind` of each row, rows of its length (as `zip(strict=True)` over one
    column per field gives): `kind._make` without its Python call and check per row."""
    return list(map(partial(tuple.__new__, kind), rows))


class Part(NamedTuple):
    """One notice of a customer message: its code, template, invoices and ledger keys (a
    tuple, like Line: one per notice that goes, thousands per plan)."""

    code: str
    template: str
    lines: tuple[Line, ...]
    keys: tuple[str, ...]


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
    # Customer notices: the notices this email carries, most severe first (one customer
    # email a day combines every notice due); `code`, `template`, `lines` and `keys` are
    # the message's as a whole (the first part's code and template, every invoice and
    # key). Digests: none.
    parts: tuple[Part, ...] = ()

    context: Mapping[str, Any] = field(default_factory=dict)  # extra template variables


def with_parts(outgoing: Outgoing, parts: tuple[Part, ...]) -> Outgoing:
    """`outgoing` carrying `parts` (most severe first): the first part's code and template,
    every part's invoices (each once) and keys."""
    lines = tuple(dict.fromkeys(line for part in parts for line in part.lines))
    keys = tuple(key for part in parts for key in part.keys)
    return replace(outgoing, code=parts[0].code, template=parts[0].template, lines=lines,
                   keys=keys, parts=parts)


def key_parts(outgoing: Outgoing) -> list[tuple[str, str, str]]:
    """(ledger key, notice code, invoices as Envíos lists them) of every key of a message:
    each key belongs to one of its parts (a digest: to the message itself)."""
    return [(key, code, invoices) for code, invoices, keys in _keyed_parts(outgoing)
            for key in keys]


def part_texts(outgoing: Outgoing) -> list[tuple[str, str]]:
    """(notice code, invoices as Envíos lists them) of each part of a message that has
    keys: `key_parts` without the keys, once per part rather than once per key."""
    return [(code, invoices) for code, invoices, _ in _keyed_parts(outgoing)]


def _keyed_parts(outgoing: Outgoing) -> list[tuple[str, str, tuple[str, ...]]]:
    """(code, invoices as Envíos lists them, keys) of each part that has keys; a message
    without parts (a digest) is its own one part."""
    parts = outgoing.parts or (outgoing,)
    return [(part.code, lines_invoices(part.lines), part.keys) for part in parts if part.keys]


def lines_invoices(lines: tuple[Line, ...]) -> str:
    """`invoice_list` of the invoices of `lines`; a notice usually has one."""
    if len(lines) == 1:
        return lines[0].invoice or ""
    return invoice_list(line.invoice for line in lines)


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


# builds a Skipped batch's per-line columns: (invoice, key)
LineColumns = Callable[[], tuple[np.ndarray, np.ndarray]]


class Skipped:
    """Customer notices planned `omitido`, columnar, in plan order.

    Per message (one per customer, code and reason, like an `Outgoing`): code, recipient,
    to (addresses "; "-joined), template, reason and `start`, its first line. Per line,
    the messages' lines one after another, each in line order: invoice and ledger key.

    The per-line columns may come as `lines`, a function that builds both when one is
    first read: a dry run only counts the batch, and the lines of a first sync's omitido
    notices are most of its candidates (millions of ledger keys at 1M invoices).
    """

    def __init__(
        self, code: np.ndarray | None = None, recipient: np.ndarray | None = None,
        to: np.ndarray | None = None, template: np.ndarray | None = None,
        reason: np.ndarray | None = None, start: np.ndarray | None = None,
        invoice: np.ndarray | None = None, key: np.ndarray | None = None, *,
        lines: LineColumns | None = None,
    ) -> None:
        self.code, self.recipient, self.to, self.template, self.reason = (
            _strings() if column is None else column
            for column in (code, recipient, to, template, reason))
        self.start = np.array([], dtype="int64") if start is None else start
        self._lines = lines
        self._columns = None if lines is not None else (
            _strings() if invoice is None else invoice, _strings() if key is None else key)

    @property
    def invoice(self) -> np.ndarray:
        return self._line_columns()[0]

    @property
    def key(self) -> np.ndarray:
        return self._line_columns()[1]

    def _line_columns(self) -> tuple[np.ndarray, np.ndarray]:
        if self._columns is None:
            self._columns = self._lines()
            self._lines = None  # what it read from the plan can go
        return self._columns

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
