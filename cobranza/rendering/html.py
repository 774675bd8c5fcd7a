"""The HTML part of a customer email, made from its rendered plain text.

Pure: text in, text out. Mail clients drop `<style>` blocks and block remote files, and
the text comes from the workbook, so the page is built from our own fixed markup with
inline `style` attributes only (no `<style>`, scripts, images, fonts, forms or remote
resources) and every value (template text, customer names, invoice numbers, links) goes
through `html.escape(quote=True)`. Only http(s) addresses become links.

Layout, one column of at most 640 px: the company's name; the paragraphs of the text
before the PIE; the email's invoices as a table (Factura, Vencimiento, Días vencidos,
Saldo, Moneda, then one total row per currency); the payment link as a button; the PIE's
paragraphs. Without a PIE the table follows the whole text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from html import escape

from cobranza.book.money import format_amount
from cobranza.notices.messages import Line
from cobranza.notices.statement import listed
from cobranza.plural import count
from cobranza.rendering.render import Rendered, dmy, totals

COLUMNS = ("Factura", "Vencimiento", "Días vencidos", "Saldo", "Moneda")
RIGHT = frozenset({"Días vencidos", "Saldo"})  # numbers line up on the right
PAY = "Pagar en línea"

_FONT = ("font-family:-apple-system,BlinkMacSystemFont,'Segoe UI',Roboto,Helvetica,Arial,"
         "sans-serif;")
_PAGE = (f"max-width:640px;margin:0 auto;padding:20px 12px;background-color:#ffffff;{_FONT}"
         "font-size:15px;line-height:1.5;color:#1f2933;")
_COMPANY = ("margin:0 0 16px 0;padding-bottom:8px;border-bottom:2px solid #0b5cad;"
            "font-size:18px;font-weight:bold;color:#0b5cad;")
_PARAGRAPH = "margin:0 0 12px 0;"
_TABLE = (f"width:100%;max-width:640px;border-collapse:collapse;margin:8px 0 16px 0;{_FONT}"
          "font-size:12px;")  # five columns fit a 360 px phone
_CELL = "padding:6px 4px;border-bottom:1px solid #d9dee4;vertical-align:top;"
_HEAD = "background-color:#eef2f7;font-weight:bold;"
_TOTAL = "font-weight:bold;border-top:2px solid #1f2933;"
# no nowrap: on a phone "$2,000.20 MXN" may break before its code, the amount never does
_LEFT, _RIGHT = "text-align:left;", "text-align:right;"
_BUTTON = ("display:inline-block;padding:12px 24px;background-color:#0b5cad;color:#ffffff;"
           "text-decoration:none;font-weight:bold;border-radius:4px;")
_LINK = "color:#0b5cad;word-break:break-all;"  # a long payment link wraps on a phone

# An http(s) address in the text; punctuation right after it ends the sentence, not it.
_WEB = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)
_AFTER_URL = ".,;:!?)]}"
_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


def email_html(rendered: Rendered, lines: Sequence[Line], link: str, company: str) -> str:
    """The whole HTML document of a customer email. `lines`: the email's invoices (each
    once); `link`: its payment link ("" = none)."""
    cut = len(rendered.body) if rendered.footer_at is None else rendered.footer_at
    blocks = (
        f'<div style="{_COMPANY}">{escape(company)}</div>' if company.strip() else "",
        paragraphs(rendered.body[:cut]),
        invoice_table(lines),
        pay_button(link),
        paragraphs(rendered.body[cut:]),
    )
    content = "\n".join(b for b in blocks if b)
    return (
        '<!DOCTYPE html>\n<html lang="es">\n<head>\n'
        '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(rendered.subject)}</title>\n</head>\n"
        f'<body style="margin:0;padding:0;background-color:#f3f4f6;">\n'
        f'<div style="{_PAGE}">\n{content}\n</div>\n</body>\n</html>\n'
    )


def paragraphs(text: str) -> str:
    """Each block of text between blank lines as a <p>, its line breaks kept as <br>."""
    out = []
    for block in _BLANK_LINE.split(text.replace("\r\n", "\n")):
        rows = [row.rstrip() for row in block.strip("\n").split("\n")]
        if any(rows):
            out.append(f'<p style="{_PARAGRAPH}">' + "<br>\n".join(map(linked, rows)) + "</p>")
    return "\n".join(out)


def linked(text: str) -> str:
    """One line of text, escaped, its http(s) addresses as links."""
    out, at = [], 0
    for found in _WEB.finditer(text):
        url = found.group().rstrip(_AFTER_URL)
        if len(url) <= len("https://"):
            continue
        shown = escape(url, quote=True)
        out.append(escape(text[at:found.start()], quote=True))
        out.append(f'<a href="{shown}" style="{_LINK}">{shown}</a>')
        at = found.start() + len(url)
    out.append(escape(text[at:], quote=True))
    return "".join(out)


def invoice_table(lines: Sequence[Line]) -> str:
    """The invoices, one row each, oldest due date first (as a statement reads), then the
    total balance of each currency (exact: a sum of minor units, as the templates'
    `totales`). Días vencidos as the workbook has it (negative: days left). Like the
    text, at most the invoices a body lists, then a row counting the rest; the totals are
    over all of them."""
    if not lines:
        return ""
    shown, more = listed(lines)
    head = "".join(_cell("th", name, _HEAD, name) for name in COLUMNS)
    rows = [f"<tr>{head}</tr>"]
    for line in sorted(shown, key=_by_due):
        values = (line.invoice, dmy(line.due), str(int(line.days_overdue)),
                  format_amount(line.balance, line.currency), line.currency)
        rows.append("<tr>" + "".join(_cell("td", v, "", name)
                                      for name, v in zip(COLUMNS, values, strict=True)) + "</tr>")
    if more:
        rest = f"y {count(more, 'factura más', 'facturas más')}: vea el estado de cuenta adjunto."
        rows.append(f'<tr><td colspan="5" style="{_CELL}{_LEFT}">{escape(rest)}</td></tr>')
    for total in totals(tuple(lines)):
        label = f'<td colspan="3" style="{_CELL}{_TOTAL}{_LEFT}">Total</td>'
        rows.append(f"<tr>{label}{_cell('td', total['saldo'], _TOTAL, 'Saldo')}"
                    f"{_cell('td', total['moneda'], _TOTAL)}</tr>")
    return (f'<table cellspacing="0" cellpadding="0" style="{_TABLE}">\n'
            + "\n".join(rows) + "\n</table>")


def _by_due(line: Line) -> tuple[bool, date, str]:
    return line.due is None, line.due or date.min, line.invoice


def _cell(tag: str, value: str, style: str, column: str = "") -> str:
    align = _RIGHT if column in RIGHT else _LEFT
    return f'<{tag} style="{_CELL}{style}{align}">{escape(value, quote=True)}</{tag}>'


def pay_button(link: str) -> str:
    """The payment link as a button; nothing unless it is one whole http(s) address."""
    if not link or _WEB.fullmatch(link) is None:
        return ""
    return (f'<p style="margin:4px 0 20px 0;"><a href="{escape(link, quote=True)}" '
            f'style="{_BUTTON}">{escape(PAY)}</a></p>')
