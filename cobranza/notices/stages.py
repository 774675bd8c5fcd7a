"""The Avisos table as data: each active row is a *stage* of a *chain* with a window.

A chain is an ordered sequence of notices about the same date of an invoice (its
Referencia and the sign of Días). A stage is due on anchor + Días and stays meaningful
until the day before the next stage of its chain is due; the chain's last stage stays
meaningful up to its chain's `grace` days (`GRACE_DAYS` unless said) after its date, or
until the anchor date for chains that lead up to it (PREVIO until Vencimiento,
PROMESA_PREVIA until Fecha compromiso).

Chains are a registry (`CHAINS`): which invoice date anchors them, which invoice statuses
they apply to, whether the window closes at the anchor, and the priority used when a
legal frequency cap lets only some of a customer's messages out.

`mes` rows are monthly statements: Días = N means the N-th business day of the month
(0 or blank = first); the window is that day and the next four business days.

`cuota` rows (CUOTA_PREVIA, CUOTA_VENCIDA) are about the instalments of a current
payment plan (`cobranza.rules.plans`), anchored on each Vencimiento cuota.

`gestión` rows (SIN_CONTACTO) follow a gestión `Sin contacto`: anchored on the Fecha of the
invoice's latest gestión when it is one (`no_contact_date`, `cobranza.rules.invoices`), one
notice per such date, meaningful `NO_CONTACT_GRACE` days after it (seed 003).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd

from cobranza.book.text import normalize
from cobranza.notices.calendar import first_business_days
from cobranza.vocabulary import Status

GRACE_DAYS = 7  # the last stage of a chain is meaningful this many days after its date
NO_CONTACT_GRACE = 3  # SIN_CONTACTO: meaningful for 3 days after the gestión's Fecha
MONTHLY_WINDOW = 5  # business days a monthly statement stays meaningful

# Invoice statuses that receive ordinary notices (the others are excluded by the SPEC): a
# broken plan's invoices get them again (a current plan's get its instalment notices).
OPEN_STATUSES = (Status.NOT_DUE, Status.OVERDUE, Status.IN_ACTION, Status.BROKEN_PROMISE,
                 Status.PLAN_BROKEN)
# The status of the planner's rows for the unpaid instalments of current plans (not an
# invoice Estatus): only the instalment chains apply to them (`cobranza.notices.planner`).
INSTALMENT_DUE = "Cuota pendiente"
# Promise chains: the dates decide (Promesa de pago lasts until Fecha compromiso), so a
# PROMESA_PREVIA not sent in time is still recorded "fuera de plazo" once it is broken.
PROMISE_STATUSES = (Status.PROMISED, Status.BROKEN_PROMISE)
# The monthly statement lists every invoice still owed to the company, disputed, promised
# and reported ones too (marked with their Estatus); not those with an agency or written
# off.
STATEMENT_STATUSES = (*OPEN_STATUSES, Status.PROMISED, Status.PAYMENT_REPORTED,
                      Status.DISPUTED, Status.PLAN)
# Customer notices by severity, most severe first (SPEC "Contact policy"): the order of
# the bodies in one email, whose subject is the first one's.
SEVERITY = ("SUSPENSION_60", "MORA_45", "PROMESA_INCUMPLIDA", "CUOTA_VENCIDA", "VENCIDA_30",
            "VENCIDA_15", "VENCIDA_1", "SIN_CONTACTO", "PROMESA_PREVIA", "CUOTA_PREVIA",
            "PREVIO", "NUEVA", "ESTADO_MENSUAL")


@dataclass(frozen=True)
class ChainRule:
    """How one family of Avisos rows is anchored, windowed and prioritized."""

    name: str
    reference: str  # normalized Referencia
    after: bool | None  # Días > 0 (True), Días <= 0 (False), either (None)
    anchor: str  # invoice column with the reference date ("" for monthly)
    statuses: tuple[str, ...]  # invoice statuses the chain applies to
    closes_at_anchor: bool  # the last stage is meaningful until the anchor date only
    priority: int  # lower goes first when a frequency cap allows only some
    # the ledger key carries the anchor date: one notice per promise date (promise chains),
    # per date of a gestión Sin contacto (SIN_CONTACTO)
    per_anchor: bool = False
    grace: int = GRACE_DAYS  # days the chain's last stage stays meaningful after its date


CHAINS: tuple[ChainRule, ...] = (
    ChainRule("promesa_incumplida", "compromiso", True, "promise_date",
              PROMISE_STATUSES, False, 0, per_anchor=True),
    ChainRule("promesa_previa", "compromiso", False, "promise_date",
              PROMISE_STATUSES, True, 1, per_anchor=True),
    # instalments of a current plan: anchored on Vencimiento cuota, one notice per
    # instalment (the key holds the plan and the instalment's date)
    ChainRule("cuota_vencida", "cuota", True, "due", (INSTALMENT_DUE,), False, 1,
              per_anchor=True),
    ChainRule("cuota_previa", "cuota", False, "due", (INSTALMENT_DUE,), True, 1,
              per_anchor=True),
    ChainRule("recordatorio", "vencimiento", True, "due", OPEN_STATUSES, False, 2),
    # its own chain: catch-up never counts it as a reminder stage, nor a reminder as it
    ChainRule("gestion", "gestion", None, "no_contact_date", OPEN_STATUSES, False, 3,
              per_anchor=True, grace=NO_CONTACT_GRACE),
    ChainRule("previo", "vencimiento", False, "due", OPEN_STATUSES, True, 4),
    ChainRule("emision", "emision", None, "issued", OPEN_STATUSES, False, 5),
    ChainRule("mes", "mes", None, "", STATEMENT_STATUSES, False, 6),
)
CHAIN_BY_NAME = {rule.name: rule for rule in CHAINS}
REFERENCES = tuple(dict.fromkeys(rule.reference for rule in CHAINS))


def chain_for(reference: str, days: int) -> ChainRule | None:
    """The chain an Avisos row belongs to (None for an unknown Referencia)."""
    ref = normalize(reference)
    for rule in CHAINS:
        if rule.reference == ref and rule.after in (None, days > 0):
            return rule
    return None


def stage_table(notices: pd.DataFrame) -> pd.DataFrame:
    """Active Avisos rows as stages: code, template, days, chain, end_offset, priority.

    `end_offset` is the last meaningful day, in days from the anchor (invoice chains).
    Sorted by chain priority, then Días descending (latest stage first). Blank Plantilla
    means the template with the same code as the notice. Duplicate codes keep the first.
    """
    rows = []
    active = notices[notices["active"].fillna(False).astype(bool)]
    for n in active.drop_duplicates("code").itertuples(index=False):
        days = 0 if pd.isna(n.days) else int(n.days)
        rule = chain_for(n.reference, days)
        if rule is not None:
            template = str(n.template).strip() or str(n.code)
            rows.append((str(n.code), template, days, rule.name, rule.priority))
    columns = ["code", "template", "days", "chain", "priority"]
    stages = pd.DataFrame(rows, columns=columns).astype({"days": "int64", "priority": "int64"})
    stages["end_offset"] = _end_offsets(stages)
    return stages.sort_values(["priority", "days", "code"], ascending=[True, False, True],
                              ignore_index=True)


def _end_offsets(stages: pd.DataFrame) -> pd.Series:
    out = pd.Series(0, index=stages.index, dtype="int64")
    for name, group in stages.groupby("chain"):
        rule = CHAIN_BY_NAME[name]
        if rule.anchor == "":
            continue
        distinct = sorted(set(group["days"]))
        for idx, days in group["days"].items():
            later = [d for d in distinct if d > days]
            if later:
                out[idx] = later[0] - 1
            else:
                out[idx] = 0 if rule.closes_at_anchor else days + rule.grace
    return out


def monthly_window(days: int, today: date, country: str) -> tuple[date, date] | None:
    """This month's statement window: N-th business day through four business days later."""
    n = max(int(days), 1)
    found = first_business_days(today.year, today.month, country, n + MONTHLY_WINDOW - 1)
    if len(found) < n:
        return None
    return found[n - 1], found[-1]


def severity_ranks(stages: pd.DataFrame) -> dict[str, float]:
    """Code -> severity rank (lower = more severe) of every stage of `stages`.

    The SPEC's codes keep their place in SEVERITY. Another reminder (vencimiento, Días > 0)
    goes among the reminders by its Días, just before the first listed one it is later
    than; any other code goes after the listed codes of its chain (or after all of them).
    """
    known = {code: i for i, code in enumerate(SEVERITY)}
    rows = list(zip(stages["code"], stages["chain"], stages["days"], strict=True))
    reminders = sorted((known[c], d) for c, ch, d in rows if c in known and ch == "recordatorio")
    ranks: dict[str, float] = {}
    for code, chain, days in rows:
        if code in known:
            ranks[code] = known[code]
        elif chain == "recordatorio" and reminders:
            before = [i for i, d in reminders if d < days]
            ranks[code] = (before[0] if before else reminders[-1][0] + 1) - 0.5 + 1e-6 / (1 + days)
        else:
            mine = [known[c] for c, ch, _ in rows if ch == chain and c in known]
            ranks[code] = (max(mine) if mine else len(SEVERITY)) + 0.5 + 1e-6 * abs(days)
    return ranks
