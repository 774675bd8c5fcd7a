"""Mail transports and message building.

`build_message` makes the exact RFC 5322 message (headers, plain-text body and its
HTML alternative, attachments); a `Transport` delivers it. Two transports:

* `OutboxTransport` writes ``<timestamp>-<message_id>.eml`` files into
  ``<workbook dir>/salida/`` (the default when no SMTP is configured; ``cobranza demo``).
* `SmtpTransport` sends over ONE reused SMTP connection per batch, opened by yagmail.

Failures are classified for the ledger: `TransportDown` (cannot connect, verify the
server's certificate or log in: stop the batch, retry later), `TransientSendError` (4xx,
or a failure before the data went out: retry later), `PermanentSendError` (5xx, bad
address: final error), `UncertainSendError` (the connection broke while the message data
was being accepted: it may have been delivered, so it is never resent). A message counts
as delivered only when the server's reply to the end of DATA is 2xx.

Addresses follow `cobranza.book.addresses`: domains travel in IDNA form in the envelope and
the headers; a non-ASCII local part needs a server that offers SMTPUTF8
(`Transport.supports_smtputf8`), and such a message is serialized as UTF-8.
With ``COBRANZA_SMTP_AUTH=oauth2`` the login is SASL XOAUTH2 with a token from
`sync.mail.oauth` (refreshed once when the server refuses it).
No exception text, repr or log line ever contains the SMTP password, an OAuth2 client
secret, refresh token or access token (`SmtpTransport.scrub`).
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import Policy
from email.utils import (
    format_datetime,
    getaddresses,
    parseaddr,
    parsedate_to_datetime,
)
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from cobranza.book.addresses import ascii_domain, is_valid, needs_smtputf8, wire_form
from sync.errors import CobranzaError
from sync.mail.policy import MESSAGE

# smtplib, ssl and sync.mail.oauth (urllib.request, http.client) are imported where SMTP
# uses them: a dry run and the outbox folder never do, and every command imports this.
if TYPE_CHECKING:
    import smtplib
    import ssl

    from sync.mail.oauth import TokenSource

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
PDF_TYPE = ("application", "pdf")
SECURITY = ("none", "starttls", "ssl")
AUTH = ("password", "oauth2")
DEFAULT_PORTS = {"none": 25, "starttls": 587, "ssl": 465}
OUTBOX = "salida"
MAX_SUBJECT = 150  # characters; longer subjects are cut with "…"
# Headers are not folded before 998 characters: CPython 3.11's folder drops the space
# between two adjacent RFC 2047 encoded words ("Ferretería López" -> "FerreteríaLópez").
# A subject of at most MAX_SUBJECT characters always fits on one line.
WIRE = MESSAGE.clone(linesep="\r\n", max_line_length=998)  # CRLF, for SMTP
FILE = MESSAGE.clone(max_line_length=998)  # LF, for .eml files


class SendError(CobranzaError):
    """A message could not be delivered; the text is the Spanish reason for Envíos."""


class TransientSendError(SendError):
    """Temporary (SMTP 4xx, timeout): retried later as ``pendiente``."""


class ThrottledError(TransientSendError):
    """The provider asks to slow down (421, 451, an enhanced status 4.7.x or 4.5.3): the
    batch pauses and the next attempt comes after a backoff."""


class TransportDown(TransientSendError):
    """The server cannot be reached or refuses the session: stop the batch."""


class OAuthFailed(TransportDown):
    """No OAuth2 login: no token could be obtained, or the server refused a fresh one."""


class PermanentSendError(SendError):
    """Refused for good (SMTP 5xx, invalid address): recorded as ``error``."""


class UncertainSendError(SendError):
    """The connection broke during DATA: maybe delivered, recorded as ``incierto``."""


class SmtpConfigError(CobranzaError):
    """The COBRANZA_SMTP_* settings are unusable."""


class Transport(Protocol):
    """Delivers built messages. `send` returns a note ("" or refused Cc/extra To)."""

    def serialize(self, msg: EmailMessage) -> bytes:
        """The exact bytes `send` hands on for `msg` (what the archive keeps)."""
        ...

    def send(self, msg: EmailMessage, data: bytes | None = None) -> str:
        """Deliver `msg` as `data` (its `serialize` bytes, made now when None)."""
        ...

    def supports_smtputf8(self) -> bool:
        """Whether a message with a non-ASCII local part can go (may connect: raises
        TransportDown when the server cannot be reached)."""
        ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- message building
def clean_header(text: str) -> str:
    """Header-safe text: CR, LF and other whitespace runs become single spaces."""
    return " ".join(str(text).split())


def parse_address(text: str) -> tuple[str, str]:
    """ "Name <a@b.com>" or "a@b.com" -> (display name, address); PermanentSendError when
    the address is not valid by `cobranza.book.addresses.is_valid`.

    Strict: exactly one address, no line breaks, nothing dropped by the parser.
    """
    try:
        if "\r" in text or "\n" in text or len(getaddresses([text])) != 1:
            raise ValueError(text)
        name, addr = parseaddr(text)
        if not is_valid(addr):
            raise ValueError(addr)
        return clean_header(name), addr
    except (ValueError, IndexError, HeaderParseError):
        raise PermanentSendError(
            f'"{clean_header(text)}" no es una dirección de correo válida (use nombre@dominio.com).'
        ) from None


def header_address(text: str) -> str:
    """One address for a header, as it travels: the domain in IDNA form (an address with
    a non-ASCII local part is only sent as SMTPUTF8, where it is written as is)."""
    name, addr = parse_address(text)
    wire = wire_form(addr)
    if not needs_smtputf8(wire):
        return str(Address(display_name=name, addr_spec=wire))
    # email.headerregistry.Address refuses a non-ASCII local part; this text is safe: a
    # validated dot-atom address and a quoted name without CR/LF
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{wire}>' if name else wire


def reply_address(text: str) -> str:
    """A Reply-To header value for `text`, or "" when there is none to give: only one
    bare valid address (`cobranza.book.addresses.is_valid`: no name, no line break, no
    second address) whose local part is ASCII, so the message needs no SMTPUTF8 for it."""
    address = text.strip()
    if not is_valid(address) or needs_smtputf8(address):
        return ""
    return wire_form(address)


def requires_smtputf8(msg: EmailMessage) -> bool:
    """The message names an address with a non-ASCII local part."""
    return any(needs_smtputf8(a) for h in ("From", "To", "Cc") for a in addresses(msg, h))


def serialized(msg: EmailMessage, base: Policy) -> bytes:
    """The message's bytes; UTF-8 headers (RFC 6532) only when an address needs it."""
    return msg.as_bytes(policy=base.clone(utf8=requires_smtputf8(msg)))


def short_subject(subject: str) -> str:
    text = clean_header(subject)
    return text if len(text) <= MAX_SUBJECT else text[: MAX_SUBJECT - 1].rstrip() + "…"


def message_id_header(message_id: str, sender: str) -> str:
    """Deterministic Message-ID: a resend of the same ledger message is recognizable."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "-", message_id)
    domain = ascii_domain(sender.rpartition("@")[2]) or "cobranza-xl.local"
    return f"<cobranza.{safe}@{domain}>"


def build_message(
    sender: str,
    to: Sequence[str],
    cc: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    when: datetime,
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    notices: Sequence[str] = (),
    html: str = "",
    reply_to: str = "",
) -> EmailMessage:
    """The complete email; no data text can create or alter a header. `notices`: the
    notice codes a customer email carries (header X-Cobranza-Avisos, for support);
    `html`: an HTML version of `body` (then multipart/alternative, attachments around it
    in multipart/mixed); `reply_to`: the customer's collector, so replies reach a person
    (`reply_address`)."""
    if not to:
        raise PermanentSendError("No hay destinatario (Para) para este mensaje.")
    msg = EmailMessage(policy=MESSAGE)  # serialized with CRLF when sent
    msg["From"] = header_address(sender)
    msg["To"] = ", ".join(header_address(a) for a in to)
    if cc:
        msg["Cc"] = ", ".join(header_address(a) for a in cc)
    if reply := reply_address(reply_to):
        msg["Reply-To"] = reply
    msg["Subject"] = short_subject(subject)
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id_header(message_id, parse_address(sender)[1])
    msg["X-Cobranza-Clave"] = clean_header(message_id)
    if notices:
        msg["X-Cobranza-Avisos"] = clean_header(", ".join(notices))
    msg.set_content(body, cte="quoted-printable")
    if html:
        msg.add_alternative(html, subtype="html", cte="quoted-printable")
    for filename, data in attachments:
        kind = PDF_TYPE if filename.lower().endswith(".pdf") else XLSX_TYPE
        msg.add_attachment(data, *kind, filename=clean_header(filename))
    return msg


def addresses(msg: EmailMessage, header: str) -> list[str]:
    value = msg[header]
    return [a.addr_spec for a in value.addresses] if value is not None else []


# ---------------------------------------------------------------- outbox
class OutboxTransport:
    """Writes each message as an .eml file (atomic: temp file + rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __repr__(self) -> str:
        return f"OutboxTransport({str(self.folder)!r})"

    def serialize(self, msg: EmailMessage) -> bytes:
        return serialized(msg, FILE)

    def send(self, msg: EmailMessage, data: bytes | None = None) -> str:
        stamp = parsedate_to_datetime(msg["Date"]).strftime("%Y%m%d-%H%M%S")
        key = re.sub(r"[^A-Za-z0-9._-]", "_", str(msg["X-Cobranza-Clave"] or "mensaje"))
        target = self.folder / f"{stamp}-{key}.eml"
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(self.serialize(msg) if data is None else data)
            os.replace(tmp, target)
        except OSError as exc:
            raise TransportDown(f"No se pudo escribir en la carpeta {self.folder}: {exc}") from None
        return ""

    def supports_smtputf8(self) -> bool:
        return True  # an .eml file carries UTF-8 headers as they are

    def close(self) -> None:
        return None


# ---------------------------------------------------------------- SMTP
@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    security: str = "starttls"  # none | starttls | ssl
    user: str = ""
    password: str = field(default="", repr=False)
    timeout: float = 30.0
    ca_file: str = ""  # extra trusted certificate authorities (PEM), besides the system's
    auth: str = "password"  # password | oauth2 (SASL XOAUTH2 with `oauth`'s token)
    oauth: TokenSource | None = field(default=None, repr=False, compare=False)


def tls_context(ca_file: str = "") -> ssl.SSLContext:
    """Verified TLS: the system's certificate store plus `ca_file`; the server's host
    name is checked against its certificate (ssl.create_default_context does both)."""
    import ssl

    context = ssl.create_default_context()
    if ca_file:
        context.load_verify_locations(cafile=ca_file)
    return context


class SmtpTransport:
    """SMTP over one connection for a whole batch, opened with yagmail.

    yagmail opens the connection (SSL or STARTTLS) with our verifying `tls_context`:
    it passes extra keyword arguments to ``smtplib.SMTP_SSL`` (``context=``) and a dict
    ``smtp_starttls`` to ``starttls(**dict)``. smtplib's STARTTLS raises when the server
    does not offer it, so ``starttls`` never goes on in plain text, and the login comes
    only after TLS is up. We log in on its underlying ``smtplib`` object ourselves
    because yagmail rewrites a user name without "@" to
    "<user>@gmail.com" (breaking "apikey"-style SMTP users) and would fall back to an
    interactive password prompt. We also run the SMTP transaction ourselves instead of
    calling ``yag.send``, because ``yag.send`` rebuilds the MIME message from "contents" (we need
    our exact Message-ID, X-Cobranza-Clave, Cc and attachment), silently retries with
    sleeps after a disconnect (a duplicate risk for exactly-once), and hides which
    recipients the server refused. Doing MAIL/RCPT/DATA step by step tells us whether a
    failure happened before the data was accepted (safe to retry) or during it (uncertain),
    and the reply to the end of DATA says whether the server took the message.
    """

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self._yag = None

    def __repr__(self) -> str:
        s = self.settings
        return f"SmtpTransport({s.host}:{s.port}, {s.security}, user={s.user!r})"

    def scrub(self, text: str) -> str:
        """Remove every secret of the run (the password, the OAuth2 client secret, refresh
        token and each access token) from a text that may end up in Envíos or a log."""
        s = self.settings
        if s.oauth is not None:
            text = s.oauth.scrub(text)
        return text.replace(s.password, "********") if s.password else text

    def _connection(self) -> smtplib.SMTP:
        if self._yag is None:
            import yagmail

            s = self.settings
            yag = None
            try:
                context = tls_context(s.ca_file) if s.security != "none" else None
                yag = yagmail.SMTP(
                    user=None, host=s.host, port=s.port, smtp_ssl=s.security == "ssl",
                    smtp_starttls={"context": context} if s.security == "starttls" else False,
                    smtp_skip_login=True, soft_email_validation=False, timeout=s.timeout,
                    **({"context": context} if s.security == "ssl" else {}),
                )
                yag.login()  # connect (+ verified TLS); the login itself is ours, see class doc
            except OSError as exc:  # smtplib.SMTPException and ssl.SSLError are OSErrors
                if yag is not None:
                    _quit(yag)
                raise TransportDown(self.scrub(describe_connect_error(exc, s))) from None
            self._yag = yag
            self._login(yag)
        return self._yag.smtp

    def _login(self, yag: object) -> None:
        """EHLO (so the server's extensions are known) and AUTH, on the open session."""
        from sync.mail.oauth import OAuthError

        s = self.settings
        try:
            yag.smtp.ehlo_or_helo_if_needed()
            if s.auth == "oauth2":
                self._oauth_login(yag.smtp)
            elif s.user:
                yag.smtp.login(s.user, s.password)
        except OAuthError as exc:
            self.close()
            raise OAuthFailed(self.scrub(str(exc))) from None
        except OSError as exc:
            self.close()
            raise TransportDown(self.scrub(describe_connect_error(exc, s))) from None

    def _oauth_login(self, smtp: smtplib.SMTP) -> None:
        """AUTH XOAUTH2 with the run's token; once more with a fresh token if refused.
        smtplib base64-encodes the initial response; a refusal may come as a 334
        challenge (a JSON error), answered with an empty line, then 535."""
        import smtplib

        from sync.mail.oauth import xoauth2

        s = self.settings
        for fresh in (False, True):
            token = s.oauth.token(fresh=fresh)
            try:
                smtp.auth("XOAUTH2", lambda challenge=None, t=token: (
                    xoauth2(s.user, t) if challenge is None else ""))
                return
            except smtplib.SMTPAuthenticationError as exc:
                refusal = exc
        raise OAuthFailed(self.scrub(
            f"autenticación OAuth2 rechazada por el servidor SMTP para {s.user} "
            f"({server_reply(refusal.smtp_code, refusal.smtp_error)}); revise el permiso "
            "de la aplicación sobre el buzón y que SMTP AUTH esté habilitado en él"))

    def supports_smtputf8(self) -> bool:
        return self._connection().has_extn("smtputf8")

    def close(self) -> None:
        if self._yag is not None:
            _quit(self._yag)
            self._yag = None

    def _lost(self, exc: BaseException, during_data: bool) -> SendError:
        self.close()
        text = self.scrub(f"se perdió la conexión con el servidor SMTP ({exc})")
        if during_data:
            return UncertainSendError(text + "; el mensaje pudo haberse entregado.")
        return TransportDown(text)

    def serialize(self, msg: EmailMessage) -> bytes:
        return serialized(msg, WIRE)

    def send(self, msg: EmailMessage, data: bytes | None = None) -> str:
        """Deliver one message as `data` (its `serialize` bytes, made now when None);
        returns a note naming refused Cc / extra To addresses.

        Only a failure while the data may be on its way is `UncertainSendError`; anything
        raised before the DATA command is a `SendError` that can be retried or is final.
        """
        import smtplib

        smtp = self._connection()
        to, cc = addresses(msg, "To"), addresses(msg, "Cc")
        try:
            data = self.serialize(msg) if data is None else data
            utf8 = requires_smtputf8(msg)
            refused = self._envelope(smtp, addresses(msg, "From")[0], to + cc, utf8)
        except SendError:
            raise
        except smtplib.SMTPResponseException as exc:  # e.g. EHLO refused
            self.close()
            raise TransportDown(self.scrub(server_reply(exc.smtp_code, exc.smtp_error))) from None
        except OSError as exc:
            raise self._lost(exc, during_data=False) from None
        except Exception as exc:  # noqa: BLE001 - nothing that could deliver it went out
            self.close()
            raise TransientSendError(self.scrub(
                f"no se pudo preparar el envío ({type(exc).__name__}: {exc})")) from None
        return self._data(smtp, data, to, refused)

    def _envelope(
        self, smtp: smtplib.SMTP, sender: str, rcpts: list[str], utf8: bool
    ) -> dict[str, tuple[int, bytes]]:
        """MAIL FROM and RCPT TO; returns the refused recipients."""
        smtp.ehlo_or_helo_if_needed()
        if utf8 and not smtp.has_extn("smtputf8"):
            raise TransientSendError("el servidor de correo no acepta direcciones con "
                                     "caracteres no ASCII antes de la @ (SMTPUTF8)")
        options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
        code, resp = smtp.mail(sender, options)
        if code != 250:
            _rset(smtp)
            if throttling(code, resp):
                raise ThrottledError(self.scrub(server_reply(code, resp)))
            raise TransportDown(self.scrub(f"el servidor no acepta el remitente {sender}: "
                                           + server_reply(code, resp)))
        refused = {}
        for rcpt in rcpts:
            code, resp = smtp.rcpt(rcpt)
            if code not in (250, 251):
                refused[rcpt] = (code, resp)
        return refused

    def _data(
        self, smtp: smtplib.SMTP, data: bytes, to: list[str],
        refused: dict[str, tuple[int, bytes]],
    ) -> str:
        import smtplib

        if all(a in refused for a in to):
            _rset(smtp)
            raise self._refusal({a: refused[a] for a in to})
        try:
            code, reply = smtp.data(data)
        except smtplib.SMTPResponseException as exc:  # DATA refused: nothing was sent
            _rset(smtp)
            raise self._refusal({"": (exc.smtp_code, exc.smtp_error)}) from None
        except Exception as exc:  # noqa: BLE001 - the data may be on its way
            raise self._lost(exc, during_data=True) from None
        if code == 421:  # the server is closing the session: reconnect for the next one
            self.close()
        if not 200 <= code < 300:  # the server did not take the message
            raise self._refusal({"": (code, reply)})
        if not refused:
            return ""
        return self.scrub("rechazados: " + "; ".join(
            f"{a} ({server_reply(*r)})" for a, r in refused.items()
        ))

    def _refusal(self, refused: dict[str, tuple[int, bytes]]) -> SendError:
        text = self.scrub("; ".join(
            (f"{a}: " if a else "") + server_reply(*r) for a, r in refused.items()
        ))
        if any(throttling(code, reply) for code, reply in refused.values()):
            return ThrottledError(text)
        if all(400 <= code < 500 for code, _ in refused.values()):
            return TransientSendError(text)
        return PermanentSendError(text)


def basic_auth_disabled(code: int, resp: bytes | str) -> bool:
    """Microsoft 365's refusal of SMTP passwords: "550 5.7.30 Basic authentication is not
    supported for Client Submission", or a 535 saying basic authentication is disabled."""
    text = (resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)).lower()
    return "5.7.30" in text or ("basic authentication" in text and (
        "disabled" in text or "not supported" in text))


_THROTTLE_STATUS = re.compile(r"^\s*4\.(7\.\d{1,3}|5\.3)\b")


def throttling(code: int, resp: bytes | str) -> bool:
    """A reply that asks the client to slow down: 421 (service closing: Exchange's
    "421 4.7.0 ... Try again later"), 451, or a 4xx with the enhanced status 4.7.x
    (rate and policy limits) or 4.5.3 (too many recipients for now)."""
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return code in (421, 451) or (400 <= code < 500 and bool(_THROTTLE_STATUS.match(text)))


def server_reply(code: int, resp: bytes | str) -> str:
    text = resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)
    return f"el servidor respondió {code} {clean_header(text)}"[:400]


def _rset(smtp: smtplib.SMTP) -> None:
    with contextlib.suppress(OSError):  # smtplib.SMTPException is an OSError
        smtp.rset()


def _quit(yag: object) -> None:
    with contextlib.suppress(OSError):
        yag.close()


# OpenSSL verification codes -> why the certificate was not trusted, in Spanish
_CERT_PROBLEMS = {
    9: "el certificado todavía no es válido",
    10: "el certificado venció",
    18: "el certificado es autofirmado",
    19: "el certificado lo firma una autoridad que no es de confianza",
    20: "el certificado lo firma una autoridad que no es de confianza",
    21: "el certificado lo firma una autoridad que no es de confianza",
}


def _certificate_problem(exc: ssl.SSLCertVerificationError, host: str) -> str:
    if exc.verify_code in (62, 64):  # X509_V_ERR_HOSTNAME_MISMATCH, _IP_ADDRESS_MISMATCH
        return f"el certificado no corresponde al nombre {host}"
    return _CERT_PROBLEMS.get(exc.verify_code, clean_header(exc.verify_message or str(exc)))


def network_problem(exc: BaseException, service: str, host: str, where: str) -> str:
    """Why a mail server (SMTP or IMAP) could not be reached, in Spanish ("" when `exc`
    is not a network or TLS failure)."""
    import ssl

    if isinstance(exc, ConnectionRefusedError):
        return f"servidor {service} no disponible ({where}: conexión rechazada)"
    if isinstance(exc, TimeoutError | socket.timeout):
        return f"servidor {service} no disponible ({where}: no responde)"
    if isinstance(exc, socket.gaierror):
        return f"servidor {service} no disponible (no se encuentra el servidor {host})"
    if isinstance(exc, ssl.SSLError):
        return f"no se pudo establecer la conexión segura con el servidor {service} {where} ({exc})"
    return ""


def describe_connect_error(exc: BaseException, s: SmtpSettings) -> str:
    """Why the session could not start, in Spanish (server text included, no secrets)."""
    import smtplib
    import ssl

    where = f"{s.host}:{s.port}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        reply = server_reply(exc.smtp_code, exc.smtp_error)
        if basic_auth_disabled(exc.smtp_code, exc.smtp_error):
            return (
                f"el servidor SMTP no acepta usuario y contraseña (autenticación básica "
                f"desactivada: {reply}); configure OAuth2 con COBRANZA_SMTP_AUTH=oauth2 "
                "(vea en el README «Microsoft 365 y Google Workspace: OAuth2»)"
            )
        return f"el servidor SMTP rechazó el usuario o la contraseña ({reply})"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"no se pudo verificar el certificado del servidor SMTP {where} "
            f"({_certificate_problem(exc, s.host)}); no se envió el usuario ni la contraseña. "
            "Si su servidor usa un certificado de una autoridad propia, indique el archivo de "
            "esa autoridad en COBRANZA_SMTP_CA_FILE"
        )
    if isinstance(exc, smtplib.SMTPNotSupportedError) and s.security == "starttls" and (
            "starttls" in str(exc).lower()):
        return (
            f"el servidor SMTP {where} no ofrece STARTTLS; no se envía nada sin cifrar "
            "(use COBRANZA_SMTP_SECURITY=ssl si el servidor usa SSL desde el inicio)"
        )
    if unreachable := network_problem(exc, "SMTP", s.host, where):
        return unreachable
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"servidor SMTP no disponible ({server_reply(exc.smtp_code, exc.smtp_error)})"
    return f"servidor SMTP no disponible ({where}: {exc})"


# ---------------------------------------------------------------- configuration
def outbox_folder(workbook: Path) -> Path:
    return workbook.parent / OUTBOX


def smtp_settings(env: Mapping[str, str]) -> SmtpSettings | None:
    """COBRANZA_SMTP_* -> settings; None when no host is set (use the outbox)."""
    host = env.get("COBRANZA_SMTP_HOST", "").strip()
    if not host:
        return None
    from sync.mail.oauth import KEYRING_SERVICE, keyring_secret, token_source

    security = (env.get("COBRANZA_SMTP_SECURITY") or "starttls").strip().lower()
    if security not in SECURITY:
        raise SmtpConfigError(
            f'COBRANZA_SMTP_SECURITY "{security}" no es válido (use none, starttls o ssl).'
        )
    port_text = (env.get("COBRANZA_SMTP_PORT") or str(DEFAULT_PORTS[security])).strip()
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise SmtpConfigError(f'COBRANZA_SMTP_PORT "{port_text}" no es un puerto (use 587).')
    user = env.get("COBRANZA_SMTP_USER", "").strip()
    auth = (env.get("COBRANZA_SMTP_AUTH") or "password").strip().lower()
    if auth not in AUTH:
        raise SmtpConfigError(
            f'COBRANZA_SMTP_AUTH "{auth}" no es válido (use password u oauth2).')
    ca_file = _ca_file(env.get("COBRANZA_SMTP_CA_FILE", "").strip())
    if auth == "oauth2":
        if not user:
            raise SmtpConfigError("Falta COBRANZA_SMTP_USER: con COBRANZA_SMTP_AUTH=oauth2 "
                                  "indique el buzón que envía (nombre@dominio.com).")
        return SmtpSettings(host, int(port_text), security, user, ca_file=ca_file,
                            auth=auth, oauth=token_source(env))
    password = env.get("COBRANZA_SMTP_PASSWORD") or (keyring_secret(user) if user else "")
    if user and not password:
        raise SmtpConfigError(
            f"Falta la contraseña SMTP del usuario {user}: defina COBRANZA_SMTP_PASSWORD o "
            f'guárdela en el llavero del sistema (servicio "{KEYRING_SERVICE}").'
        )
    return SmtpSettings(host, int(port_text), security, user, password, ca_file=ca_file)


def _ca_file(path: str) -> str:
    """COBRANZA_SMTP_CA_FILE, checked now: a file that cannot be loaded is a config error."""
    import ssl

    if path:
        try:
            tls_context(path)
        except (OSError, ssl.SSLError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise SmtpConfigError(
                f'COBRANZA_SMTP_CA_FILE "{path}" no se puede usar ({detail}): indique un '
                "archivo PEM con el certificado de la autoridad que firmó el del servidor."
            ) from None
    return path


def transport_from_env(workbook_path: Path, env: Mapping[str, str] = os.environ) -> Transport:
    """SMTP when COBRANZA_SMTP_HOST is set, else the outbox folder beside the workbook."""
    settings = smtp_settings(env)
    if settings is None:
        return OutboxTransport(outbox_folder(Path(workbook_path)))
    return SmtpTransport(settings)
