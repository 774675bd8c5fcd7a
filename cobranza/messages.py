"""What the planner hands to delivery: one outgoing message and the invoices it lists.

The planner (`cobranza.notices`, `cobranza.digests`) is pure: it decides *what* is due and
in which state. Delivery (`sync.sending`) renders, claims the ledger keys, sends and
records the outcome. The ledger key is the identity that makes "exactly once" hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Kind = Literal["aviso", "resumen"]
# listo = due now and allowed to go out; the other states are final for this run.
PlanState = Literal["listo", "pendiente", "omitido", "error"]
# States recorded in the ledger / shown in Envíos.
SendState = Literal["enviado", "pendiente", "omitido", "error", "incierto"]

DIGEST_CODES = (
    "RESUMEN_ACCIONES",  # daily, to Responsable de acciones
    "RESUMEN_COBRADOR_DIARIO",  # daily, to each collector: broken promises
    "RESUMEN_COBRADOR_SEMANAL",  # weekly, to each collector: reported payments, disputes
    "RESUMEN_AREA_SEMANAL",  # weekly, to each area Responsable: open disputes
)


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
    code: str  # Avisos Código (NUEVA, ...) or one of DIGEST_CODES
    recipient: str  # customer id for avisos, email for digests
    to: tuple[str, ...]
    cc: tuple[str, ...]
    template: str  # Plantillas Código used to render it
    lines: tuple[Line, ...]
    keys: tuple[str, ...]  # ledger keys: one per invoice (avisos) or one per period (digest)
    state: PlanState = "listo"
    reason: str = ""  # Spanish; names the rule that held it back or skipped it
    context: Mapping[str, Any] = field(default_factory=dict)  # extra template variables
