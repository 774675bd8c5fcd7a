"""Which ledger: SQLite beside the workbooks, or PostgreSQL at COBRANZA_LEDGER_URL.

Kept apart from `sync.ledger.postgres` so that choosing SQLite never imports psycopg (the
ribbon's functions open workbooks many times a session).
"""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

from sync.errors import CobranzaError

URL_ENV = "COBRANZA_LEDGER_URL"
LEDGER_URL_HELP = ("registro de envíos compartido en PostgreSQL, postgresql://usuario@servidor/"
                   "base (predeterminado: COBRANZA_LEDGER_URL; sin ella, SQLite junto al libro)")


def redacted(url: str) -> str:
    """The URL as it may be shown: any password replaced by ***."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "(URL no válida)"
    if parts.password is None:
        return re.sub(r"(password=)[^&\s]*", r"\1***", url)
    host = parts.netloc.rsplit("@", 1)[1]
    netloc = f"{parts.username or ''}:***@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def ledger_url(explicit: str | None = None) -> str | None:
    """The PostgreSQL ledger chosen by --ledger-url or COBRANZA_LEDGER_URL (None: SQLite)."""
    url = explicit or os.environ.get(URL_ENV, "").strip() or None
    if url is not None and not url.startswith(("postgresql://", "postgres://")):
        raise CobranzaError(
            f"El registro de envíos {redacted(url)} no es una URL de PostgreSQL (use "
            "postgresql://usuario@servidor:5432/base en COBRANZA_LEDGER_URL o --ledger-url)."
        )
    return url
