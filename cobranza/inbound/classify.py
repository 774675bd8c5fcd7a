"""What an inbound message is: a bounce, a customer's reply, or neither (ignored, still
handled once and moved). The one dispatch the IMAP reader calls."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import Message

from cobranza.inbound.bounces import bounce_of
from cobranza.inbound.records import Bounce, Reply

# A reply recogniser: (message, its id, when it was read) -> Reply or None. The replies
# part plugs its `reply_from` in here; until then nothing is read as a reply.
ReplyFrom = Callable[[Message, str, datetime], Reply | None]


def classify(
    msg: Message, message_id: str, received: datetime, reply_from: ReplyFrom | None = None
) -> Bounce | Reply | None:
    """A non-delivery report first (it may quote a customer's address and our subject,
    which would otherwise look like a reply), then a reply, else None."""
    if bounce := bounce_of(msg, message_id, received):
        return bounce
    return reply_from(msg, message_id, received) if reply_from is not None else None
