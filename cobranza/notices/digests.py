"""Planning of internal digests: the alerts mailed to the team, once per recipient and period.

Pure: `plan_digests(book, alerts, now, history)`. Digests are a registry (`DIGESTS`): a
code, a cadence, the alert types listed and the audience that receives them. Internal
mail follows no legal window, but it keeps the company's business days (Solo días
hábiles with País feriados: never on a weekend or holiday). It is due

* daily: on a business day once `now` (company zone) is at or after Hora resumen diario;
  period "2026-11-25";
* weekly: on Día resumen semanal at or after that hour, or the next business day when
  that day is not one; or any later business day of the same ISO week if that moment was
  missed. Its period is the ISO week of Día resumen semanal ("2026-W48"), so a digest
  moved into the next week still goes once for its own week.

A recipient with no rows gets nothing (no ledger key either), so if rows appear later in
the same period the digest still goes. Rows with a blank Cobrador or Área are not mailed
(they stay in the Alertas sheet). A collector or area with no valid email yields one
`error` message naming the table to fix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd

from cobranza.book.config import Config
from cobranza.book.parse import per_unique
from cobranza.book.records import Book
from cobranza.book.text import normalize
from cobranza.inbound.records import Reply
from cobranza.notices.contact_rules import business_day_block, customer_rules
from cobranza.notices.customers import valid_emails
from cobranza.notices.messages import Outgoing, digest_key, lines_of
from cobranza.notices.planner import History
from cobranza.vocabulary import (
    AlertType,
    DigestCode,
    Kind,
    Reason,
    ReasonCode,
    ReplyType,
    SendState,
    reason,
)


@dataclass(frozen=True)
class Audience:
    """One recipient of one digest and the alert rows it lists."""

    to: tuple[str, ...]  # valid addresses ("" cell or invalid: empty, an error)
    name: str  # who reads it, for the greeting: collector, area Responsable, ...
    rows: pd.DataFrame
    missing: Reason | None = None  # why `to` is empty
    group: str = ""  # the collector(s) or area(s) the rows belong to


AudienceFn = Callable[[Config, pd.DataFrame, pd.DataFrame], list[Audience]]


def to_actions_owner(config: Config, _table: pd.DataFrame, rows: pd.DataFrame) -> list[Audience]:
    to = valid_emails(config.actions_owner_email)
    missing = None if to else reason(ReasonCode.NO_ACTIONS_OWNER)
    return [Audience(to, "Responsable de acciones", rows, missing, "acciones")]


def _by_column(column: str, label: str, table_name: str, person: str = "") -> AudienceFn:
    """Audience per value of `column` (collector, area), addressed from a Configuración table;
    `person` names the table column with who reads it (default: the value itself)."""

    def audience(_config: Config, table: pd.DataFrame, rows: pd.DataFrame) -> list[Audience]:
        emails = {normalize(k): valid_emails(v) for k, v in zip(table[column], table["email"],
                                                                   strict=True)}
        people = table[person] if person else table[column]
        readers = {normalize(k): str(p) for k, p in zip(table[column], people, strict=True)}
        keys = _normalized(rows[column])
        groups: dict[tuple[str, ...], list[str]] = {}
        out = []
        # lists, not Series: iterating a "str" column is slow per element
        pairs = list(zip(keys.tolist(), rows[column].tolist(), strict=True))
        first = dict(reversed(pairs))  # each key's value on its first row (last: `pairs`)
        for key, name in sorted(dict(pairs).items()):
            if key == "":
                continue
            to = emails.get(key, ())
            if to:
                groups.setdefault(to, []).append(key)
            else:
                missing = reason(ReasonCode.NO_RECIPIENT, who=label, name=name, table=table_name)
                out.append(Audience((), name, rows[keys == key], missing, name))
        for to, members in groups.items():
            names = ", ".join(first[m] for m in members)
            reader = ", ".join(dict.fromkeys(readers.get(m) or names for m in members))
            out.append(Audience(to, reader, rows[keys.isin(members)], group=names))
        return out

    return audience


def _normalized(values: pd.Series) -> pd.Series:
    """`values.map(normalize)`, each distinct value normalized once (a few collectors or
    areas over thousands of alert rows)."""
    return per_unique(values, normalize).astype("str")


@dataclass(frozen=True)
class DigestRule:
    code: DigestCode  # also the Plantillas code
    weekly: bool
    types: tuple[AlertType | ReplyType, ...]  # listed, in this order
    table: str  # Book attribute addressing the audience ("" = Configuración parameter)
    audience: AudienceFn


DIGESTS: tuple[DigestRule, ...] = (
    DigestRule(DigestCode.ACTIONS, False, (AlertType.ACTION,), "", to_actions_owner),
    DigestRule(DigestCode.COLLECTOR_DAILY, False,
               (AlertType.BROKEN_PROMISE, AlertType.PLAN_BROKEN, ReplyType.REPLY,
                AlertType.BOUNCED), "collectors",
               _by_column("collector", "el cobrador", "Cobradores")),
    DigestRule(DigestCode.COLLECTOR_WEEKLY, True,
               (AlertType.REPORTED_PAYMENT, AlertType.OPEN_DISPUTE), "collectors",
               _by_column("collector", "el cobrador", "Cobradores")),
    DigestRule(DigestCode.AREA_WEEKLY, True, (AlertType.OPEN_DISPUTE,), "areas",
               _by_column("area", "el área", "Áreas", person="owner")),
)


def digest_period(weekly: bool, local: datetime, config: Config) -> str | None:
    """The period a digest is due for at `local` (company zone), or None if not due."""
    today = local.date()
    if not is_company_business_day(today, config):
        return None
    before_hour = local.time() < config.daily_digest_time
    if not weekly:
        return None if before_hour else period_of(False, today)
    monday = today - timedelta(days=today.weekday())
    for week in (monday, monday - timedelta(days=7)):  # this week's, or last week's moved
        scheduled = week + timedelta(days=config.weekly_digest_day)
        due = next_company_business_day(scheduled, config)
        if due > today or due.isocalendar()[:2] != today.isocalendar()[:2]:
            continue
        return None if due == today and before_hour else period_of(True, scheduled)
    return None


def is_company_business_day(day: date, config: Config) -> bool:
    """Solo días hábiles with the company's País feriados (every day when it is No): the
    same rule as for a customer with a blank País."""
    return business_day_block(day, config, customer_rules("", config)) is None


def next_company_business_day(day: date, config: Config) -> date:
    """`day` when it is a company business day, else the next one."""
    while not is_company_business_day(day, config):
        day += timedelta(days=1)
    return day


def period_of(weekly: bool, day: date) -> str:
    """The digest period a day belongs to: the day ("2026-11-25") or its ISO week
    ("2026-W48")."""
    if not weekly:
        return day.isoformat()
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def plan_digests(
    book: Book, alerts: pd.DataFrame, now: datetime, history: History,
    replies: Sequence[Reply] = (),
) -> list[Outgoing]:
    """The digests due at `now` (aware), one per rule and recipient, not yet final;
    `replies`: the customers' replies read back, listed in the daily digest of their
    period (`reply_period`)."""
    local = now.astimezone(book.config.zone)
    out = []
    kinds: _Kinds | None = None  # the alerts' Tipo, factorized once for every rule
    for rule in DIGESTS:
        period = digest_period(rule.weekly, local, book.config)
        if period is None:
            continue
        if ReplyType.REPLY in rule.types and replies:
            listed = pd.concat([alerts, reply_rows(book, replies, period)], ignore_index=True)
            rows = _rows_of(listed, rule.types, _kinds(listed))
        else:
            kinds = kinds or _kinds(alerts)
            rows = _rows_of(alerts, rule.types, kinds)
        if rows.empty:
            continue
        table = getattr(book, rule.table) if rule.table else pd.DataFrame()
        lines = _lines(rows)  # once per rule: each audience lists some of its rows
        messages = [_message(rule, a, period, lines)
                    for a in rule.audience(book.config, table, rows)]
        messages.sort(key=lambda m: m.recipient.casefold())
        out += [m for m in messages if m.keys[0] not in history.final_keys]
    return out


def reply_period(received: datetime, config: Config) -> str:
    """The daily digest a reply is listed in: the first one due after it was received
    (the same company business day before Hora resumen diario, else the next business
    day), so each reply is listed once, in the digest that follows it."""
    local = received.astimezone(config.zone)
    day = local.date()
    if is_company_business_day(day, config) and local.time() < config.daily_digest_time:
        return period_of(False, day)
    return period_of(False, next_company_business_day(day + timedelta(days=1), config))


def reply_rows(book: Book, replies: Sequence[Reply], period: str) -> pd.DataFrame:
    """Alert-shaped digest rows (Tipo `respuesta`) of the replies of `period`, written by
    a person (an auto-reply is no line), oldest first, for the customer's Cobrador."""
    config = book.config
    chosen = [r for r in replies if not r.automatic and r.customer
              and reply_period(r.received, config) == period]
    chosen.sort(key=lambda r: r.received)
    collectors = dict(zip(book.customers["customer"], book.customers["collector"],
                          strict=True))
    names = book.customer_names
    return pd.DataFrame({
        "type": [ReplyType.REPLY.value] * len(chosen),
        "customer": [r.customer for r in chosen],
        "name": [names.get(r.customer, "") for r in chosen],
        "collector": [str(collectors.get(r.customer, "")) for r in chosen],
        "invoice": [""] * len(chosen),
        "currency": [config.default_currency] * len(chosen),
        "balance": pd.Series([0] * len(chosen), dtype="int64"),
        "days": pd.Series([pd.NA] * len(chosen), dtype="Int64"),
        "detail": [_reply_detail(r, names.get(r.customer, ""), config) for r in chosen],
        "area": [""] * len(chosen),
        "due": pd.Series([pd.NaT] * len(chosen), dtype="datetime64[ns]"),
        "days_overdue": pd.Series([pd.NA] * len(chosen), dtype="Int64"),
        "promise_date": pd.Series([pd.NaT] * len(chosen), dtype="datetime64[ns]"),
    })


def _reply_detail(reply: Reply, name: str, config: Config) -> str:
    """ "Comercial del Norte (pagos@cliente.mx) respondió el 04/12/2026 09:30 al aviso
    MORA_45: «Pagamos el viernes.»" """
    when = reply.received.astimezone(config.zone).strftime("%d/%m/%Y %H:%M")
    about = f" al aviso {reply.notice}" if reply.notice else ""
    who = f"{name} ({reply.sender})" if name else reply.sender
    return f"{who} respondió el {when}{about}: «{reply.excerpt}»"


_Kinds = tuple[np.ndarray, list[str]]


def _kinds(alerts: pd.DataFrame) -> _Kinds:
    """Per alert row the number of its Tipo, and each distinct Tipo normalized (once,
    not per alert row)."""
    codes, kinds = pd.factorize(alerts["type"].to_numpy(dtype=object))
    return codes, [normalize(kind) for kind in kinds]


def _rows_of(alerts: pd.DataFrame, types: tuple[str, ...], kinds: _Kinds) -> pd.DataFrame:
    """The alert rows of `types`, grouped by type in that order, alert order kept within;
    indexed by position (an audience's rows are a subset: their index picks their lines).
    `kinds`: `_kinds(alerts)`."""
    order = {normalize(t): i for i, t in enumerate(types)}
    codes, distinct = kinds
    ranks = np.array([order.get(kind, np.nan) for kind in distinct] + [np.nan])
    rank = ranks[codes]  # code -1 (a blank Tipo) picks the trailing NaN
    keep = np.flatnonzero(~np.isnan(rank))
    return alerts.iloc[keep[np.argsort(rank[keep], kind="stable")]].reset_index(drop=True)


def _message(rule: DigestRule, audience: Audience, period: str, lines: np.ndarray) -> Outgoing:
    """`lines`: the Line of each of the rule's rows (`_rows_of`)."""
    recipient = ";".join(audience.to) if audience.to else audience.name
    return Outgoing(
        kind=Kind.DIGEST, code=rule.code, recipient=recipient, to=audience.to, cc=(),
        template=rule.code, lines=tuple(lines[audience.rows.index.to_numpy()].tolist()),
        keys=(digest_key(recipient, rule.code, period),),
        state=SendState.READY if audience.to else SendState.ERROR, reason=audience.missing,
        context={"recipient_name": audience.name, "group": audience.group, "period": period},
    )


def _lines(rows: pd.DataFrame) -> np.ndarray:
    """One Line per alert row, with every date the templates print: the invoice's
    Vencimiento and Días vencidos, and the promise date of a promise row. Rows of a Tipo
    with no invoice-level days (none is mailed today) fall back to the alert's days."""
    days = rows["days_overdue"].fillna(rows["days"]).astype("Int64").fillna(0).astype("int64")
    none, zero = [None] * len(rows), [0] * len(rows)
    columns = (
        rows["invoice"].tolist(), rows["customer"].tolist(), _days(rows["due"]), days.tolist(),
        rows["balance"].astype("int64").tolist(), rows["currency"].tolist(), none,
        _days(rows["promise_date"]), rows["type"].tolist(), rows["detail"].tolist(), none,
        zero, zero,
    )
    lines = np.empty(len(rows), dtype=object)
    lines[:] = lines_of(columns)
    return lines


def _days(dates: pd.Series) -> list[date | None]:
    """A datetime column as `date` values (None for NaT), converted once per distinct day."""
    codes, uniques = pd.factorize(pd.to_datetime(dates))
    days = np.array([d.date() for d in uniques] + [None], dtype=object)
    return days[codes].tolist()  # code -1 (NaT) picks the trailing None
