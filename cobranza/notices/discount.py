"""Early-payment discount (seed 002; Configuración Descuento pronto pago, Días pronto pago).

An invoice issued on day E may be paid with the discount up to E + Días pronto pago
(inclusive). What the customer pays is its Saldo less the percentage, rounded half up to
the currency's minor unit: exact integer arithmetic on minor units and the exact Decimal
percentage, never a binary float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal


@dataclass(frozen=True)
class EarlyPayment:
    """What paying early gets an invoice: the amount to pay and the last day to pay it."""

    amount: int  # minor units of the invoice's currency
    deadline: date


def discounted(balance: int, percent: Decimal) -> int:
    """`balance` (minor units, >= 0) less `percent` %, rounded half up to a minor unit:
    2 % of 100025 (1,000.25 MXN) leaves 98024.5, paid as 98025 (980.25)."""
    numerator, denominator = percent.as_integer_ratio()  # exact: percent = n / d
    exact_times = balance * (100 * denominator - numerator)  # amount * 100 * d
    whole, rest = divmod(exact_times, 100 * denominator)
    return whole + (1 if 2 * rest >= 100 * denominator else 0)


def early_payment(balance: int, issued: date | None, as_of: date, percent: Decimal,
                  days: int) -> EarlyPayment | None:
    """The discounted payment of an invoice still inside its window on `as_of`; None when
    no discount is configured, the invoice has no Emisión, nothing is owed or the window
    (Emisión + `days`) has passed."""
    if percent <= 0 or issued is None or balance <= 0:
        return None
    deadline = issued + timedelta(days=days)
    if as_of > deadline:
        return None
    return EarlyPayment(discounted(balance, percent), deadline)


def percent_text(percent: Decimal) -> str:
    """Decimal("2") -> "2%", Decimal("2.50") -> "2.5%"; "" when there is no discount."""
    if percent <= 0:
        return ""
    text = format(percent.normalize(), "f")
    return f"{text}%"
