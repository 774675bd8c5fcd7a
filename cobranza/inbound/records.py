"""The records an inbound message becomes, shared by the IMAP reader (sync/mail), the
ledger that keeps them (each inbound message is handled once, by its Message-ID) and the
output sheets and digests built from them (Envíos, Alertas, Respuestas).

Pure data: nothing here reads a mailbox. Every text field is plain text taken from the
message (never evaluated, never written as a formula: the sheet writer stores text).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Bounce:
    """A non-delivery report (RFC 3464 DSN or a provider's own format) for a message of
    ours: the failed recipient and the remote server's reason."""

    message_id: str  # the report's own Message-ID (handled once)
    received: datetime
    original_id: str  # our Message-ID of the message that bounced ("" when not found)
    address: str  # the failed recipient, lowercase
    reason: str  # the remote server's diagnostic, one line, e.g. "550 5.1.1 User unknown"


@dataclass(frozen=True)
class Reply:
    """A customer's answer to one of our messages, or a message from an address known in
    Clientes. `automatic` marks auto-replies (Auto-Submitted, out of office)."""

    message_id: str
    received: datetime
    customer: str  # Clientes Cliente ("" when the sender is unknown)
    sender: str  # the From address, lowercase
    subject: str
    excerpt: str  # up to 500 characters of new text, quoted text removed
    notice: str = ""  # the notice code(s) of our message it answers ("" when matched by sender)
    automatic: bool = False


@dataclass(frozen=True)
class Inbound:
    """Everything read back so far for one workbook (from the ledger), oldest first."""

    bounces: tuple[Bounce, ...] = field(default_factory=tuple)
    replies: tuple[Reply, ...] = field(default_factory=tuple)
