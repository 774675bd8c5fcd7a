"""Non-delivery reports -> `Bounce`: RFC 3464 DSNs (multipart/report with a
message/delivery-status part: Postfix, Exchange Online, Gmail today) and the older
non-standard reports (Exchange's "did not reach the following recipient", Gmail's
"Delivery to the following recipient failed permanently", ...).

A standard DSN is read here, recipient by recipient: only `Action: failed` (or a 5.x.x
`Status`) is a bounce; a delay report (`Action: delayed`, 4.x.x) is not. A report
without a delivery-status part is left to flufl.bounce's detectors (`scan_message`: the
permanently failed addresses of some twenty MTA formats); the reason and the original
message are then looked for in the text. Our own message is recognised by its
Message-ID or its `X-Cobranza-Clave` header (`sync.mail.transport.build_message`), in
an attached message/rfc822 or text/rfc822-headers part or quoted in the text.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.message import Message

from cobranza.inbound.records import Bounce

MAX_REASON = 300
_OUR_ID = re.compile(r"<cobranza\.([A-Za-z0-9._-]+)@[^>\s]*>")
_MESSAGE_ID = re.compile(r"^\s*Message-ID:\s*(<[^>\s]+>)", re.IGNORECASE | re.MULTILINE)
_CLAVE = re.compile(r"^\s*X-Cobranza-Clave:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
# "550 5.1.1 ...", "#550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##", "550-5.1.1 ..."
_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SMTP_REPLY = re.compile(r"#?\b5\d\d[ -]#?5\.\d{1,3}\.\d{1,3}\b[^\n]*")


def bounce_of(msg: Message, message_id: str, received: datetime) -> Bounce | None:
    """The bounce `msg` reports (its first permanently failed recipient), or None when it
    is not a non-delivery report (a delay notice, a reply, anything else)."""
    failures = dsn_failures(msg)
    if failures is None:  # no delivery-status part: a non-standard report, maybe
        reason = text_reason(msg)
        found = sorted(_scanned(msg)) or _named_failure(msg, reason)
        failures = [(a, reason) for a in found]
    if not failures:
        return None
    address, reason = failures[0]
    return Bounce(message_id, received, original_id(msg), address.lower(),
                  one_line(reason or str(msg.get("Subject", ""))))


def dsn_failures(msg: Message) -> list[tuple[str, str]] | None:
    """RFC 3464: (recipient, reason) of each permanently failed recipient; None when
    `msg` has no message/delivery-status part."""
    statuses = [p for p in msg.walk() if p.get_content_type() == "message/delivery-status"]
    if not statuses:
        return None
    out = []
    for part in statuses:
        for fields in _recipient_groups(part):
            action = fields.get("action", "").strip().lower()
            status = fields.get("status", "").strip()
            if action == "failed" or (not action and status.startswith("5")):
                address = _address(fields.get("final-recipient")
                                   or fields.get("original-recipient", ""))
                if address:
                    out.append((address, _diagnostic(fields, status)))
    return out


def _recipient_groups(part: Message) -> list[dict[str, str]]:
    """The per-message and per-recipient field groups of a delivery-status part (the
    email package parses each group as a message; some senders put it as plain text)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        groups = [{k.lower(): str(v) for k, v in block.items()} for block in payload]
    else:
        groups = [_fields(block) for block in re.split(r"\r?\n\s*\r?\n", str(payload))]
    return [g for g in groups if "final-recipient" in g or "original-recipient" in g]


def _fields(block: str) -> dict[str, str]:
    unfolded = re.sub(r"\r?\n[ \t]+", " ", block)
    pairs = (line.split(":", 1) for line in unfolded.splitlines() if ":" in line)
    return {k.strip().lower(): v.strip() for k, v in pairs}


def _address(value: str) -> str:
    """ "rfc822; a@b.com" -> "a@b.com"."""
    text = value.split(";", 1)[-1].strip().strip("<>")
    return text if "@" in text else ""


def _diagnostic(fields: dict[str, str], status: str) -> str:
    """The remote server's words ("550 5.1.1 ... User unknown"), else the status code."""
    code = fields.get("diagnostic-code", "")
    text = code.split(";", 1)[-1] if ";" in code else code
    return text.strip() or (f"estado {status}" if status else "")


def _scanned(msg: Message) -> set[str]:
    """flufl.bounce's permanently failed addresses (bytes) as text."""
    # imported here: its ~20 detectors cost ~10 ms, and every sync imports this module
    # (the ledger's `sent_id`) though only an inbox with a non-standard report scans
    from flufl.bounce import scan_message

    try:
        found = scan_message(msg)
    except Exception:  # noqa: BLE001 - a detector choking on odd input: not a bounce
        return set()
    return {a.decode("ascii", "replace") if isinstance(a, bytes) else str(a) for a in found}


def _named_failure(msg: Message, reason: str) -> list[str]:
    """flufl.bounce's address patterns refuse a hyphen in the domain (its VALID check), so
    a report from a mailer daemon that quotes a permanent 5.x.x reply names the failed
    recipient as the first address in its own text before the returned message."""
    sender = str(msg.get("From", "")).lower()
    if not reason or not any(w in sender for w in ("mailer-daemon", "postmaster")):
        return []
    ours = {a.lower() for a in _ADDRESS.findall(str(msg.get("To", "")))}
    for text in _texts(msg):
        head = re.split(r"^-+ ?(?:Original message|Mensaje original)", text,
                        flags=re.IGNORECASE | re.MULTILINE)[0]
        for address in _ADDRESS.findall(head):
            if address.lower() not in ours:
                return [address]
    return []


def text_reason(msg: Message) -> str:
    """The first SMTP reply with a 5.x.x code quoted in the report's text."""
    for text in _texts(msg):
        if found := _SMTP_REPLY.search(text):
            return found.group(0).strip("# ")
    return ""


def original_id(msg: Message) -> str:
    """Our message's Message-ID (or, failing that, its X-Cobranza-Clave) as the report
    carries it: in an attached message or its headers, else quoted in the text; ""."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822" and isinstance(part.get_payload(), list):
            inner = part.get_payload()[0]
            if found := _ours(str(inner.get("Message-ID", "")), str(inner.get(
                    "X-Cobranza-Clave", ""))):
                return found
        elif kind == "text/rfc822-headers" and (found := _quoted(_text(part))):
            return found
    for text in _texts(msg):
        if found := _quoted(text):
            return found
    return ""


def _quoted(text: str) -> str:
    mid, clave = _MESSAGE_ID.search(text), _CLAVE.search(text)
    return _ours(mid.group(1) if mid else "", clave.group(1) if clave else "")


def _ours(message_id: str, clave: str) -> str:
    """Prefer our own Message-ID form; a bare X-Cobranza-Clave stands for it."""
    message_id = message_id.strip()
    if _OUR_ID.fullmatch(message_id):
        return message_id
    return clave.strip() or message_id


def sent_id(original: str) -> str:
    """The ledger's message id (the X-Cobranza-Clave) behind a bounce's `original_id`."""
    found = _OUR_ID.fullmatch(original.strip())
    return found.group(1) if found else original.strip()


def _texts(msg: Message) -> list[str]:
    """The report's own text parts (not those of the returned message)."""
    out, skip = [], set()
    for part in msg.walk():
        if id(part) in skip:
            continue
        if part.get_content_type() == "message/rfc822":
            skip |= {id(p) for p in part.walk()} - {id(part)}
        elif part.get_content_maintype() == "text" and part.get_content_type() != (
                "text/rfc822-headers"):
            out.append(_text(part))
    return out


def _text(part: Message) -> str:
    raw = part.get_payload(decode=True)
    if raw is None:
        return str(part.get_payload())
    text = raw.decode(part.get_content_charset() or "utf-8", "replace")
    return re.sub(r"<[^>]+>", " ", text) if part.get_content_subtype() == "html" else text


def one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"
