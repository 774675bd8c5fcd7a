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
"""

from __future__ import annotations

import email
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass(frozen=True)
class Received:
    """One message as the server accepted it."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    message: EmailMessage

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
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        received = Received(envelope.mail_from, tuple(envelope.rcpt_tos), message)
        with self.server.lock:
            self.server.messages.append(received)
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
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
        self.messages: list[Received] = []
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
        options: dict = {"hostname": self.host, "port": self.port}
        if self.credentials:
            options["authenticator"] = _Authenticator(*self.credentials)
            options["auth_require_tls"] = False
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

    def env(self) -> dict[str, str]:
        """COBRANZA_SMTP_* settings pointing at this server (no TLS)."""
        env = {
            "COBRANZA_SMTP_HOST": self.host,
            "COBRANZA_SMTP_PORT": str(self.port),
            "COBRANZA_SMTP_SECURITY": "none",
        }
        if self.credentials:
            env["COBRANZA_SMTP_USER"], env["COBRANZA_SMTP_PASSWORD"] = self.credentials
        return env


@pytest.fixture
def smtp_server() -> Iterator[SmtpTestServer]:
    """A running SmtpTestServer, stopped after the test."""
    with SmtpTestServer() as server:
        yield server
