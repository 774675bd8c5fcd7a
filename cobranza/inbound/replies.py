"""A customer's reply read back by IMAP -> a `Reply` record (pure: no mailbox, no clock).

`reply_from(msg, sent, customers_by_address, received)` matches the message to one of
ours by `In-Reply-To`, then `References`, else to a customer by its From address (the
Clientes Email and Email CC columns); an unknown sender gives None. The excerpt is the
new text only: the plain-text part (else the HTML part turned into text, nothing in it
evaluated), without quoted lines, the reply header of Gmail, Outlook, Apple Mail (Spanish
or English) and what follows it, nor the signature after "-- ". Auto-replies
(Auto-Submitted, X-Autoreply, Precedence, Exchange's loop header, out-of-office subjects)
are marked `automatic`. A bad charset or header never raises: the text is decoded with
replacement characters.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from email.message import EmailMessage, Message
from email.utils import getaddresses
from functools import cache
from html.parser import HTMLParser

import pandas as pd

from cobranza.book.addresses import mailbox_key, split_addresses
from cobranza.inbound.records import Reply

MAX_EXCERPT = 500

# Headers that mark a message written by a machine, not a person (RFC 3834 and the
# common non-standard ones).
_AUTO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-MS-Exchange-Inbox-Rules-Loop")
_AUTO_PRECEDENCE = ("auto_reply", "bulk", "junk")
_AUTO_SUBJECT = re.compile(
    r"^\s*(respuesta autom[aá]tica|fuera de la oficina|automatic reply|out of (the )?office"
    r"|auto(matic)?[- ]?reply|autorespuesta)\b", re.IGNORECASE)

# Where the quoted message starts: everything from such a line on is not new text.
_SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(mensaje original|original message|mensaje reenviado|forwarded message)"
    r"\s*-{2,}|_{8,})\s*$", re.IGNORECASE)
# a date (digits) between "El"/"On" and "escribió:"/"wrote:" at the end of a line
_ATTRIBUTION = re.compile(r"\s*(el|on)\s.{0,300}\d.{0,300}(escribió|wrote)\s*:\s*",
                          re.IGNORECASE)
_OPENS_ATTRIBUTION = re.compile(r"\s*(el|on)\s", re.IGNORECASE)
_FROM_LINE = re.compile(r"^\s*\*?\s*(de|from)\s*:", re.IGNORECASE)
_SENT_LINE = re.compile(r"^\s*\*?\s*(enviado( el)?|sent|fecha|date)\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(r"^--\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_IDS = re.compile(r"<([^<>\s]+)>")
# Our Message-ID is "<cobranza.{ledger id, other characters as '-'}@domain>"
# (sync.mail.transport.message_id_header); both sides are compared in that form.
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


def reply_from(
    msg: EmailMessage,
    sent: Mapping[str, tuple[str, str]],
    customers_by_address: Mapping[str, str],
    received: datetime,
) -> Reply | None:
    """The Reply a message is, or None when it answers nothing of ours and its sender is
    not in Clientes. `sent`: our message id (the ledger's, or the Message-ID header) ->
    (customer, notice codes); `customers_by_address`: `mailbox_key` -> Cliente."""
    sender = sender_address(msg)
    customer, notice = _answered(msg, sent)
    if not customer:
        customer = customers_by_address.get(mailbox_key(sender), "")
    if not customer:
        return None
    return Reply(
        message_id=header_text(msg, "Message-ID").strip(),
        received=received,
        customer=customer,
        sender=sender,
        subject=one_line(header_text(msg, "Subject")),
        excerpt=excerpt(body_text(msg)),
        notice=notice,
        automatic=is_automatic(msg),
    )


def reply_matcher(sent: Callable[[], Mapping[str, tuple[str, str]]], customers: pd.DataFrame
                  ) -> Callable[[Message, str, datetime], Reply | None]:
    """The `classify` hook for one cycle: `reply_from` against the notices that went out
    (`sent()`, e.g. `Ledger.sent_index`, asked once, only when a message comes) and the
    Clientes addresses. The IMAP reader parses with the compat32 policy (flufl.bounce's);
    headers are decoded here with the modern one."""
    @cache
    def known() -> tuple[Mapping[str, tuple[str, str]], dict[str, str]]:
        return sent(), customers_by_address(customers)

    def match(msg: Message, _message_id: str, received: datetime) -> Reply | None:
        modern = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
        return reply_from(modern, *known(), received)

    return match


def _answered(msg: Message, sent: Mapping[str, tuple[str, str]]) -> tuple[str, str]:
    """(customer, codes) of our message this one answers: In-Reply-To first, then the
    References from the newest; ("", "") when none is ours."""
    ours = {message_key(k): v for k, v in sent.items()}
    references = _IDS.findall(header_text(msg, "References"))
    for found in [*_IDS.findall(header_text(msg, "In-Reply-To")), *reversed(references)]:
        hit = ours.get(message_key(found))
        if hit is not None:
            return hit
    return "", ""


def message_key(message_id: str) -> str:
    """The comparable form of one of our ids: the ledger's id ("mora_45-3f2a...") and the
    header we sent it under ("<cobranza.mora-45-3f2a...@acme.mx>") give the same key."""
    text = message_id.strip().strip("<>")
    local = text.rpartition("@")[0] if "@" in text else text
    return _UNSAFE.sub("-", local.removeprefix("cobranza.")).lower()


def customers_by_address(customers: pd.DataFrame) -> dict[str, str]:
    """`mailbox_key` -> Cliente for every address in the Email and Email CC columns (the
    first customer listing an address wins)."""
    out: dict[str, str] = {}
    for customer, emails, cc in zip(customers["customer"], customers["emails"],
                                    customers["cc"], strict=True):
        for address in (*split_addresses(str(emails))[0], *split_addresses(str(cc))[0]):
            out.setdefault(mailbox_key(address), str(customer))
    return out


def sender_address(msg: Message) -> str:
    """The From address, lowercase ("" when there is none)."""
    pairs = getaddresses([header_text(msg, "From")])
    return pairs[0][1].strip().lower() if pairs else ""


def header_text(msg: Message, name: str) -> str:
    """A header decoded (RFC 2047); "" when missing or beyond repair."""
    try:
        value = msg.get(name)
        return "" if value is None else str(value)
    except Exception:  # a malformed header of someone else's message never stops the run
        return ""


def one_line(text: str) -> str:
    return " ".join(_CONTROL.sub(" ", text).split())


def is_automatic(msg: Message) -> bool:
    """An auto-reply: RFC 3834 Auto-Submitted (anything but "no"), the non-standard
    headers of auto-responders and Exchange, a Precedence of bulk mail, or a subject an
    out-of-office assistant writes."""
    submitted = header_text(msg, "Auto-Submitted").strip().lower()
    if submitted and submitted != "no":
        return True
    if any(msg.get(name) is not None for name in _AUTO_HEADERS):
        return True
    if header_text(msg, "Precedence").strip().lower() in _AUTO_PRECEDENCE:
        return True
    return bool(_AUTO_SUBJECT.match(header_text(msg, "Subject")))


# -- body ------------------------------------------------------------------------------

def body_text(msg: Message) -> str:
    """The text of the message: its text/plain part, else its text/html part as text."""
    plain = html = None
    for part in _parts(msg):
        if part.get_content_maintype() != "text" or _is_attachment(part):
            continue
        subtype = part.get_content_subtype()
        if subtype == "plain" and plain is None:
            plain = part
        elif subtype == "html" and html is None:
            html = part
    if plain is not None:
        return decoded(plain)
    return html_to_text(decoded(html)) if html is not None else ""


def _parts(msg: Message) -> Iterable[Message]:
    return msg.walk() if msg.is_multipart() else (msg,)


def _is_attachment(part: Message) -> bool:
    return str(part.get("Content-Disposition", "")).strip().lower().startswith("attachment")


def decoded(part: Message) -> str:
    """A text part's payload decoded (transfer encoding, then charset); an unknown or
    wrong charset falls back to UTF-8, then Windows-1252, never raising."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return ""
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "us-ascii").lower()
    if charset in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii"):
        charset = "cp1252"  # mail clients label Windows-1252 text so; a superset of both
    for name in (charset, "utf-8"):
        try:
            return payload.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", errors="replace")


class _TextOf(HTMLParser):
    """HTML -> text: the character data, with a line break for each block; scripts,
    styles and quoted blocks (<blockquote>, Gmail's gmail_quote) are left out. Nothing
    is fetched or run; entities are decoded by the parser (convert_charrefs)."""

    _BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
               "table", "ul", "ol", "pre"}
    _VOID = {"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr"}
    _HIDDEN = {"script", "style", "head", "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # open tags: (name, hides its content)

    @property
    def hidden(self) -> bool:
        return any(hides for _, hides in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.out.append("\n")
        if tag == "hr":
            self.out.append("________\n")  # Outlook's reply separator, as in its text part
        if tag in self._VOID:
            return
        classes = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
        hides = tag in self._HIDDEN or "gmail_quote" in classes
        self.stack.append((tag, hides))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):  # tolerate unclosed inner tags
            if self.stack[i][0] == tag:
                del self.stack[i:]
                break
        if tag in self._BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.out.append(data)


def html_to_text(html: str) -> str:
    parser = _TextOf()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # malformed markup: keep what was read
        pass
    return "".join(parser.out)


# -- new text --------------------------------------------------------------------------

def new_text(text: str) -> str:
    """The lines written in this message: up to the first reply header, separator or
    signature delimiter, without lines quoted with ">"."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _SIGNATURE.match(line) or _SEPARATOR.match(line) or _starts_quote(lines, i):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept)


def _starts_quote(lines: list[str], i: int) -> bool:
    """Line i begins a reply header: "El …, X <x@y> escribió:" / "On … wrote:" (which
    Gmail and Apple Mail wrap over up to three lines), or Outlook's "De: …" followed by
    "Enviado: …" / "From: …" followed by "Sent: …"."""
    line = lines[i]
    if _OPENS_ATTRIBUTION.match(line):
        return any(_ATTRIBUTION.fullmatch(" ".join(lines[i:i + n])) for n in (1, 2, 3))
    if _FROM_LINE.match(line):
        return any(_SENT_LINE.match(following) for following in lines[i + 1:i + 4])
    return False


def excerpt(text: str) -> str:
    """Up to MAX_EXCERPT characters of new text on one line (whitespace collapsed), cut
    with "…" when longer."""
    flat = one_line(new_text(text))
    if len(flat) <= MAX_EXCERPT:
        return flat
    return flat[: MAX_EXCERPT - 1].rstrip() + "…"
