"""The payment link of a customer email: Configuración Enlace de pago with its placeholders
({cliente}, {factura}, {importe}, {moneda}) replaced by URL-encoded values."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from urllib.parse import quote

from cobranza.book.money import decimal_text
from cobranza.notices.messages import Line

_PLACEHOLDERS = ("{cliente}", "{factura}", "{importe}", "{moneda}")  # replaced in this order
# What `quote(value, safe="")` leaves as it is: customer codes, invoice numbers, amounts
# and currencies mostly are, and an email builds a link per invoice.
_UNQUOTED = re.compile(r"[A-Za-z0-9_.~-]*")
_COMMA = quote(",", safe="")
_PLACEHOLDER = re.compile("(" + "|".join(map(re.escape, _PLACEHOLDERS)) + ")")


def payment_link(url: str, customer: str, lines: Sequence[Line]) -> str:
    """The link for paying `lines` of `customer`; "" when no link is configured.

    One invoice: its number, balance and currency. Several: their numbers joined by
    commas and, when they share one currency, the sum of their balances; otherwise
    {importe} and {moneda} are left empty (the customer chooses on the payment page).
    The amount is plain digits with a point ("15000.50"), what payment pages expect.
    """
    if not url:
        return ""
    if len(lines) == 1:  # most links: an email has one per invoice
        line = lines[0]
        currency = line.currency
        values = (customer, line.invoice, decimal_text(line.balance, currency), currency)
    else:
        currencies = {ln.currency for ln in lines}
        one = len(currencies) == 1
        currency = next(iter(currencies)) if one else ""
        amount = decimal_text(sum(ln.balance for ln in lines), currency) if one else ""
        values = (customer, tuple(ln.invoice for ln in lines), amount, currency)
    split = _split(url)
    if split is None:
        return _replaced(url, values)
    texts, slots = split
    out = [texts[0]]
    for slot, text in zip(slots, texts[1:], strict=True):
        out += (_quoted(values[slot]), text)
    return "".join(out)


def _replaced(url: str, values: tuple[str, str | tuple[str, ...], str, str]) -> str:
    """Each placeholder of `url` replaced in turn by its value, URL-encoded."""
    for placeholder, value in zip(_PLACEHOLDERS, values, strict=True):
        if placeholder in url:  # most links use one or two of them: quote only those
            url = url.replace(placeholder, _quoted(value))
    return url


@lru_cache(maxsize=16)
def _split(url: str) -> tuple[tuple[str, ...], tuple[int, ...]] | None:
    """`url` around its placeholders: (the texts between them, the value each takes by
    index in `_PLACEHOLDERS`), so a link is one join (with the one-invoice case, ~3x
    faster than four replaces). None when the texts have braces of their own: replacing
    in turn may then form a placeholder out of a blank value ("{{cliente}factura}")."""
    found = _PLACEHOLDER.split(url)
    texts, names = tuple(found[::2]), found[1::2]
    if any("{" in text or "}" in text for text in texts):
        return None
    return texts, tuple(_PLACEHOLDERS.index(name) for name in names)


def _quoted(value: str | tuple[str, ...]) -> str:
    """`value` URL-encoded (every reserved character too); several invoice numbers (a
    tuple) joined by commas. Encoding maps each byte on its own (UTF-8 never puts a
    comma inside a character), so each number is encoded alone and joined by "%2C", the
    comma's code: `quote` of the whole list costs a Python step per byte."""
    if type(value) is tuple:
        return _COMMA.join(map(_quoted, value))
    return value if _UNQUOTED.fullmatch(value) else quote(value, safe="")
