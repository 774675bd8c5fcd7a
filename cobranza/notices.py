"""Planning of automatic customer notices: which Avisos are due now, and in which state.

Pure: `plan_notices(book, invoices, now, history)` reads no clock, disk or SMTP. Steps:

1. Candidates, vectorized: for each active Avisos row (a stage, see
   `cobranza.notice_stages`), the invoices whose status it applies to and whose stage date
   (anchor + Días) is today or earlier, with the stage's last meaningful day and ledger key.
   Keys already final in the ledger are dropped: a notice is planned at most once, ever.
2. States, vectorized, first match wins: customer excluded (Avisos automáticos = No,
   Segmento sin avisos) -> omitido; window passed -> omitido ("fuera de plazo", or
   "se envía X en su lugar" when a later stage of the same chain is going instead, i.e.
   catch-up); template missing or not approved -> omitido; no valid email -> error;
   otherwise listo.
3. Grouping: one `Outgoing` per customer, code, state and reason, invoices as `Line`s.
4. Contact rules, per customer in its own zone: Solo días hábiles, Ventana de envío and
   the legal profile turn `listo` into `pendiente` with the rule named; frequency caps
   count the ledger's earlier contacts plus what this run already let out, in priority
   order (broken promise, promise reminder, overdue stages latest first, PREVIO, NUEVA,
   ESTADO_MENSUAL).

Monthly statements (Referencia `mes`) have one ledger key per customer and month:
`notice_key(customer, "", code, first calendar day of the month)`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime

import numpy as np
import pandas as pd

from cobranza import contact_rules
from cobranza.messages import Line, Outgoing
from cobranza.notice_customers import customer_table, email_errors
from cobranza.notice_stages import CHAIN_BY_NAME, CHAINS, monthly_window, stage_table
from cobranza.records import Book, InputError
from cobranza.text import normalize

REASON_LATE = "fuera de plazo"
_GROUP = ["customer", "code", "state", "reason"]


@dataclass(frozen=True)
class History:
    """What the send ledger already knows, as of this run."""

    # ledger keys in a final state (enviado, omitido, incierto, permanent error):
    # never planned again
    final_keys: frozenset[str] = frozenset()
    # customer id -> aware datetimes of customer notices already sent (frequency caps)
    contacts: Mapping[str, tuple[datetime, ...]] = field(default_factory=dict)


def plan_notices(
    book: Book, invoices: pd.DataFrame, now: datetime, history: History
) -> tuple[list[Outgoing], list[InputError]]:
    """The customer notices due at `now` (aware, company zone), each in its plan state."""
    config = book.config
    today = now.astimezone(config.zone).date()
    stages = stage_table(book.notices)
    inv = _eligible(invoices)
    cand = candidates(inv, stages, today, config.holiday_country)
    cand = cand[~is_final(cand["key"].to_numpy(), history.final_keys)]
    cand = _attach(cand, inv, stages)
    customers = customer_table(book.customers, cand["customer"].unique(), config)
    cand = assign_states(cand, stages, customers, template_reasons(stages, book.templates), today)
    drafts = group(cand, inv, stages, customers)
    planned = apply_contact_rules(drafts, customers, now, book, history, _ranks(stages))
    planned.sort(key=lambda o: (o.recipient, o.code, o.state, o.reason))
    in_error = [o.recipient for o in planned if o.state == "error"]
    return planned, email_errors(customers, in_error)


def _eligible(invoices: pd.DataFrame) -> pd.DataFrame:
    """Open invoices in a status some chain applies to (others get no record at all)."""
    statuses = {s for rule in CHAINS for s in rule.statuses}
    mask = (invoices["balance"] > 0) & invoices["status"].isin(statuses)
    return invoices[mask].reset_index(drop=True)


def is_final(keys: np.ndarray, final_keys: frozenset[str]) -> np.ndarray:
    """Boolean mask: which keys the ledger already holds in a final state."""
    return np.fromiter((k in final_keys for k in keys), dtype=bool, count=len(keys))


def candidates(inv: pd.DataFrame, stages: pd.DataFrame, today: date, country: str) -> pd.DataFrame:
    """One row per (invoice, stage) already due: pos (row of `inv`), stage, end, key."""
    prefix = ("aviso|" + inv["customer"] + "|" + inv["invoice"] + "|").to_numpy(dtype=object)
    promise = _promise_iso(inv) if stages["chain"].map(_per_promise).any() else None
    statuses = inv["status"].to_numpy()
    today64 = np.datetime64(today, "D")
    parts = [_empty_candidates()]
    for stage in stages.itertuples():
        rule = CHAIN_BY_NAME[stage.chain]
        applies = np.isin(statuses, rule.statuses)
        if rule.anchor:
            anchor = inv[rule.anchor].to_numpy(dtype="datetime64[D]")
            pos = np.flatnonzero(applies & (anchor + stage.days <= today64))
            end = anchor[pos] + stage.end_offset
            keys = prefix[pos] + f"{stage.code}|"
            keys = keys + promise[pos] if rule.per_promise else keys
        else:
            window = monthly_window(stage.days, today, country)
            if window is None or today < window[0]:
                continue
            pos = np.flatnonzero(applies)
            end = np.full(len(pos), np.datetime64(window[1], "D"))
            month = date(today.year, today.month, 1).isoformat()
            customer = inv["customer"].to_numpy(dtype=object)[pos]
            keys = "aviso|" + customer + f"||{stage.code}|{month}"
        parts.append(pd.DataFrame({"pos": pos, "stage": stage.Index, "end": end, "key": keys}))
    return pd.concat(parts, ignore_index=True)


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({
        "pos": np.array([], dtype="int64"),
        "stage": np.array([], dtype="int64"),
        "end": np.array([], dtype="datetime64[D]"),
        "key": np.array([], dtype=object),
    })


def _per_promise(chain: str) -> bool:
    return CHAIN_BY_NAME[chain].per_promise


def _promise_iso(inv: pd.DataFrame) -> np.ndarray:
    out = np.full(len(inv), "", dtype=object)
    has = inv["promise_date"].notna().to_numpy()
    out[has] = inv["promise_date"][has].dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    return out


def _attach(cand: pd.DataFrame, inv: pd.DataFrame, stages: pd.DataFrame) -> pd.DataFrame:
    pos, stage = cand["pos"].to_numpy(), cand["stage"].to_numpy()
    out = cand.assign(
        customer=inv["customer"].to_numpy(dtype=object)[pos],
        invoice=inv["invoice"].to_numpy(dtype=object)[pos],
        due=inv["due"].to_numpy(dtype="datetime64[D]")[pos],
    )
    for column in ("code", "chain", "template"):
        out[column] = stages[column].to_numpy(dtype=object)[stage]
    return out


def template_reasons(stages: pd.DataFrame, templates: pd.DataFrame) -> np.ndarray:
    """Per stage: why its Plantilla cannot be used ("" when it is approved)."""
    approved = {normalize(t.code): bool(t.approved) for t in templates.itertuples(index=False)}
    out = []
    for template in stages["template"]:
        ok = approved.get(normalize(template))
        out.append("" if ok else f"plantilla {template} no aprobada" if ok is False
                   else f"plantilla {template} no existe en Plantillas")
    return np.array(out, dtype=object)


def assign_states(
    cand: pd.DataFrame,
    stages: pd.DataFrame,
    customers: pd.DataFrame,
    template_reason: np.ndarray,
    today: date,
) -> pd.DataFrame:
    """Add `state` and `reason` to every candidate row (first matching rule wins)."""
    excluded = customers["excluded"].reindex(cand["customer"]).to_numpy(dtype=object)
    no_email = customers["email_error"].reindex(cand["customer"]).to_numpy(dtype=object)
    template = template_reason[cand["stage"].to_numpy()]
    passed = cand["end"].to_numpy() < np.datetime64(today, "D")
    allowed = excluded == ""
    late = _late_reasons(cand, passed & allowed, ~passed & allowed & (template == ""))
    rules = [excluded != "", passed, template != "", no_email != ""]
    reason = np.select(rules, [excluded, late, template, no_email], "")
    state = np.select(rules, ["omitido", "omitido", "omitido", "error"], "listo")
    return cand.assign(state=state.astype(object), reason=reason.astype(object))


def _late_reasons(cand: pd.DataFrame, passed: np.ndarray, going: np.ndarray) -> np.ndarray:
    """Catch-up: a passed stage names the stage of its chain going instead, if any."""
    out = np.full(len(cand), REASON_LATE, dtype=object)
    if not passed.any() or not going.any():
        return out
    instead = cand.loc[going, ["pos", "chain", "code"]].drop_duplicates(["pos", "chain"])
    late = cand.loc[passed, ["pos", "chain"]].merge(instead, how="left", on=["pos", "chain"])
    named = late["code"].notna().to_numpy()
    text = np.full(len(late), REASON_LATE, dtype=object)
    text[named] = "se envía " + late["code"][named].to_numpy(dtype=object) + " en su lugar"
    out[passed] = text
    return out


def group(
    cand: pd.DataFrame, inv: pd.DataFrame, stages: pd.DataFrame, customers: pd.DataFrame
) -> list[Outgoing]:
    """One Outgoing per customer, code, state and reason; lines ordered by due, invoice."""
    if cand.empty:
        return []
    cand = cand.sort_values([*_GROUP, "due", "invoice"], kind="stable", ignore_index=True)
    lines = _lines(inv, cand["pos"].to_numpy())
    keys = cand["key"].to_numpy()
    template = dict(zip(stages["code"], stages["template"], strict=True))
    heads = cand[_GROUP]
    starts = np.flatnonzero((heads != heads.shift()).any(axis=1).to_numpy())
    bounds = zip(starts, [*starts[1:], len(cand)], strict=True)
    out = []
    for start, stop in bounds:
        customer, code, state, reason = heads.iloc[start]
        c = customers.loc[customer]
        out.append(Outgoing(
            kind="aviso", code=code, recipient=customer,
            to=() if state == "error" else c["to"], cc=() if state == "error" else c["cc"],
            template=template[code], lines=tuple(lines[start:stop]),
            keys=tuple(dict.fromkeys(keys[start:stop])), state=state, reason=reason,
            context={"customer": customer, "customer_name": c["name"]},
        ))
    return out


def _lines(inv: pd.DataFrame, pos: np.ndarray) -> list[Line]:
    rows = inv.iloc[pos]
    columns = (
        rows["invoice"].tolist(),
        rows["customer"].tolist(),
        rows["due"].to_numpy(dtype="datetime64[D]").astype(object).tolist(),
        rows["days_overdue"].astype("int64").tolist(),
        rows["balance"].astype("int64").tolist(),
        rows["currency"].tolist(),
        rows["issued"].to_numpy(dtype="datetime64[D]").astype(object).tolist(),
        rows["promise_date"].to_numpy(dtype="datetime64[D]").astype(object).tolist(),
        rows["status"].tolist(),
    )
    return [Line(*values) for values in zip(*columns, strict=True)]


def _ranks(stages: pd.DataFrame) -> dict[str, int]:
    """Code -> order in which frequency caps let messages out (stage_table's order)."""
    return {code: i for i, code in enumerate(stages["code"])}


def apply_contact_rules(
    drafts: list[Outgoing],
    customers: pd.DataFrame,
    now: datetime,
    book: Book,
    history: History,
    rank: Mapping[str, int],
) -> list[Outgoing]:
    """Hold back `listo` messages outside the allowed window or over a frequency cap."""
    ready: dict[str, list[int]] = {}
    for i, draft in enumerate(drafts):
        if draft.state == "listo":
            ready.setdefault(draft.recipient, []).append(i)
    out = list(drafts)
    for customer, indexes in ready.items():
        local = now.astimezone(customers.loc[customer, "zone"])
        sent = list(history.contacts.get(customer, ()))
        for i in sorted(indexes, key=lambda i: rank[drafts[i].code]):
            reason = contact_rules.contact_block(local, book.config, sent)
            if reason:
                later = contact_rules.next_allowed(local, book.config, sent)
                context = {**drafts[i].context, "next_allowed": later}
                out[i] = replace(drafts[i], state="pendiente", reason=reason, context=context)
            else:
                sent.append(now)
    return out
