"""The IMAP inbox: each cycle reads the new messages of one folder, records what each is
(`cobranza.inbound.classify`: a bounce, a reply, or neither) in the ledger, and moves it
to `Cobranza/Procesados`.

Settings: COBRANZA_IMAP_HOST (none: no inbox is read), _PORT, _USER, _SECURITY (`ssl`
on 993 by default, `starttls` on 143, `none`), _FOLDER (INBOX), the password from
COBRANZA_IMAP_PASSWORD or the system keyring, or COBRANZA_IMAP_AUTH=oauth2 (SASL
XOAUTH2). TLS is verified like SMTP's (`sync.mail.transport.tls_context`, plus
COBRANZA_IMAP_CA_FILE or else COBRANZA_SMTP_CA_FILE); `starttls` never goes on in plain
text.

Exactly once: a message is recorded in the ledger (by its Message-ID, or a hash of its
bytes when it has none) before it is moved, so a failed move only leaves it where it is:
the next cycle skips it by the ledger and tries the move again. Nothing is ever deleted
but the one UID just copied (COPY + \\Deleted + UID EXPUNGE when the server lacks MOVE).
An inbox that cannot be read is a Spanish `InboxUnavailable`; the cycle goes on.
"""

from __future__ import annotations

import contextlib
import email
import hashlib
import imaplib
import os
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.message import Message
from email.policy import compat32

from cobranza.inbound.classify import ReplyFrom, classify
from cobranza.inbound.records import Bounce, Reply
from sync.errors import CobranzaError
from sync.ledger.store import Ledger
from sync.mail.oauth import (
    KEYRING_SERVICE,
    OAuthConfigError,
    OAuthError,
    TokenSource,
    keyring_secret,
    token_source,
    xoauth2,
)
from sync.mail.transport import (
    _certificate_problem,
    clean_header,
    network_problem,
    tls_context,
)

SECURITY = ("ssl", "starttls", "none")
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
AUTH = ("password", "oauth2")
PROCESSED = ("Cobranza", "Procesados")
MAX_PER_CYCLE = 500  # messages read per cycle; the rest wait for the next one


class ImapConfigError(CobranzaError):
    """The COBRANZA_IMAP_* settings are unusable."""


class InboxUnavailable(CobranzaError):
    """The mailbox could not be read this cycle (Spanish, no secrets)."""


@dataclass(frozen=True)
class ImapSettings:
    host: str
    port: int
    user: str
    security: str = "ssl"
    password: str = field(default="", repr=False)
    folder: str = "INBOX"
    auth: str = "password"
    ca_file: str = ""
    timeout: float = 30.0


def imap_settings(env: Mapping[str, str] = os.environ) -> ImapSettings | None:
    """COBRANZA_IMAP_* -> settings; None when no host is set (no inbox is read)."""
    host = env.get("COBRANZA_IMAP_HOST", "").strip()
    if not host:
        return None
    security = (env.get("COBRANZA_IMAP_SECURITY") or "ssl").strip().lower()
    if security not in SECURITY:
        raise ImapConfigError(
            f'COBRANZA_IMAP_SECURITY "{security}" no es válido (use ssl, starttls o none).')
    port = (env.get("COBRANZA_IMAP_PORT") or str(DEFAULT_PORTS[security])).strip()
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ImapConfigError(f'COBRANZA_IMAP_PORT "{port}" no es un puerto (use 993).')
    auth = (env.get("COBRANZA_IMAP_AUTH") or "password").strip().lower()
    if auth not in AUTH:
        raise ImapConfigError(
            f'COBRANZA_IMAP_AUTH "{auth}" no es válido (use password u oauth2).')
    user = env.get("COBRANZA_IMAP_USER", "").strip()
    if not user:
        raise ImapConfigError("Falta COBRANZA_IMAP_USER: el usuario del buzón que recibe "
                              "los rebotes y las respuestas.")
    password = ""
    if auth == "password":
        password = env.get("COBRANZA_IMAP_PASSWORD") or keyring_secret(user)
        if not password:
            raise ImapConfigError(
                f"Falta la contraseña IMAP del usuario {user}: defina COBRANZA_IMAP_PASSWORD "
                f'o guárdela en el llavero del sistema (servicio "{KEYRING_SERVICE}").')
    ca_file = (env.get("COBRANZA_IMAP_CA_FILE") or env.get("COBRANZA_SMTP_CA_FILE") or "").strip()
    folder = (env.get("COBRANZA_IMAP_FOLDER") or "INBOX").strip()
    return ImapSettings(host, int(port), user, security, password, folder, auth, ca_file)


# ------------------------------------------------------------------- OAuth2
def oauth_source(env: Mapping[str, str]) -> TokenSource:
    """The token source of SMTP's OAuth2 (the same COBRANZA_OAUTH_* options and keyring
    names): one mailbox, one app registration, one consent."""
    try:
        return token_source(env)
    except OAuthConfigError as exc:
        raise InboxUnavailable(f"OAuth2 del buzón IMAP: {exc}") from None


# ------------------------------------------------------------------- the session
def connect(settings: ImapSettings, env: Mapping[str, str] = os.environ) -> imaplib.IMAP4:
    """An open, logged-in session; InboxUnavailable (Spanish) when it cannot be had."""
    s, client = settings, None
    try:
        context = tls_context(s.ca_file) if s.security != "none" else None
        if s.security == "ssl":
            client = imaplib.IMAP4_SSL(s.host, s.port, ssl_context=context, timeout=s.timeout)
        else:
            client = imaplib.IMAP4(s.host, s.port, timeout=s.timeout)
            if s.security == "starttls":
                client.starttls(ssl_context=context)  # raises when not offered: no fallback
        login(client, s, env)
        refresh_capabilities(client)
        return client
    except InboxUnavailable:
        _logout(client)
        raise
    except (OSError, imaplib.IMAP4.error) as exc:
        _logout(client)
        raise InboxUnavailable(_scrub(describe_imap_error(exc, s), s)) from None


def login(client: imaplib.IMAP4, s: ImapSettings, env: Mapping[str, str]) -> None:
    if s.auth != "oauth2":
        client.login(s.user, s.password)
        return
    source = oauth_source(env)
    for fresh in (False, True):  # a refused token is fetched again once, as for SMTP
        try:
            client.authenticate("XOAUTH2", sasl_once(xoauth2(s.user, source.token(fresh))))
            return
        except OAuthError as exc:
            raise InboxUnavailable(source.scrub(f"OAuth2 del buzón IMAP: {exc}")) from None
        except imaplib.IMAP4.error as exc:
            if fresh:
                raise InboxUnavailable(source.scrub(
                    f"el servidor IMAP {s.host}:{s.port} rechazó el token OAuth2 de {s.user} "
                    f"({clean_header(str(exc))}); revise el permiso de la aplicación sobre "
                    "el buzón y que IMAP esté habilitado en él")) from None


def sasl_once(sasl: str) -> Callable[[bytes], bytes]:
    """imaplib's answer to each server challenge: the XOAUTH2 response to the first; to
    the error challenge of a refused token (a JSON status), the empty response RFC 7628
    asks for, which ends the exchange with NO; the token is never sent twice."""
    sent = False

    def answer(_challenge: bytes) -> bytes:
        nonlocal sent
        if sent:
            return b""
        sent = True
        return sasl.encode()

    return answer


def refresh_capabilities(client: imaplib.IMAP4) -> None:
    """imaplib keeps the capabilities announced before the login; servers announce MOVE
    and UIDPLUS only after it (Dovecot does)."""
    typ, data = client.capability()
    if typ == "OK" and data and data[0]:
        client.capabilities = tuple(data[0].decode("ascii", "replace").upper().split())


def describe_imap_error(exc: BaseException, s: ImapSettings) -> str:
    """Why the mailbox could not be opened, in Spanish."""
    where = f"{s.host}:{s.port}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (f"no se pudo verificar el certificado del servidor IMAP {where} "
                f"({_certificate_problem(exc, s.host)}); no se envió el usuario ni la "
                "contraseña. Si su servidor usa un certificado de una autoridad propia, "
                "indique el archivo de esa autoridad en COBRANZA_IMAP_CA_FILE")
    if unreachable := network_problem(exc, "IMAP", s.host, where):
        return unreachable
    text = clean_header(str(exc))
    if isinstance(exc, imaplib.IMAP4.error) and "starttls" in text.lower():
        return (f"el servidor IMAP {where} no ofrece STARTTLS; no se envía nada sin cifrar "
                "(use COBRANZA_IMAP_SECURITY=ssl si el servidor usa SSL desde el inicio)")
    if isinstance(exc, imaplib.IMAP4.error):
        return f"el servidor IMAP {where} rechazó el usuario o la contraseña de {s.user} ({text})"
    return f"servidor IMAP no disponible ({where}: {text})"


def _scrub(text: str, s: ImapSettings) -> str:
    return text.replace(s.password, "********") if s.password else text


def _logout(client: imaplib.IMAP4 | None) -> None:
    if client is not None:
        with contextlib.suppress(OSError, imaplib.IMAP4.error):
            client.logout()


# ------------------------------------------------------------------- one cycle
@dataclass
class InboxRead:
    """What one cycle read: the messages handled now, what they were, moves that failed."""

    handled: int = 0
    bounces: int = 0
    replies: int = 0
    unmoved: int = 0


def check_inbox(
    ledger: Ledger, now: datetime, env: Mapping[str, str] = os.environ,
    reply_from: ReplyFrom | None = None,
) -> tuple[InboxRead | None, str]:
    """One cycle's inbox step for `run_cycle`: (what was read, "") or (None, the Spanish
    reason it was not); (None, "") when no inbox is configured. Never raises for the
    mailbox or its settings: sending goes on regardless."""
    try:
        settings = imap_settings(env)
        if settings is None:
            return None, ""
        return read_inbox(settings, ledger, now, reply_from, env), ""
    except (ImapConfigError, InboxUnavailable) as exc:
        return None, str(exc)


def read_inbox(
    settings: ImapSettings, ledger: Ledger, now: datetime,
    reply_from: ReplyFrom | None = None, env: Mapping[str, str] = os.environ,
) -> InboxRead:
    """Handle the folder's messages once each (see the module doc)."""
    client = connect(settings, env)
    try:
        return _read(client, settings, ledger, now, reply_from)
    except (OSError, imaplib.IMAP4.error) as exc:
        raise InboxUnavailable(_scrub(
            f"se perdió la conexión con el servidor IMAP {settings.host}:{settings.port} "
            f"({clean_header(str(exc))})", settings)) from None
    finally:
        _logout(client)


def _read(client: imaplib.IMAP4, s: ImapSettings, ledger: Ledger, now: datetime,
          reply_from: ReplyFrom | None) -> InboxRead:
    if client.select(quote(s.folder))[0] != "OK":
        raise InboxUnavailable(f'la carpeta "{s.folder}" no existe en el buzón {s.user} '
                               "(revise COBRANZA_IMAP_FOLDER)")
    target = processed_folder(client)
    typ, data = client.uid("SEARCH", None, "UNDELETED")
    uids = data[0].split()[:MAX_PER_CYCLE] if typ == "OK" and data and data[0] else []
    read = InboxRead()
    for uid in uids:
        typ, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
        raw = next((p[1] for p in parts or [] if isinstance(p, tuple)), None)
        if typ != "OK" or raw is None:
            continue  # expunged meanwhile by another client
        msg = email.message_from_bytes(raw, policy=compat32)
        message_id = inbound_id(msg, raw)
        if not ledger.inbound_seen(message_id):
            record = classify(msg, message_id, now, reply_from)
            if ledger.keep_inbound(message_id, record, now):
                read.handled += 1
                read.bounces += isinstance(record, Bounce)
                read.replies += isinstance(record, Reply)
        read.unmoved += not move(client, uid, target)
    return read


def inbound_id(msg: Message, raw: bytes) -> str:
    """The message's Message-ID, or a stable id from its bytes when it has none."""
    found = clean_header(str(msg.get("Message-ID", "") or ""))
    return found or f"<sha256.{hashlib.sha256(raw).hexdigest()[:40]}@sin-message-id>"


def quote(name: str) -> str:
    """An IMAP quoted string (imaplib sends arguments as they are)."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def processed_folder(client: imaplib.IMAP4) -> str:
    """`Cobranza<sep>Procesados` with the server's hierarchy separator, created when
    missing (a server that refuses leaves the messages in place: `move` fails)."""
    typ, data = client.list('""', '""')
    found = re.search(rb'\) "(.)"', data[0]) if typ == "OK" and data and data[0] else None
    separator = found.group(1).decode() if found else "/"
    name = separator.join(PROCESSED)
    typ, data = client.list('""', quote(name))
    if typ != "OK" or not data or data[0] is None:
        client.create(quote(name))
    return name


def move(client: imaplib.IMAP4, uid: bytes, target: str) -> bool:
    """Move one message (by UID) to `target`; False when the server refused. Without
    MOVE: COPY, flag \\Deleted and expunge that UID only (UIDPLUS); a server without
    UIDPLUS keeps it flagged \\Deleted (never an EXPUNGE of other messages)."""
    if "MOVE" in client.capabilities:
        return client.uid("MOVE", uid, quote(target))[0] == "OK"
    if client.uid("COPY", uid, quote(target))[0] != "OK":
        return False
    client.uid("STORE", uid, "+FLAGS.SILENT", "(\\Deleted)")
    if "UIDPLUS" in client.capabilities:
        client.uid("EXPUNGE", uid)
    return True
