"""The payment link of a customer email: Configuración Enlace de pago with its placeholders
({cliente}, {factura}, {importe}, {moneda}) replaced by URL-encoded values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import quote

from cobranza.book.money import decimal_text
from cobranza.notices.messages import Line

_PLACEHOLDERS = ("{cliente}", "{factura}", "{importe}", "{moneda}")  # replaced in this order
# What `quote(value, safe="")` leaves as it is: customer codes, invoice numbers, amounts
# and currencies mostly are, and an email builds a link per invoice.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")


def payment_link(url: str, customer: str, lines: Sequence[Line]) -> str:
    """The link for paying `lines` of `customer`; "" when no link is configured.

    One invoice: its number, balance and currency. Several: their numbers joined by
    commas and, when they share one currency, the sum of their balances; otherwise
    {importe} and {moneda} are left empty (the customer chooses on the payment page).
    The amount is plain digits with a point ("15000.50"), what payment pages expect.
    """
    if not url:
        return ""
    currencies = {ln.currency for ln in lines}
    one = len(currencies) == 1
    currency = next(iter(currencies)) if one else ""
    amount = decimal_text(sum(ln.balance for ln in lines), currency) if one else ""
    values = (customer, ",".join(ln.invoice for ln in lines), amount, currency)
    for placeholder, value in zip(_PLACEHOLDERS, values, strict=True):
        if placeholder in url:  # most links use one or two of them: quote only those
            url = url.replace(placeholder, _quoted(value))
    return url


def _quoted(value: str) -> str:
    """`value` URL-encoded (every reserved character too)."""
    return value if _UNQUOTED.fullmatch(value) else quote(value, safe="")
