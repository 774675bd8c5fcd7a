"""The payment link of a customer email: Configuración Enlace de pago with its placeholders
({cliente}, {factura}, {importe}, {moneda}) replaced by URL-encoded values."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

from cobranza.book.money import to_decimal
from cobranza.notices.messages import Line


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
    amount = str(to_decimal(sum(ln.balance for ln in lines), currency)) if one else ""
    values = {"cliente": customer, "factura": ",".join(ln.invoice for ln in lines),
              "importe": amount, "moneda": currency}
    for name, value in values.items():
        placeholder = "{" + name + "}"
        if placeholder in url:  # most links use one or two of them: quote only those
            url = url.replace(placeholder, quote(value, safe=""))
    return url
