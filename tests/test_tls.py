"""TLS is verified (issue 10, point 5): real aiosmtpd servers with implicit TLS and with
STARTTLS, certificates made in the test (trustme). A server whose certificate cannot be
verified (self-signed, unknown authority, another name) or that does not offer STARTTLS
never receives the login; the same server is accepted once COBRANZA_SMTP_CA_FILE names
the test's authority. Last, a real `cobranza sync` shows the Spanish reason in Envíos,
keeps the messages `pendiente`, and sends them when the authority is configured.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from sync.mail.transport import (
    SmtpConfigError,
    SmtpSettings,
    SmtpTransport,
    TransportDown,
    build_message,
    smtp_settings,
)
from tests.smtp_server import SelfSigned, SmtpTestServer, TlsAuthority
from tests.test_data_refusals import envios, ledger, make_workbook, sync

USER, PASSWORD = "cobranza@acme.mx", "Fake-Pw-7c1b9e!"
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo("America/Mexico_City"))
LOCAL = "127.0.0.1"
WHERE_HINT = ("no se envió el usuario ni la contraseña. Si su servidor usa un certificado de "
              "una autoridad propia, indique el archivo de esa autoridad en "
              "COBRANZA_SMTP_CA_FILE")


@pytest.fixture
def authority(tmp_path) -> TlsAuthority:
    return TlsAuthority(tmp_path)


def tls_server(mode: str, certificate) -> SmtpTestServer:
    server = SmtpTestServer(credentials=(USER, PASSWORD))
    server.tls, server.certificate = mode, certificate
    return server


def transport(server: SmtpTestServer, ca_file="", security: str | None = None):
    return SmtpTransport(SmtpSettings(LOCAL, server.port, security or server.tls, USER,
                                      PASSWORD, timeout=5, ca_file=str(ca_file)))


def message():
    return build_message("Cobranza <cobranza@acme.mx>", ["pagos@lopez.mx"], [], "Aviso",
                         "Saldo pendiente.", "vencida_1-abc", NOW)


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_a_verified_server_gets_the_login_and_the_message(mode, authority):
    with tls_server(mode, authority.certificate(LOCAL)) as server:
        smtp = transport(server, authority.ca_file)
        assert smtp.send(message()) == ""
        smtp.close()
        assert server.auth_attempts == [USER]
        assert [r.rcpt_tos for r in server.received()] == [("pagos@lopez.mx",)]


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
@pytest.mark.parametrize(("certificate", "trust", "problem"), [
    ("self-signed", False, "el certificado es autofirmado"),
    ("unknown authority", False, "el certificado lo firma una autoridad que no es de confianza"),
    ("another name", True, "el certificado no corresponde al nombre 127.0.0.1"),
])
def test_an_unverified_server_never_gets_the_login(mode, certificate, trust, problem, authority):
    cert = {"self-signed": SelfSigned(), "unknown authority": authority.certificate(LOCAL),
            "another name": authority.certificate("mail.otro.mx")}[certificate]
    with tls_server(mode, cert) as server:
        smtp = transport(server, authority.ca_file if trust else "")
        with pytest.raises(TransportDown) as caught:
            smtp.send(message())
        assert str(caught.value) == (f"no se pudo verificar el certificado del servidor SMTP "
                                     f"{LOCAL}:{server.port} ({problem}); {WHERE_HINT}")
        assert server.auth_attempts == []
        assert server.received() == []


def test_starttls_never_falls_back_to_plain_text():
    with SmtpTestServer(credentials=(USER, PASSWORD)) as server:  # no STARTTLS offered
        smtp = transport(server, security="starttls")
        with pytest.raises(TransportDown) as caught:
            smtp.send(message())
        assert str(caught.value) == (
            f"el servidor SMTP {LOCAL}:{server.port} no ofrece STARTTLS; no se envía nada sin "
            "cifrar (use COBRANZA_SMTP_SECURITY=ssl si el servidor usa SSL desde el inicio)")
        assert server.auth_attempts == []
        assert server.received() == []


def test_the_ca_file_setting(authority, tmp_path):
    env = {"COBRANZA_SMTP_HOST": "smtp.acme.mx", "COBRANZA_SMTP_CA_FILE": str(authority.ca_file)}
    assert smtp_settings(env).ca_file == str(authority.ca_file)
    missing = tmp_path / "no-existe.pem"
    with pytest.raises(SmtpConfigError) as caught:
        smtp_settings({**env, "COBRANZA_SMTP_CA_FILE": str(missing)})
    assert str(caught.value) == (
        f'COBRANZA_SMTP_CA_FILE "{missing}" no se puede usar (No such file or directory): '
        "indique un archivo PEM con el certificado de la autoridad que firmó el del servidor.")
    garbage = tmp_path / "basura.pem"
    garbage.write_text("esto no es un certificado")
    with pytest.raises(SmtpConfigError, match="no se puede usar"):
        smtp_settings({**env, "COBRANZA_SMTP_CA_FILE": str(garbage)})


def test_sync_waits_for_a_trusted_certificate_then_sends(tmp_path, authority):
    book = make_workbook(tmp_path, {"C1": "pagos@lopez.mx", "C2": "ruiz@ruiz.mx"})
    with tls_server("starttls", authority.certificate(LOCAL)) as server:
        sync(book, "2026-11-25T10:00", server)
        assert server.auth_attempts == [] and server.received() == []
        reason = (f"servidor SMTP no disponible: no se pudo verificar el certificado del "
                  f"servidor SMTP {LOCAL}:{server.port} (el certificado lo firma una autoridad "
                  f"que no es de confianza); {WHERE_HINT}")
        assert envios(book) == {"C1": ("pagos@lopez.mx", "pendiente", reason),
                                "C2": ("ruiz@ruiz.mx", "pendiente", reason)}
        assert PASSWORD not in book.read_bytes().decode("latin-1")

        sync(book, "2026-11-25T10:10", server,
             extra_env=server.env(ca_file=authority.ca_file))
        assert server.auth_attempts == [USER]
        assert sorted(r.rcpt_tos for r in server.received()) == [
            ("pagos@lopez.mx",), ("ruiz@ruiz.mx",)]
        assert {c: s for c, (_, s, _) in ledger(book).items()} == {
            "C1": "enviado", "C2": "enviado"}
