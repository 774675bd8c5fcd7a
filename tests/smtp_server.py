"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, a free port, in a thread.

Usage, as a context manager or through the `smtp_server` pytest fixture:

    with SmtpTestServer() as server:
        ...send to ("127.0.0.1", server.port)...
        assert server.recipients() == [...]

It records every accepted message (envelope sender, accepted recipients, the parsed
`email.message.EmailMessage`), can refuse chosen recipients with 550 (`reject`), answer
451 to every RCPT (`transient = True`), require AUTH (`credentials`), and can be
stopped and started again on the same port (`stop()` / `start()`) to simulate a server
that is down for a while: while stopped, connecting gives "connection refused".

More of the real world, set before `start()` unless noted:
* `data_replies`: recipient -> the answer to the end of DATA for a message to it
  ("554 5.7.1 ...", "451 4.7.1 ..."); a refused message is kept in `refused` instead of
  `messages` (may change while the server runs);
* `hang_up`: recipients for whom the server takes the data and closes the connection
  without answering (was it delivered? nobody knows);
* `smtputf8 = False`: a server that does not offer SMTPUTF8;
* `tls = "ssl"` (implicit TLS) or `"starttls"`, with `certificate` (a trustme leaf
  certificate; `TlsAuthority` makes one for the test); `env(ca_file=...)` names the CA;
* `auth_attempts`: every AUTH user name the server was sent (proves it got none).
"""

from __future__ import annotations

import email
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage
    mail_options: tuple[str, ...] = ()  # MAIL FROM parameters, e.g. ("SMTPUTF8", ...)
    raw: bytes = b""  # the message data exactly as received (dots unstuffed)

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def body(self) -> str:
        """The plain-text body with wire CRLF line ends turned into "\n"."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    def attachments(self) -> dict[str, bytes]:
        return {a.get_filename(): a.get_content() for a in self.message.iter_attachments()}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self, server: SmtpTestServer) -> None:
        self.server = server

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        test = self.server
        if test.transient:
            return "451 4.3.0 Servicio temporalmente no disponible, intente mas tarde"
        if address.lower() in test.reject:
            return f"550 5.1.1 <{address}>: {test.reject_text}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if "SMTPUTF8" in envelope.mail_options:  # RFC 6532: headers are UTF-8
            text = envelope.content.decode("utf-8")
            message = email.message_from_string(text, policy=default_policy)
        else:
            message = email.message_from_bytes(envelope.content, policy=default_policy)
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), message,
                            tuple(envelope.mail_options), envelope.original_content)
        if any(r.lower() in self.server.hang_up for r in envelope.rcpt_tos):
            server.transport.close()
            return "250 never heard"
        replies = self.server.data_replies
        refusal = next((replies[r.lower()] for r in envelope.rcpt_tos if r.lower() in replies), "")
        with self.server.lock:
            (self.server.refused if refusal else self.server.messages).append(received)
        return refusal or "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str, attempts: list[str]) -> None:
        self.user, self.password, self.attempts = user, password, attempts

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            self.attempts.append(auth_data.login.decode())
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)


class SmtpTestServer:
    """A restartable aiosmtpd server bound to 127.0.0.1 on one fixed free port."""

    def __init__(
        self,
        port: int | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.credentials = credentials
        self.reject: set[str] = set()  # lower-case addresses refused with 550
        self.reject_text = "Recipient address rejected: User unknown"
        self.transient = False  # True: every RCPT gets 451
        self.data_replies: dict[str, str] = {}  # lower-case recipient -> reply to DATA
        self.hang_up: set[str] = set()  # lower-case recipients: close at the end of DATA
        self.smtputf8 = True  # offer the SMTPUTF8 extension
        self.tls = "none"  # none | ssl | starttls
        # required by ssl and starttls: TlsAuthority.certificate(...) or SelfSigned()
        self.certificate: trustme.LeafCert | SelfSigned | None = None
        self.messages: list[Received] = []
        self.refused: list[Received] = []  # messages answered from `data_replies`
        self.auth_attempts: list[str] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    # lifecycle -------------------------------------------------------------------
    def start(self) -> SmtpTestServer:
        if self._controller is None:
            self._controller = Controller(self._handler(), **self._controller_options())
            self._controller.start()
        return self

    def _handler(self) -> _Handler:
        """The aiosmtpd handler; subclasses change how the server answers here."""
        return _Handler(self)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def _controller_options(self) -> dict:
        options: dict = {"hostname": self.host, "port": self.port,
                         "enable_SMTPUTF8": self.smtputf8}
        if self.credentials:
            options["authenticator"] = _Authenticator(*self.credentials, self.auth_attempts)
            options["auth_require_tls"] = False
        if self.tls != "none":
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.certificate.configure_cert(context)
            options["ssl_context" if self.tls == "ssl" else "tls_context"] = context
        return options

    def __enter__(self) -> SmtpTestServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # inspection ------------------------------------------------------------------
    def received(self) -> list[Received]:
        with self.lock:
            return list(self.messages)

    def by_recipient(self) -> dict[str, list[Received]]:
        """Accepted envelope recipient -> messages delivered to it."""
        out: dict[str, list[Received]] = {}
        for r in self.received():
            for rcpt in r.rcpt_tos:
                out.setdefault(rcpt, []).append(r)
        return out

    def clear(self) -> None:
        with self.lock:
            self.messages.clear()

    def env(self, ca_file: Path | None = None) -> dict[str, str]:
        """COBRANZA_SMTP_* settings pointing at this server (its `tls` mode), trusting
        `ca_file` besides the system's certificate authorities."""
        env = {
            "COBRANZA_SMTP_HOST": self.host,
            "COBRANZA_SMTP_PORT": str(self.port),
            "COBRANZA_SMTP_SECURITY": self.tls,
        }
        if self.credentials:
            env["COBRANZA_SMTP_USER"], env["COBRANZA_SMTP_PASSWORD"] = self.credentials
        if ca_file is not None:
            env["COBRANZA_SMTP_CA_FILE"] = str(ca_file)
        return env


class TlsAuthority:
    """A certificate authority made for one test (trustme): the servers' certificates
    and the PEM file a client must be told to trust."""

    def __init__(self, folder: Path) -> None:
        self.ca = trustme.CA()
        self.ca_file = folder / "autoridad-de-prueba.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_file))

    def certificate(self, *names: str) -> trustme.LeafCert:
        """A server certificate for these host names or IP addresses."""
        return self.ca.issue_cert(*names)


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A running SmtpTestServer, stopped after the test."""
    with SmtpTestServer() as server:
        yield server


class SelfSigned:
    """A server certificate signed by its own key (a new CA's own certificate, with no
    host name in it): what a misconfigured or impostor server presents."""

    def __init__(self) -> None:
        self.ca = trustme.CA()

    def configure_cert(self, context: ssl.SSLContext) -> None:
        with self.ca.cert_pem.tempfile() as cert, self.ca.private_key_pem.tempfile() as key:
            context.load_cert_chain(cert, key)
