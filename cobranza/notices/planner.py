"""Planning of automatic customer notices: which Avisos are due now, and in which state.

Pure: `plan_notices(book, invoices, now, history)` reads no clock, disk or SMTP. Steps:

1. Candidates, vectorized: for each active Avisos row (a stage, see
   `cobranza.notices.stages`), the invoices whose status it applies to and whose stage date
   (anchor + Días) is today or earlier, with the stage's last meaningful day. Those whose
   ledger key is already final in the ledger are dropped: a notice is planned at most
   once, ever. Keys are built when needed (`NoticeKeys`), not carried by every candidate;
   the keys built for that check stay with the candidates kept (column `key`), so the
   later steps (reopened keys, refusals, the messages) never build them again.
2. States, vectorized, first match wins: customer excluded (Avisos automáticos = No,
   Segmento sin avisos) -> omitido; window passed -> omitido ("fuera de plazo", or
   "se envía X en su lugar" when a later stage of the same chain is going instead, i.e.
   catch-up); template missing or not approved -> pendiente; no valid email ->
   pendiente; otherwise listo. What the user can fix is never final: those `pendiente`
   are not recorded, each sync lists them in Errores, and they go once fixed while
   still meaningful (ledger rows of the first releases saying otherwise are reopened:
   `History.reopened`).
3. Grouping: one message per customer, code, state and reason, lines ordered by due date
   and invoice. `omitido` messages (most of a first sync: tens of thousands) stay columnar,
   one `Skipped` batch that delivery records and counts without rendering; the others
   become `Drafts` (a `Part` each, with its invoices as `Line`s), and each email one
   `Outgoing` in step 4.
4. Contact rules, per customer in its own zone: Solo días hábiles, Ventana de envío and
   the legal profile turn `listo` into `pendiente` with the rule named; frequency caps
   count the ledger's earlier contacts plus what this run already let out, in priority
   order (broken promise, promise reminder, overdue stages latest first, PREVIO, NUEVA,
   ESTADO_MENSUAL).
5. Order (`sending_order`): most severe first, then the oldest due; the provider's limits
   (`sync.mail.pacing`) hold back the tail of this order for later cycles.

Monthly statements (Referencia `mes`) have one ledger key per customer and month:
`notice_key(customer, "", code, first calendar day of the month)`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from cobranza.book.config import Config
from cobranza.book.positions import first_occurrence
from cobranza.book.records import Book, InputError
from cobranza.book.text import normalize
from cobranza.notices import contact_rules
from cobranza.notices.contact_rules import CustomerRules
from cobranza.notices.customers import (
    bounced_problem,
    customer_table,
    email_errors,
    refused_problem,
)
from cobranza.notices.fixable import template_errors
from cobranza.notices.messages import (
    Line,
    Outgoing,
    Part,
    Skipped,
    lines_of,
    monthly_keys,
    notice_key_heads,
    notice_key_tail,
    records,
    unique_keys,
)
from cobranza.notices.stages import (
    CHAIN_BY_NAME,
    CHAINS,
    GRACE_DAYS,
    INSTALMENT_DUE,
    monthly_window,
    severity_ranks,
    stage_table,
)
from cobranza.rules.plans import compute_plans
from cobranza.rules.rollups import code_in, run_starts
from cobranza.vocabulary import Kind, Reason, ReasonCode, SendState, Status, reason

LATE = reason(ReasonCode.LATE)
TEMPLATE_REASONS = (ReasonCode.TEMPLATE_MISSING, ReasonCode.TEMPLATE_NOT_APPROVED)
ADDRESS_REASONS = (ReasonCode.NO_EMAIL, ReasonCode.UNKNOWN_CUSTOMER)
# A candidate's state is a number (cand["state"]) into STATES: integer tests and sorts, and
# the shared SendState members where a message takes its state.
STATES = np.array([SendState.SKIPPED, SendState.PENDING, SendState.READY], dtype=object)
_SKIPPED, _PENDING, _READY = range(len(STATES))
# the invoice columns planning reads: stage anchors, line fields, the status and balance
PLANNED_COLUMNS = ("invoice", "customer", "due", "issued", "promise_date", "no_contact_date",
                   "plan_broken_on", "days_overdue", "balance", "currency", "status",
                   "instalment", "instalment_amount")
# each state's place in text order (messages are ordered by the state's text)
_STATE_TEXT_RANK = np.argsort(np.argsort(STATES.astype(str), kind="stable"))


@dataclass(frozen=True)
class Refusal:
    """A customer notice the mail server refused for good (5xx): nothing was delivered."""

    to: str  # the "; "-joined To addresses it was refused for
    reply: str  # the server's answer, as recorded in Envíos
    bounced: bool = False  # a non-delivery report came back (IMAP), after the server took it


@dataclass(frozen=True)
class History:
    """What the send ledger already knows, as of this run."""

    # ledger keys in a final state (enviado, omitido, incierto, permanent error other
    # than a server's refusal of a customer notice): never planned again
    final_keys: frozenset[str] = frozenset()
    # customer id -> aware datetimes of customer notices already sent (frequency caps)
    contacts: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)
    # ledger key -> the server's permanent refusal of that customer notice: final while
    # the customer's To is the one refused; sent to a new address once the Email changes
    refused: Mapping[str, Refusal] = field(default_factory=dict)
    # ledger keys recorded final by an earlier release for a reason the user can fix (a
    # template): nothing was sent, so they are planned again; while the planner would
    # skip them now their old row stays the record (not recorded nor counted again)
    reopened: frozenset[str] = frozenset()
    # customer id -> the latest bounce of a notice to it (a non-delivery report read by
    # IMAP): its later notices wait while its To is the one that bounced
    bounced: Mapping[str, Refusal] = field(default_factory=dict)


def plan_notices(
    book: Book, invoices: pd.DataFrame, now: datetime, history: History
) -> tuple[list[Outgoing], Skipped, list[InputError]]:
    """The customer notices due at `now` (aware, company zone): the messages to send, hold
    back or report as errors, the `omitido` ones as one `Skipped` batch, and Errores rows."""
    config = book.config
    today = now.astimezone(config.zone).date()
    stages = stage_table(book.notices)
    planned = with_instalments(book, invoices, today)
    inv, names = eligible(planned, book_customers(book, invoices, planned))
    keys = NoticeKeys(inv, stages, today)
    line = _line_rank(inv)
    # each stage lists its rows by customer, then line: plan_order's stable sort then meets
    # long sorted runs (several times cheaper than sorting rows in book order)
    listed = np.lexsort([line, inv["cust"].to_numpy()])
    cand = candidates(inv, stages, today, config.holiday_country, history.final_keys, keys,
                      listed)
    if cand.empty:
        return [], Skipped(), []
    cand = cand.assign(cust=inv["cust"].to_numpy()[cand["pos"].to_numpy()])
    # the customers with a candidate, by counting (no sort of every candidate row)
    used = np.flatnonzero(np.bincount(cand["cust"].to_numpy(), minlength=len(names)))
    customers = customer_table(book.customers, names[used], config)
    customers = customers.reindex(names)  # row i = customer code i; unused codes are NaN
    cand, reasons = assign_states(cand, stages, customers,
                                  template_reasons(stages, book.templates))
    if history.reopened:
        cand = cand[~_reopened(cand, keys, history.reopened)]
    cand, refusals = hold_refused(cand, keys, stages, customers, history.refused,
                                  history.bounced)
    order, message = plan_order(cand, line, stages)
    # the omitido rows (most of them) are never copied as a frame: only the columns their
    # batch keeps are gathered
    skip = _skipped(cand)[order]
    going = cand.take(order[~skip]).reset_index(drop=True)
    going = going.assign(reason=reasons[going["reason"].to_numpy()])
    drafts = group(going, run_starts(message[~skip]), keys.of(going), inv, stages)
    severity = severity_ranks(stages)
    planned = sending_order(apply_contact_rules(drafts, customers, now, book, history,
                                                severity), severity)
    skipped = skipped_batch(cand, reasons, order[skip], run_starts(message[skip]), keys,
                            stages, customers)
    return planned, skipped, fixable_errors(book, going, stages, customers) + refusals


def sending_order(messages: list[Outgoing], severity: Mapping[str, float]) -> list[Outgoing]:
    """The batch in the order it goes, which is the order it waits in when the provider's
    limits hold part of it for later cycles: most severe notice first (an email's first
    part is its most severe), then the oldest due invoice, then by customer and code."""
    def key(o: Outgoing) -> tuple:
        return (severity.get(o.code, math.inf), oldest_due(o), o.recipient, o.code, o.state,
                o.reason is not None, o.reason)
    return sorted(messages, key=key)


def oldest_due(message: Outgoing) -> date:
    """The oldest due date of a message's invoices (date.max: none has one). A plain loop:
    a generator or comprehension costs twice as much per message (~0.03 s at 1M)."""
    oldest = date.max
    for part in message.parts:
        # a part's lines are in line order (due date, blanks last): its first has its oldest
        due = part.lines[0].due
        if due is not None and due < oldest:
            oldest = due
    return oldest


def eligible(
    invoices: pd.DataFrame, customers: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Open invoices in a status some chain applies to (others get no record at all).

    `cust` is the customer's code: an index into the returned sorted array of customer ids.
    `customers`: per row of `invoices` its customer's number among the sorted ids, and
    those ids (`book_customers`), when known; otherwise the ids are hashed here.
    """
    statuses = {s for rule in CHAINS for s in rule.statuses}
    mask = (invoices["balance"] > 0) & invoices["status"].isin(statuses)
    # only the columns planning reads are copied (a third of the computed ones)
    inv = invoices.loc[mask, invoices.columns.intersection(PLANNED_COLUMNS, sort=False)]
    inv = inv.reset_index(drop=True)
    if customers is None:
        # an object array factorizes in half the time of the "str" column
        codes, names = pd.factorize(inv["customer"].to_numpy(dtype=object), sort=True)
        return inv.assign(cust=codes), np.asarray(names, dtype=object)
    numbers, ids = customers
    numbers = numbers[mask.to_numpy()]
    # the customers some eligible row names, renumbered 0..k-1 in the same (text) order
    used = np.flatnonzero(np.bincount(numbers, minlength=len(ids)))
    renumber = np.zeros(len(ids), dtype=np.intp)
    renumber[used] = np.arange(len(used))
    return inv.assign(cust=renumber[numbers]), ids[used]


def book_customers(
    book: Book, invoices: pd.DataFrame, planned: pd.DataFrame,
) -> tuple[np.ndarray, np.ndarray] | None:
    """Per row of `planned` (`invoices`, then any instalment rows) its customer's number
    among the sorted customer ids, and those ids, from the Book's own numbering
    (`Book.invoice_customers`, shared with compute: no customer text is hashed again);
    None when `invoices` are not the Book's invoices in its order."""
    rows = book.invoices["row"].to_numpy()
    if "row" not in invoices or not np.array_equal(invoices["row"].to_numpy(), rows):
        return None
    numbers, ids = book.invoice_customers
    ids = ids.to_numpy(dtype=object)
    extra = planned["customer"].to_numpy(dtype=object)[len(invoices):]
    if len(extra):  # instalment rows: their few customers merged in, in text order
        merged = np.unique(np.concatenate([ids, extra]))
        numbers = np.concatenate([np.searchsorted(merged, ids)[numbers],
                                  np.searchsorted(merged, extra)])
        ids = merged
    return numbers, ids


def with_instalments(book: Book, invoices: pd.DataFrame, today: date) -> pd.DataFrame:
    """`invoices` plus one row per unpaid instalment of each current plan (Estatus
    INSTALMENT_DUE, which only the instalment chains apply to): Factura is the plan's
    Convenio, Vencimiento the Vencimiento cuota, Saldo what is left of the instalment."""
    plans = compute_plans(book, today)
    current = plans.plans.loc[plans.plans["status"] == Status.PLAN, "plan"]
    due = plans.instalments[plans.instalments["plan"].isin(current)
                            & (plans.instalments["balance"] > 0)]
    if due.empty:
        return invoices
    day = np.datetime64(today, "D")
    rows = pd.DataFrame({
        "invoice": due["plan"].astype(str), "customer": due["customer"].astype(str),
        "due": due["due"], "currency": due["currency"].astype(str),
        "balance": due["balance"].astype("int64"), "status": INSTALMENT_DUE,
        "days_overdue": (day - due["due"].to_numpy(dtype="datetime64[D]")).astype("int64"),
        "instalment": due["instalment"].astype("int64"),
        "instalment_amount": due["amount"].astype("int64"),
    })
    return pd.concat([invoices, rows], ignore_index=True)


def is_final(keys: np.ndarray, final_keys: frozenset[str]) -> np.ndarray:
    """Boolean mask: which keys the ledger already holds in a final state."""
    return _contained(keys, final_keys)


def _contained(keys: np.ndarray, known: Collection[str]) -> np.ndarray:
    """Boolean mask: which keys are in `known` (a set, or a mapping's keys)."""
    if not known:  # a first sync
        return np.zeros(len(keys), dtype=bool)
    return np.fromiter(map(known.__contains__, keys), dtype=bool, count=len(keys))


def candidates(
    inv: pd.DataFrame, stages: pd.DataFrame, today: date, country: str,
    final_keys: frozenset[str], keys: NoticeKeys, listed: np.ndarray,
) -> pd.DataFrame:
    """One row per (invoice, stage) already due and not final (by its ledger key, built by
    `keys`): pos (row of `inv`), stage and passed (its last meaningful day is before
    today), and key, the ledger key, when there were `final_keys` to check. Stage by
    stage, each stage's rows in the order of `listed` (rows of `inv`)."""
    # statuses as codes: each chain's test is then an integer one
    status, statuses = pd.factorize(inv["status"].to_numpy(dtype=object))
    statuses = pd.Index(statuses)
    today64 = np.datetime64(today, "D")
    resumed = _resumed(inv)
    parts, masks, anchors = [], {}, {}
    for stage in stages.itertuples():
        rule = CHAIN_BY_NAME[stage.chain]
        if rule.statuses not in masks:
            masks[rule.statuses] = code_in(status, statuses, rule.statuses)
        applies = masks[rule.statuses]
        if rule.anchor:
            if rule.anchor not in anchors:  # one conversion per column, not per stage
                anchors[rule.anchor] = inv[rule.anchor].to_numpy(dtype="datetime64[D]")
            anchor = anchors[rule.anchor]
            pos = listed[(applies & (anchor + stage.days <= today64))[listed]]
            end = anchor[pos] + stage.end_offset
            if rule.name == "recordatorio" and resumed is not None:
                end = resumed.extend(pos, end)
        else:
            window = monthly_window(stage.days, today, country)
            if window is None or today < window[0]:
                continue
            pos = listed[applies[listed]]
            end = np.full(len(pos), np.datetime64(window[1], "D"))
        part = (pos, np.full(len(pos), stage.Index), end < today64)
        if final_keys:  # a first sync has none: no key to build, nothing to drop
            built = keys.of_stage(stage.Index, pos)
            keep = ~is_final(built, final_keys)
            part = (*(column[keep] for column in part), built[keep])
        parts.append(part)
    return _candidate_frame(parts)


class NoticeKeys:
    """The ledger keys of candidates (row `pos` of the planned invoices, stage `stage`),
    built when asked: most candidates of a first sync are omitido, whose keys only a real
    run records (a dry run never reads them)."""

    def __init__(self, inv: pd.DataFrame, stages: pd.DataFrame, today: date) -> None:
        self.inv, self.today = inv, today
        self.codes = stages["code"].tolist()
        self.rules = [CHAIN_BY_NAME[chain] for chain in stages["chain"]]
        self.days: dict[str, np.ndarray] = {}  # anchor column -> ISO text of each row
        self.heads: np.ndarray | None = None  # "aviso|customer|invoice|" of each row

    def of(self, cand: pd.DataFrame) -> np.ndarray:
        """The key of each candidate row of `cand` (its `key` column when `candidates`
        built them)."""
        if "key" in cand:
            return cand["key"].to_numpy()
        pos, stage = cand["pos"].to_numpy(), cand["stage"].to_numpy()
        heads = None
        if self.heads is None:  # a first sync asks for the rows that go: only their heads
            rows, back = np.unique(pos, return_inverse=True)
            heads = self._heads(rows)[back]
        out = np.empty(len(pos), dtype=object)
        for each in np.flatnonzero(np.bincount(stage, minlength=len(self.codes))).tolist():
            at = np.flatnonzero(stage == each)
            out[at] = self.of_stage(each, pos[at], None if heads is None else heads[at])
        return out

    def of_stage(self, stage: int, pos: np.ndarray,
                 heads: np.ndarray | None = None) -> np.ndarray:
        """The keys of rows `pos` for one stage (`heads`: theirs, when already built)."""
        rule, code = self.rules[stage], self.codes[stage]
        if not rule.anchor:
            return _statement_keys(self.inv, pos, code, self.today)
        if heads is None:
            if self.heads is None:  # built once per plan: each invoice's head is shared
                self.heads = self._heads(slice(None))
            heads = self.heads[pos]
        if not rule.per_anchor:
            return heads + notice_key_tail(code)
        if rule.anchor not in self.days:
            self.days[rule.anchor] = _iso_days(self.inv[rule.anchor])
        return heads + notice_key_tail(code, self.days[rule.anchor][pos])

    def _heads(self, rows: np.ndarray | slice) -> np.ndarray:
        """"aviso|customer|invoice|" of rows `rows` of the planned invoices."""
        return notice_key_heads(self.inv["customer"].to_numpy(dtype=object)[rows],
                                self.inv["invoice"].to_numpy(dtype=object)[rows])


def _statement_keys(inv: pd.DataFrame, pos: np.ndarray, code: str, today: date) -> np.ndarray:
    """The monthly statement's key of each row `pos`: one key per customer, so each is
    built once per customer (its code `cust`) and spread to the customer's rows."""
    cust = inv["cust"].to_numpy()
    first = first_occurrence(cust, int(cust.max(initial=-1)) + 1)
    customers = inv["customer"].to_numpy(dtype=object)[first]
    return monthly_keys(customers, code, date(today.year, today.month, 1))[cust[pos]]


class _Resumed:
    """Reminders resume at the current stage when a plan breaks: per invoice of a broken
    plan, the latest reminder stage already due stays meaningful GRACE_DAYS after the
    break even when its own window has passed (stages come latest first)."""

    def __init__(self, broken_on: np.ndarray) -> None:
        self.until = broken_on + np.timedelta64(GRACE_DAYS, "D")
        self.seen = np.isnat(broken_on)  # only invoices of a broken plan are extended

    def extend(self, pos: np.ndarray, end: np.ndarray) -> np.ndarray:
        first = ~self.seen[pos]
        self.seen[pos] = True
        return np.where(first, np.maximum(end, self.until[pos]), end)


def _resumed(inv: pd.DataFrame) -> _Resumed | None:
    if "plan_broken_on" not in inv or inv["plan_broken_on"].isna().all():
        return None
    return _Resumed(inv["plan_broken_on"].to_numpy(dtype="datetime64[D]"))


def _candidate_frame(parts: list[tuple[np.ndarray, ...]]) -> pd.DataFrame:
    """pos, stage, passed and, when `parts` carry a fourth column, key."""
    columns = ("pos", "stage", "passed", "key")
    empty = (np.array([], "int64"), np.array([], "int64"), np.array([], bool),
             np.array([], object))
    width = len(parts[0]) if parts else 3
    arrays = [np.concatenate([p[i] for p in parts]) if parts else empty[i]
              for i in range(width)]
    # nothing copied: stacking the integer columns into one block cost more than building
    # them (millions of rows at 1M invoices)
    return pd.DataFrame(dict(zip(columns[:width], arrays, strict=True)), copy=False)


def _iso_days(dates: pd.Series) -> np.ndarray:
    """A date column as ISO text ("" for a blank), the ledger key's day: each distinct
    day formatted once (a few hundred days over every invoice)."""
    codes, days = pd.factorize(dates)  # a blank is code -1: the trailing ""
    texts = pd.Series(days).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return np.append(texts, "")[codes]


def _skipped(cand: pd.DataFrame) -> np.ndarray:
    return cand["state"].to_numpy() == _SKIPPED


def _reopened(cand: pd.DataFrame, keys: NoticeKeys, reopened: frozenset[str]) -> np.ndarray:
    """Which candidates are omitido with a key an earlier release recorded final for a
    reason the user can fix (its old row stays the record): only the omitido rows' keys
    are looked at."""
    skipped = _skipped(cand)
    out = np.zeros(len(cand), dtype=bool)
    out[skipped] = is_final(keys.of(cand[skipped]), reopened)
    return out


def fixable_errors(
    book: Book, cand: pd.DataFrame, stages: pd.DataFrame, customers: pd.DataFrame
) -> list[InputError]:
    """Errores rows for the notices held back by data the user can fix: the customer's
    email (Clientes) and the templates (Plantillas)."""
    held = np.flatnonzero(cand["state"].to_numpy() == _PENDING)
    reasons = cand["reason"].to_numpy(dtype=object)[held]
    code = np.array([r.code if r is not None else "" for r in reasons], dtype=object)
    address = held[np.isin(code, ADDRESS_REASONS)]
    by_template = np.isin(code, TEMPLATE_REASONS)
    template = held[by_template]
    lacking = customers.index.to_numpy(dtype=object)[cand["cust"].to_numpy()[address]]
    used = zip(stages["code"].to_numpy(dtype=object)[cand["stage"].to_numpy()[template]],
               reasons[by_template], strict=True)
    return email_errors(customers, lacking.tolist()) + template_errors(book, used)


def template_reasons(stages: pd.DataFrame, templates: pd.DataFrame) -> np.ndarray:
    """Per stage: why its Plantilla cannot be used (None when it is approved)."""
    approved = {normalize(t.code): bool(t.approved) for t in templates.itertuples(index=False)}
    out = []
    for template in stages["template"]:
        ok = approved.get(normalize(template))
        code = ReasonCode.TEMPLATE_NOT_APPROVED if ok is False else ReasonCode.TEMPLATE_MISSING
        out.append(None if ok else reason(code, template=template))
    return np.array(out, dtype=object)


def assign_states(
    cand: pd.DataFrame,
    stages: pd.DataFrame,
    customers: pd.DataFrame,
    template_reason: np.ndarray,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Add `state` (a number into STATES), `reason` (a number into the returned table of
    Reasons and None) and `reason_rank` (the reason's place in sorted order, 0 for none) to
    every candidate row (first matching rule wins)."""
    cust, stage = cand["cust"].to_numpy(), cand["stage"].to_numpy()
    excluded = customers["excluded"].to_numpy(dtype=object)
    no_email = customers["email_error"].to_numpy(dtype=object)
    # tests on the few customers and stages, then spread to the rows
    is_excluded, lacks_email = _given(excluded)[cust], _given(no_email)[cust]
    bad_template = _given(template_reason)[stage]
    passed = cand["passed"].to_numpy()
    going = ~passed & ~is_excluded  # held back by a template or address: going once fixed
    late = _late_reasons(cand, stages, passed & ~is_excluded, going)
    # each row's reason is a number into one small table of every possible one: no object
    # array over every candidate row (the rows that become messages look theirs up)
    said = [LATE, *(reason(ReasonCode.REPLACED, code=code) for code in stages["code"])]
    table, offsets = _stacked([excluded, said, template_reason, no_email, [None]])
    rules = [(is_excluded, _SKIPPED, offsets[0], cust), (passed, _SKIPPED, offsets[1], late),
             (bad_template, _PENDING, offsets[2], stage), (lacks_email, _PENDING, offsets[3], cust)]
    state = np.full(len(cand), _READY, dtype="int8")
    at = np.full(len(cand), offsets[4])
    # the first matching rule wins: written from the last to the first, each on its own
    # rows only (np.select builds every choice over every row: millions at 1M invoices)
    for rule, rule_state, offset, index in reversed(rules):
        state[rule] = rule_state
        at[rule] = offset + index[rule]
    rank = pd.factorize(table, sort=True)[0] + 1  # None is code -1: rank 0
    return cand.assign(state=state, reason=at, reason_rank=rank[at]), table


def _stacked(tables: list) -> tuple[np.ndarray, list[int]]:
    """The object arrays one after another, and where each begins."""
    ends = np.cumsum([len(t) for t in tables]).tolist()
    starts = [0, *ends[:-1]]
    out = np.empty(ends[-1], dtype=object)
    for table, start, end in zip(tables, starts, ends, strict=True):
        out[start:end] = table
    return out, starts


def _given(reasons: np.ndarray) -> np.ndarray:
    """Which entries hold a reason (object array of Reason or None)."""
    return np.fromiter((r is not None for r in reasons), dtype=bool, count=len(reasons))


def hold_refused(
    cand: pd.DataFrame, notice_keys: NoticeKeys, stages: pd.DataFrame,
    customers: pd.DataFrame, refused: Mapping[str, Refusal],
    bounced: Mapping[str, Refusal] | None = None,
) -> tuple[pd.DataFrame, list[InputError]]:
    """Drop the candidates the server refused for the customer's current To (final for
    that address), and every notice of a customer whose current To bounced, with one
    Errores row per held notice that would still go; a refusal or bounce for another
    address leaves the candidate as it is (sent to the new one)."""
    bounced = bounced or {}
    if (not refused and not bounced) or cand.empty:
        return cand, []
    keys, cust = notice_keys.of(cand), cand["cust"].to_numpy()
    # only rows with a refused key or a bounced customer can be held: the others (nearly
    # all) are not looked at one by one
    names = customers.index.to_numpy(dtype=object)
    bounced_customer = np.fromiter(map(bounced.__contains__, names), dtype=bool,
                                   count=len(names))
    maybe = np.flatnonzero(bounced_customer[cust] | _contained(keys, refused))
    to = customers["to"].map(lambda t: "; ".join(t) if isinstance(t, tuple) else "")
    current = to.to_numpy(dtype=object)[cust[maybe]]
    held = np.zeros(len(cand), dtype=bool)
    held[maybe] = [_standing(t, refused.get(k), bounced.get(c)) is not None
                   for k, c, t in zip(keys[maybe], names[cust[maybe]], current, strict=True)]
    going = np.flatnonzero(held & ~_skipped(cand))
    stages_at, pos = cand["stage"].to_numpy()[going], cand["pos"].to_numpy()[going]
    going = going[np.lexsort([pos, stages_at])]  # Errores rows by stage, then book order
    errors: dict[tuple[str, str, str], InputError] = {}
    for key, cust, stage in zip(keys[going], cand["cust"].to_numpy()[going],
                                cand["stage"].to_numpy()[going], strict=True):
        customer, code = customers.index[cust], stages["code"].iat[stage]
        refusal = _standing(current_to(customers, customer), refused.get(key),
                            bounced.get(customer))
        row = customers.at[customer, "row"]
        problem = (bounced_problem if refusal.bounced else refused_problem)(
            code, refusal.to, refusal.reply)
        errors.setdefault((customer, code, refusal.reply), InputError(
            "Clientes", int(row), "Email", str(customers.at[customer, "emails"]), problem))
    return cand[~held].reset_index(drop=True), list(errors.values())


def _standing(to: str, *refusals: Refusal | None) -> Refusal | None:
    """The first refusal (or bounce) that was for the customer's current To `to`."""
    return next((r for r in refusals if r is not None and r.to == to), None)


def current_to(customers: pd.DataFrame, customer: str) -> str:
    to = customers.at[customer, "to"]
    return "; ".join(to) if isinstance(to, tuple) else ""


def _late_reasons(
    cand: pd.DataFrame, stages: pd.DataFrame, passed: np.ndarray, going: np.ndarray
) -> np.ndarray:
    """Catch-up: a passed stage names the stage of its chain going instead, if any: per
    row 0 (LATE) or 1 + the stage going instead (REPLACED)."""
    out = np.zeros(len(cand), dtype="int64")
    if not passed.any() or not going.any():
        return out
    stage = cand["stage"].to_numpy()
    chains = pd.factorize(stages["chain"])[0]
    # invoice and chain; in place, like `named` below: each temporary of millions of rows
    # is fresh memory the kernel must hand over (page faults, sys time) at 1M invoices
    slot = cand["pos"].to_numpy() * (chains.max() + 1)
    slot += chains[stage]
    # per slot, the stage of its first going row (rows come stage by stage, latest stage
    # of a chain first), in a table over the slots: each late row looks its slot up there
    # instead of a binary search among the going slots (millions of rows at 1M)
    first = np.flatnonzero(going)[::-1]  # with repeats numpy keeps the last write
    instead = np.full(int(slot.max()) + 1, -1, dtype="int32")
    instead[slot[first]] = stage[first]
    late = np.flatnonzero(passed)
    named = instead[slot[late]]
    named += 1  # no stage going instead (-1) becomes 0, LATE; stage s becomes 1 + s
    out[late] = named
    return out


def plan_order(
    cand: pd.DataFrame, line_rank: np.ndarray, stages: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """Row positions of `cand` by customer, code, state and reason (one message each),
    then line order (`line_rank`, per invoice row: `_line_rank`); and per position a
    number shared by the rows of one message."""
    code_rank = stages["code"].rank(method="dense").astype("int64").to_numpy()
    line = line_rank[cand["pos"].to_numpy()]
    fields = [cand["cust"].to_numpy(), code_rank[cand["stage"].to_numpy()],
              _STATE_TEXT_RANK[cand["state"].to_numpy()], cand["reason_rank"].to_numpy(),
              line]
    key = _packed(fields)
    if key is None:  # wider than 63 bits: only with sheets far beyond Excel's row limit
        order = np.lexsort(fields[::-1])
        return order, _run_ids([f[order] for f in fields[:-1]])
    # one stable sort of one integer key is several times cheaper than a lexsort of five
    order = np.argsort(key, kind="stable")
    message = key[order]
    message >>= _width(line)
    return order, message


def _width(column: np.ndarray) -> int:
    """Bits that hold every value of a non-negative integer column."""
    return int(column.max()).bit_length() if len(column) else 0


def _packed(columns: list[np.ndarray]) -> np.ndarray | None:
    """Non-negative integer columns (most significant first) as one int64 whose order is
    their lexicographic order; None when they need more than 63 bits."""
    widths = [_width(c) for c in columns]
    if sum(widths) > 63:
        return None
    out = np.zeros(len(columns[0]), dtype="int64")
    for column, width in zip(columns, widths, strict=True):
        out <<= width  # in place: no new array per field (millions of rows at 1M)
        out |= column
    return out


def _run_ids(columns: list[np.ndarray]) -> np.ndarray:
    """Per row of sorted columns: the number of its run of equal rows."""
    changed = np.zeros(len(columns[0]), dtype=bool)
    for c in columns:
        changed[1:] |= c[1:] != c[:-1]
    return np.cumsum(changed)


def _line_rank(inv: pd.DataFrame) -> np.ndarray:
    """Per row of `inv`: its place in line order (due date, then invoice)."""
    invoice = _text_rank(inv["invoice"].to_numpy(dtype=object))
    order = np.lexsort([invoice, inv["due"].to_numpy(dtype="datetime64[D]")])
    rank = np.empty(len(order), dtype="int64")
    rank[order] = np.arange(len(order))
    return rank


def _text_rank(values: np.ndarray) -> np.ndarray:
    """`pd.factorize(values, sort=True)` codes of a text column without blanks: one sort
    of the strings (cheaper than hashing each, then sorting the distinct ones)."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    new = np.ones(len(values), dtype=bool)
    new[1:] = ordered[1:] != ordered[:-1]
    rank = np.empty(len(values), dtype="int64")
    rank[order] = np.cumsum(new) - 1
    return rank


def skipped_batch(cand: pd.DataFrame, reasons: np.ndarray, rows: np.ndarray,
                  starts: np.ndarray, keys: NoticeKeys, stages: pd.DataFrame,
                  customers: pd.DataFrame) -> Skipped:
    """The `omitido` rows `rows` (positions of `cand` in plan order; each message begins
    at `starts`; `reason` numbers `reasons`) as one columnar batch: no Outgoing, no Line;
    the invoice and key of each line are built when first read (a dry run only counts
    them)."""
    first = rows[starts]
    cust, stage = cand["cust"].to_numpy()[first], cand["stage"].to_numpy()[first]
    to = customers["to"].map(lambda t: "; ".join(t) if isinstance(t, tuple) else "")
    lines = cand[["pos", "stage", "key"] if "key" in cand else ["pos", "stage"]]
    return Skipped(
        code=_pick(stages["code"], stage), recipient=_pick(customers.index, cust),
        to=_pick(to, cust), template=_pick(stages["template"], stage),
        reason=reasons[cand["reason"].to_numpy()[first]], start=starts,
        lines=lambda: _skipped_lines(lines.take(rows), keys),
    )


def _skipped_lines(lines: pd.DataFrame, keys: NoticeKeys) -> tuple[np.ndarray, np.ndarray]:
    """(invoice, ledger key) of each omitido line (candidate rows: pos and stage)."""
    return _pick(keys.inv["invoice"], lines["pos"].to_numpy()), keys.of(lines)


def _pick(values: object, at: np.ndarray | slice) -> np.ndarray:
    """`values` (a column, index or array) at positions `at`, as an object array."""
    return np.asarray(values, dtype=object)[at]


class Drafts(NamedTuple):
    """The notices before the contact rules, in plan order: each one's `Part`, and per
    notice its customer (a row of the planner's customer table), state (a number into
    STATES) and reason. Columns, not an object per notice: the rules combine each
    customer's notices into one email, or let each wait `pendiente`."""

    parts: list[Part]
    cust: np.ndarray
    state: np.ndarray
    reason: list[Reason | None]


def group(
    cand: pd.DataFrame, starts: np.ndarray, row_keys: np.ndarray, inv: pd.DataFrame,
    stages: pd.DataFrame,
) -> Drafts:
    """The notices of `cand` (rows in plan order, each notice beginning at `starts`;
    `row_keys`: the ledger key of each row)."""
    if cand.empty:
        none = np.zeros(0, dtype="int64")
        return Drafts([], none, none, [])
    keys = row_keys.tolist()
    lines = _lines(inv, cand["pos"].to_numpy())
    bounds = list(zip(starts.tolist(), [*starts[1:].tolist(), len(keys)], strict=True))
    # plain Python lists zipped into tuples (iterating numpy object arrays is slow)
    stage = cand["stage"].to_numpy()[starts]
    parts = records(Part, zip(
        _pick(stages["code"], stage).tolist(), _pick(stages["template"], stage).tolist(),
        [tuple(lines[start:stop]) for start, stop in bounds],
        [unique_keys(keys[start:stop]) for start, stop in bounds], strict=True))
    return Drafts(parts, cand["cust"].to_numpy()[starts], cand["state"].to_numpy()[starts],
                  _pick(cand["reason"], starts).tolist())


def _outgoing(parts: list[Part], customer: _Customer, state: SendState,
              why: Reason | None, context: dict[str, object]) -> Outgoing:
    """One email to `customer` carrying `parts` (most severe first): the first one's code
    and template, every part's invoices (each once) and keys."""
    first = parts[0]
    if len(parts) == 1:
        lines, keys = first.lines, first.keys
    else:
        # each invoice row has one shared Line and validation leaves no two rows alike,
        # so the same invoice is the same object: kept once by identity, not by hashing
        # every field of every line
        lines = tuple({id(line): line for p in parts for line in p.lines}.values())
        keys = tuple(key for p in parts for key in p.keys)
    addressed = state != SendState.ERROR
    return Outgoing(
        kind=Kind.NOTICE, code=first.code, recipient=customer.id,
        to=customer.to if addressed else (), cc=customer.cc if addressed else (),
        template=first.template, lines=lines, keys=keys, state=state, reason=why,
        parts=tuple(parts), context=context,
    )


class _Customer(NamedTuple):
    """What an email takes from its customer's row of the planner's customer table."""

    id: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    name: str

    def context(self) -> dict[str, object]:
        return {"customer": self.id, "customer_name": self.name}


def _lines(inv: pd.DataFrame, pos: np.ndarray) -> list[Line]:
    """The Line of each row `pos` of `inv`; one shared Line object per distinct invoice row."""
    unique, inverse = np.unique(pos, return_inverse=True)

    def texts(column: str) -> list[str]:  # only the rows' cells, not a copy of the frame
        return inv[column].to_numpy(dtype=object)[unique].tolist()

    columns = (
        texts("invoice"), texts("customer"), _days(inv["due"], unique),
        inv["days_overdue"].to_numpy(dtype="int64")[unique].tolist(),
        inv["balance"].to_numpy(dtype="int64")[unique].tolist(),
        texts("currency"), _days(inv["issued"], unique), _days(inv["promise_date"], unique),
        texts("status"), [""] * len(unique), _days(inv["no_contact_date"], unique),
        _whole(inv, "instalment", unique), _whole(inv, "instalment_amount", unique),
    )
    shared = lines_of(columns)
    return list(map(shared.__getitem__, inverse.tolist()))


def _days(dates: pd.Series, rows: np.ndarray) -> list[date | None]:
    """A date column at `rows` as `date` objects (None for a blank): one object per
    distinct day (a few hundred), not one per row."""
    days = dates.to_numpy(dtype="datetime64[D]")[rows]
    codes, distinct = pd.factorize(days.view("int64"))  # NaT is a value of its own
    return distinct.view("datetime64[D]").astype(object)[codes].tolist()


def _whole(inv: pd.DataFrame, column: str, rows: np.ndarray) -> list[int]:
    """An integer column of instalment rows at `rows` (0 on invoice rows, or when there
    are none)."""
    if column not in inv:
        return [0] * len(rows)
    return inv[column].take(rows).fillna(0).astype("int64").tolist()


def apply_contact_rules(
    drafts: Drafts,
    customers: pd.DataFrame,
    now: datetime,
    book: Book,
    history: History,
    severity: Mapping[str, float],
) -> list[Outgoing]:
    """One customer email at a time: each customer's `listo` notices go together as one
    message (most severe first) when its window and frequency caps allow a contact now;
    otherwise each waits `pendiente` with the rule named and when it may go."""
    # plain lists per customer row, not a .at per customer (nor Series.to_dict, which
    # boxes each value)
    who = records(_Customer, zip(customers.index.tolist(), customers["to"].tolist(),
                                 customers["cc"].tolist(), customers["name"].tolist(),
                                 strict=True))
    waiting = np.flatnonzero(drafts.state != _READY)
    out = [_outgoing([drafts.parts[i]], who[c], STATES[state], drafts.reason[i],
                     who[c].context())
           for i, c, state in zip(waiting.tolist(), drafts.cust[waiting].tolist(),
                                  drafts.state[waiting].tolist(), strict=True)]
    # the listo notices by customer, each customer's most severe first (one stable sort:
    # plan order among equals; not a sort per customer)
    ready = np.flatnonzero(drafts.state == _READY)
    rank = np.array([severity[part.code] for part in drafts.parts], dtype=float)
    ready = ready[np.lexsort([rank[ready], drafts.cust[ready]])]
    cust = drafts.cust[ready]
    starts = run_starts(cust).tolist()
    gate = _Gate(now, book.config)
    zones, rules = customers["zone"].tolist(), customers["rules"].tolist()
    order = ready.tolist()
    stops = [*starts[1:], len(order)] if starts else []
    for start, stop, c in zip(starts, stops, cust[starts].tolist(), strict=True):
        customer, parts = who[c], [drafts.parts[i] for i in order[start:stop]]
        held, later = gate.check(zones[c], rules[c],
                                 list(history.contacts.get(customer.id, ())))
        if held is None:
            out.append(_outgoing(parts, customer, SendState.READY, None, customer.context()))
            continue
        out.extend(_outgoing([part], customer, SendState.PENDING, held,
                             {**customer.context(), "next_allowed": later})
                   for part in parts)
    return out


class _Gate:
    """Contact rules at one instant, each distinct answer worked out once: it depends on
    the customer's zone, its rules and the local dates of its earlier contacts only, and
    most customers share theirs (no earlier contact, on a first sync)."""

    def __init__(self, now: datetime, config: Config) -> None:
        self.now, self.config = now, config
        self.answers: dict[tuple, tuple[Reason | None, datetime | None]] = {}

    def check(self, zone: ZoneInfo, rules: CustomerRules,
              sent: list[datetime]) -> tuple[Reason | None, datetime | None]:
        """(reason to hold back or None, next allowed instant when held back) for a
        customer in `zone` under its `rules`, given its earlier contacts `sent`."""
        local = self.now.astimezone(zone)
        dates = tuple(sorted(contact_rules.local_dates(sent, local)))
        memo = (zone.key, rules, dates)  # one lookup per customer (hashing `rules` costs)
        if memo not in self.answers:
            reason = contact_rules.contact_block(local, self.config, rules, sent)
            later = None if reason is None else contact_rules.next_allowed(
                local, self.config, rules, sent)
            self.answers[memo] = (reason, later)
        return self.answers[memo]
