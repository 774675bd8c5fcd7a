"""IMAP with OAuth2 (issue 15), end to end and without mocks: `cobranza sync` with
COBRANZA_IMAP_AUTH=oauth2 logs in to the real Dovecot of tests/mail_servers.py with SASL
XOAUTH2; Dovecot's oauth2 passdb asks a local HTTPS introspection endpoint about each
token (active or not), and the tokens come from Google's refresh-token flow played by a
local HTTPS token endpoint, or from COBRANZA_OAUTH_TOKEN_COMMAND. A refused token is
fetched again once; refused again, the cycle says so in Spanish (summary and Errores)
and sending goes on. No secret reaches any output, sheet, ledger or status."""

from __future__ import annotations

import base64
import imaplib
import shlex
import ssl
import sys
from datetime import UTC, datetime

from sync.ledger.store import Ledger
from sync.mail.inbox import check_inbox, imap_settings, login
from sync.mail.oauth import xoauth2
from tests.cli import table
from tests.mail_servers import CUSTOMER, DOMAIN, USER, Dovecot
from tests.oauth_servers import TokenEndpoint
from tests.test_inbox import PROCESSED, make_workbook
from tests.test_oauth import run_sync, token_command

SECRET, REFRESH = "GOCSPX-cliente-SECRETO-31", "1//0refresco-IMAP-SECRETO-47"
REPLY = (f"From: Compras C2 <{CUSTOMER}>\r\nTo: cobranza@{DOMAIN}\r\n"
         "Subject: RE: Aviso de factura vencida\r\nMessage-ID: <oauth-r1@cliente.test>\r\n"
         "\r\nPagamos el viernes 27.\r\n").encode()


def oauth_env(mailbox: Dovecot, **extra: str) -> dict[str, str]:
    """The mailbox's COBRANZA_IMAP_* with OAuth2 instead of the password."""
    env = mailbox.env(COBRANZA_IMAP_AUTH="oauth2", **extra)
    del env["COBRANZA_IMAP_PASSWORD"]
    return env


def google(mailbox: Dovecot, *issue: str) -> TokenEndpoint:
    """Google's token endpoint (a certificate of the mailbox's CA) issuing `issue`."""
    return TokenEndpoint(mailbox.ca.issue_cert("localhost"), "app-imap.apps.googleusercontent"
                         ".com", SECRET, list(issue), REFRESH)


def test_sync_reads_the_mailbox_with_a_google_token(mailbox, tmp_path):
    token = "ya29.imap-ACEPTADO-101"
    mailbox.oauth.tokens[token] = USER
    mailbox.append(REPLY)
    book = make_workbook(tmp_path, {"C2": CUSTOMER})
    with google(mailbox, token) as endpoint:
        env = oauth_env(mailbox) | endpoint.env("google", mailbox.ca_file)
        seen = run_sync(book, "2026-11-25T10:00", env)
        assert endpoint.grants == 1
    assert "Correo entrante: 1 mensaje nuevo (0 rebotes, 1 respuesta)" in seen
    assert mailbox.oauth.asked == [token]  # Dovecot asked about it, and only it
    assert [r[1:] for r in table(book, "Respuestas", "Fecha")] == [
        ["C2", "Cliente C2", "", CUSTOMER, "RE: Aviso de factura vencida",
         "Pagamos el viernes 27.", "", "respuesta"]]
    assert mailbox.messages() == [] and mailbox.messages(PROCESSED) == [REPLY]
    for hidden in (token, SECRET, REFRESH):
        assert hidden not in seen


def test_a_stale_token_is_fetched_again_once(mailbox, tmp_path):
    """The command's first token has expired (the server refuses it): the second is asked
    for, accepted, and the mailbox read in the same cycle."""
    mailbox.oauth.tokens["tok-NUEVO-2"] = USER
    mailbox.append(REPLY)
    book = make_workbook(tmp_path, {"C2": CUSTOMER})
    env = oauth_env(mailbox, COBRANZA_OAUTH_TOKEN_COMMAND=token_command(
        tmp_path, "tok-VENCIDO-1", "tok-NUEVO-2", "tok-OTRO-3"))
    seen = run_sync(book, "2026-11-25T10:00", env)
    assert mailbox.oauth.asked == ["tok-VENCIDO-1", "tok-NUEVO-2"]
    assert (tmp_path / "calls").read_text() == "2"  # the command ran twice, not thrice
    assert "Correo entrante: 1 mensaje nuevo (0 rebotes, 1 respuesta)" in seen
    assert len(table(book, "Respuestas", "Fecha")) == 1
    assert "tok-VENCIDO-1" not in seen and "tok-NUEVO-2" not in seen


class RecordingImap(imaplib.IMAP4_SSL):
    """A real IMAPS client that keeps every byte it sends."""

    def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        self.sent = b""
        super().__init__(*args, **kwargs)

    def send(self, data: bytes) -> None:
        self.sent += data
        super().send(data)


def test_each_token_is_sent_once_and_a_refusal_is_answered_empty(mailbox, tmp_path):
    """Dovecot answers a refused token with an error challenge (RFC 7628); the client
    answers it with an empty line, not with the token again, then logs in with the new
    one on the same connection."""
    mailbox.oauth.tokens["tok-B"] = USER
    env = oauth_env(mailbox, COBRANZA_OAUTH_TOKEN_COMMAND=token_command(
        tmp_path, "tok-A", "tok-B"))
    settings = imap_settings(env)
    client = RecordingImap("127.0.0.1", mailbox.port, ssl_context=ssl.create_default_context(
        cafile=str(mailbox.ca_file)), timeout=10)
    try:
        login(client, settings, env)
        assert client.state == "AUTH"
    finally:
        client.logout()
    lines = client.sent.split(b"\r\n")
    first, second = (base64.b64encode(xoauth2(USER, t).encode()) for t in ("tok-A", "tok-B"))
    assert lines.count(first) == 1 and lines.count(second) == 1
    assert lines[lines.index(first) + 1] == b""  # the answer to the error challenge
    assert mailbox.oauth.asked == ["tok-A", "tok-B"]


def test_a_token_never_accepted_is_a_spanish_line_without_secrets(mailbox, tmp_path):
    first, second = "ya29.RECHAZADO-uno-555", "ya29.RECHAZADO-dos-666"
    mailbox.append(REPLY)
    book = make_workbook(tmp_path, {"C2": CUSTOMER})
    with google(mailbox, first, second) as endpoint:
        env = oauth_env(mailbox) | endpoint.env("google", mailbox.ca_file)
        seen = run_sync(book, "2026-11-25T10:00", env)
        assert endpoint.grants == 2
    assert mailbox.oauth.asked == [first, second]
    problem = (f"el servidor IMAP 127.0.0.1:{mailbox.port} rechazó el token OAuth2 de {USER} "
               "([AUTHENTICATIONFAILED] Authentication failed.); revise el permiso de la "
               "aplicación sobre el buzón y que IMAP esté habilitado en él")
    assert f"Aviso: no se leyó el buzón IMAP: {problem}\n" in seen  # sync's standard output
    assert [r[4] for r in table(book, "Errores", "Hoja") if r[0] == "Correo entrante"] == [
        f"No se leyeron los rebotes ni las respuestas: {problem}. Los envíos siguieron; se "
        "reintenta en el próximo ciclo."]
    assert mailbox.messages() == [REPLY]  # nothing read, nothing moved
    for hidden in (first, second, SECRET, REFRESH):
        assert hidden not in seen


def test_a_token_source_that_fails_is_a_spanish_problem(mailbox, tmp_path):
    """No token at all (the command fails): the server is not asked, the cycle goes on."""
    script = tmp_path / "falla.py"
    script.write_text("print('ya29.SECRETO-DEL-COMANDO'); raise SystemExit(4)")
    env = oauth_env(mailbox, COBRANZA_OAUTH_TOKEN_COMMAND=shlex.join([sys.executable,
                                                                      str(script)]))
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with Ledger.open(tmp_path / "ledger.sqlite", now, "libro") as ledger:
        read, problem = check_inbox(ledger, now, env)
    assert read is None and mailbox.oauth.asked == []
    assert problem == (f"OAuth2 del buzón IMAP: COBRANZA_OAUTH_TOKEN_COMMAND ({sys.executable}) "
                       "terminó con el código 4; su salida no se muestra por si contiene un "
                       "secreto.")
