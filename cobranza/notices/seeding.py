"""What a workbook's own Envíos sheet says was already sent, as ledger keys.

A copy of the workbook ("Guardar como", a moved or renamed file, another PC) may reach a
ledger that has no record of it. Before anything is sent, that ledger is seeded from the
messages the copy's Envíos sheet lists as final (`SEEDED_STATES`), so a notice the
original sent is never sent again. Pure: rows of the sheet + the Book -> `SeedMessage`s.

Envíos shows one row per message with its customer, code, invoices and time, which gives
the ledger keys back (`cobranza.notices.messages.notice_key` / `digest_key`):
- invoice notices: one key per listed invoice;
- monthly statements: the month of the row's Fecha;
- promise notices: the promise dates of the invoice's `Promesa de pago` gestiones for
  which this stage would have been meaningful on that Fecha; SIN_CONTACTO likewise with
  the Fecha of its `Sin contacto` gestiones; instalment notices (CUOTA_*) with the
  Vencimiento cuota of the plan Envíos lists as their Factura;
- digests: the day (daily) or ISO week (weekly) of the row's Fecha.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd

from cobranza.book.records import Book
from cobranza.book.text import normalize
from cobranza.layout.sends import ENVIOS_COLUMNS
from cobranza.notices.digests import DIGESTS, period_of
from cobranza.notices.messages import digest_key, notice_key
from cobranza.notices.stages import CHAIN_BY_NAME, stage_table
from cobranza.vocabulary import Kind, Result, SendState

# What reached (or may have reached) the customer, and what the planner dropped for good.
# Not `pendiente` nor `error`: nothing was delivered, so trying again is no duplicate (and
# a planner error, "no valid email", must go once the data is fixed).
SEEDED_STATES = (SendState.SENT, SendState.UNCERTAIN, SendState.SKIPPED)
COLUMNS = tuple(ENVIOS_COLUMNS.values())
# The gestiones that give the dates of a chain with one notice per date (`per_anchor`):
# its anchor column -> (Resultado, Gestiones column holding the date).
ANCHOR_SOURCES = {"promise_date": (Result.PROMISE, "promise_date"),
                  "no_contact_date": (Result.NO_CONTACT, "date")}


@dataclass(frozen=True)
class SeedPart:
    """One notice of a seeded message: its code, invoices as Envíos lists them, keys."""

    code: str
    invoices: str
    keys: tuple[str, ...]


@dataclass(frozen=True)
class SeedMessage:
    """One Envíos row as ledger rows: the message's fields and each notice's keys."""

    kind: str  # aviso | resumen
    code: str  # the first (most severe) notice's: with `keys`, the message id
    recipient: str
    to: str
    subject: str
    state: str
    reason: str
    when: datetime  # aware, company zone
    parts: tuple[SeedPart, ...]

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(key for part in self.parts for key in part.keys)


def seeds_from_envios(sent: pd.DataFrame, book: Book) -> list[SeedMessage]:
    """The final messages of an Envíos sheet (`COLUMNS`; `when` naive company time)."""
    if sent.empty:  # a first sync: no keys to build (they cost ~0.2 s at 100 000)
        return []
    keys = _Keys(book)
    out = []
    for row in sent.itertuples(index=False):
        state, kind = normalize(str(row.state)), normalize(str(row.kind))
        if state not in SEEDED_STATES or kind not in tuple(Kind) or pd.isna(row.when):
            continue
        when = pd.Timestamp(row.when).to_pydatetime().replace(tzinfo=book.config.zone)
        recipient = str(row.recipient).strip()
        parts = []
        for code, invoices in message_parts(str(row.code), str(row.invoices)):
            found = tuple(keys.of(kind, code, recipient, invoices, when,
                                  late=state == SendState.SKIPPED))
            parts += [SeedPart(code, invoices, found)] if found else []
        if parts:
            out.append(SeedMessage(kind, parts[0].code, recipient, str(row.to),
                                   str(row.subject), state, str(row.reason), when,
                                   tuple(parts)))
    return out


def message_parts(codes: str, invoices: str) -> list[tuple[str, str]]:
    """An Envíos row's Código and Facturas back into (code, invoices) per notice: one
    code lists its invoices; several list "CODE: invoices; CODE: invoices"
    (`cobranza.layout.sends.invoices_text`)."""
    names = [c.strip() for c in codes.split(", ") if c.strip()]
    if len(names) <= 1:
        return [(names[0] if names else "", invoices)]
    starts = sorted((_segment_start(invoices, name), name) for name in names)
    starts = [(at, name) for at, name in starts if at >= 0]
    out = []
    for (at, name), (end, _) in zip(starts, [*starts[1:], (len(invoices) + 2, "")],
                                     strict=True):
        out.append((name, invoices[at + len(name) + 2:end - 2]))
    return out


def _segment_start(invoices: str, name: str) -> int:
    """Where "NAME: " begins a segment of `invoices` (-1 when it does not)."""
    if invoices.startswith(f"{name}: "):
        return 0
    at = invoices.find(f"; {name}: ")
    return at + 2 if at >= 0 else -1


class _Keys:
    """Ledger keys of one Envíos row, with what the Book tells about codes and the dates
    of per-date chains (promises, gestiones Sin contacto)."""

    def __init__(self, book: Book) -> None:
        stages = stage_table(book.notices)
        self.stages = {code.upper(): stage for code, stage in
                       zip(stages["code"], stages.itertuples(index=False), strict=True)}
        self.weekly = {rule.code: rule.weekly for rule in DIGESTS}
        self.joined = _joined_codes(book.invoices)
        self.dates = {anchor: _gestion_dates(book.contacts, result, column)
                      for anchor, (result, column) in ANCHOR_SOURCES.items()}
        self.dates["due"] = _instalment_dates(book.plans)  # CUOTA_*: Factura is the plan

    def of(self, kind: str, code: str, recipient: str, invoices: str, when: datetime,
           late: bool = False) -> Iterator[str]:
        """Keys of one row; `late`: omitted rather than sent, so its time may be past the
        stage's window."""
        if kind == Kind.DIGEST:
            if code in self.weekly:
                yield digest_key(recipient, code, period_of(self.weekly[code], when.date()))
            return
        stage = self.stages.get(code.upper())
        rule = CHAIN_BY_NAME[stage.chain] if stage is not None else None
        if rule is not None and rule.anchor == "":
            yield notice_key(recipient, "", code, when.date().replace(day=1))
            return
        for invoice in split_invoices(invoices, self.joined.get(recipient, Joined())):
            if rule is None or not rule.per_anchor:
                yield notice_key(recipient, invoice, code)
                continue
            # sent while meaningful: from anchor + Días to anchor + end_offset; an omitted
            # one at any time after anchor + Días
            first = date.min if late else when.date() - timedelta(days=int(stage.end_offset))
            last = when.date() - timedelta(days=int(stage.days))
            dates = self.dates[rule.anchor]
            days = dates.get((recipient, invoice), set()) | dates.get((recipient, ""), set())
            for day in sorted(days):
                if first <= day <= last:
                    yield notice_key(recipient, invoice, code, day)


@dataclass(frozen=True)
class Joined:
    """A customer's invoice codes that contain ", " (`codes`), and every beginning of
    them that ends before a ", " (`starts`)."""

    codes: frozenset[str] = frozenset()
    starts: frozenset[str] = frozenset()


def split_invoices(text: str, joined: Joined = Joined()) -> list[str]:
    """Envíos' ", "-joined invoice list back into codes; a code that itself contains ", "
    (one of `joined.codes`) is kept whole."""
    out: list[str] = []
    pending: list[str] = []
    for part in (p.strip() for p in text.split(", ")) if text.strip() else ():
        grown = ", ".join([*pending, part])
        if grown in joined.starts or grown in joined.codes:
            pending.append(part)
            continue
        out += _whole_or_parts(pending, joined)
        pending = [part]
        if part not in joined.starts:
            out.append(part)
            pending = []
    return out + _whole_or_parts(pending, joined)


def _whole_or_parts(parts: list[str], joined: Joined) -> list[str]:
    whole = ", ".join(parts)
    return [whole] if whole in joined.codes else parts


def _joined_codes(invoices: pd.DataFrame) -> dict[str, Joined]:
    codes: dict[str, set[str]] = {}
    starts: dict[str, set[str]] = {}
    for customer, invoice in zip(invoices["customer"], invoices["invoice"], strict=True):
        parts = invoice.split(", ")
        if len(parts) > 1:
            codes.setdefault(customer, set()).add(invoice)
            starts.setdefault(customer, set()).update(
                ", ".join(parts[:n]) for n in range(1, len(parts)))
    return {c: Joined(frozenset(v), frozenset(starts[c])) for c, v in codes.items()}


def _instalment_dates(plans: pd.DataFrame) -> dict[tuple[str, str], set[date]]:
    """(customer, Convenio) -> the Vencimiento cuota of its instalments (the instalment
    notices' dates: Envíos lists the plan as their Factura)."""
    out: dict[tuple[str, str], set[date]] = {}
    for customer, plan, day in zip(plans["customer"], plans["plan"], plans["due"],
                                   strict=True):
        out.setdefault((customer, plan), set()).add(pd.Timestamp(day).date())
    return out


def _gestion_dates(contacts: pd.DataFrame, result: Result,
                   column: str) -> dict[tuple[str, str], set[date]]:
    """(customer, invoice) -> the dates in `column` of the gestiones with `result`;
    (customer, "") holds the customer-level ones (blank Factura: the customer's open
    invoices)."""
    rows = contacts[(contacts["result"] == result) & contacts[column].notna()]
    out: dict[tuple[str, str], set[date]] = {}
    for customer, invoice, day in zip(rows["customer"], rows["invoice"], rows[column],
                                      strict=True):
        out.setdefault((customer, invoice), set()).add(pd.Timestamp(day).date())
    return out
