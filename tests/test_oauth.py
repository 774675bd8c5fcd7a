"""OAuth2 for SMTP (issue 15): SASL XOAUTH2 over STARTTLS against a real aiosmtpd server
with a trustme certificate; tokens from COBRANZA_OAUTH_TOKEN_COMMAND (small scripts) and
from Microsoft's and Google's flows against a local HTTPS token endpoint. A refused token
is refreshed once; refused again, the batch waits `pendiente`. Microsoft's "550 5.7.30"
to a password login becomes the Spanish advice to configure OAuth2. No secret (password,
client secret, refresh token, access token) reaches any output, sheet, log or status.
"""

from __future__ import annotations

import json
import shlex
import sys
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import python_calamine

from sync.mail.oauth import GoogleTokenSource, OAuthConfigError, token_source, xoauth2
from sync.mail.transport import (
    OAuthFailed,
    SmtpConfigError,
    SmtpTransport,
    build_message,
    smtp_settings,
)
from tests.cli import cobranza
from tests.oauth_servers import OAuthSmtpServer, TokenEndpoint
from tests.smtp_server import TlsAuthority
from tests.test_data_refusals import envios, ledger, make_workbook

USER = "cobranza@acme.mx"
NOW = datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo("America/Mexico_City"))
REFUSED = "autenticación OAuth2 rechazada por el servidor SMTP para cobranza@acme.mx"
CHALLENGE = ("el servidor respondió 535 5.7.8 Username and Password not accepted); revise el "
             "permiso de la aplicación sobre el buzón y que SMTP AUTH esté habilitado en él")
ROTATING = """import pathlib, sys
count = pathlib.Path(sys.argv[1])
n = int(count.read_text()) + 1 if count.exists() else 1
count.write_text(str(n))
print(sys.argv[1 + min(n, len(sys.argv) - 2)])
"""


@pytest.fixture
def authority(tmp_path) -> TlsAuthority:
    return TlsAuthority(tmp_path)


def token_command(folder: Path, *tokens: str) -> str:
    """A command that prints tokens[0] on its first run, tokens[1] on its second..."""
    script = folder / "entrega_token.py"
    script.write_text(ROTATING)
    args = [sys.executable, str(script), str(folder / "calls"), *tokens]
    return shlex.join(args)


def oauth_server(authority, *accepted: str) -> OAuthSmtpServer:
    return OAuthSmtpServer(authority.certificate("127.0.0.1"), USER, set(accepted))


def message():
    return build_message("Cobranza <cobranza@acme.mx>", ["pagos@lopez.mx"], [], "Aviso",
                         "Saldo pendiente.", "vencida_1-abc", NOW)


def transport(server: OAuthSmtpServer, authority, **env: str) -> SmtpTransport:
    return SmtpTransport(smtp_settings(server.env(authority.ca_file) | env))


def test_the_sasl_string_and_the_settings(tmp_path):
    assert xoauth2(USER, "ya29.abc") == "user=cobranza@acme.mx\x01auth=Bearer ya29.abc\x01\x01"
    base = {"COBRANZA_SMTP_HOST": "smtp.office365.com", "COBRANZA_SMTP_USER": USER}
    with pytest.raises(SmtpConfigError) as caught:
        smtp_settings(base | {"COBRANZA_SMTP_AUTH": "kerberos"})
    assert str(caught.value) == ('COBRANZA_SMTP_AUTH "kerberos" no es válido '
                                 "(use password u oauth2).")
    oauth = base | {"COBRANZA_SMTP_AUTH": "oauth2"}
    with pytest.raises(OAuthConfigError) as caught:
        smtp_settings(oauth)
    assert str(caught.value) == (
        "COBRANZA_OAUTH_PROVIDER no está definido: use microsoft o google, o indique un "
        "comando que entregue el token en COBRANZA_OAUTH_TOKEN_COMMAND.")
    with pytest.raises(OAuthConfigError) as caught:
        smtp_settings(oauth | {"COBRANZA_OAUTH_PROVIDER": "google",
                               "COBRANZA_OAUTH_CLIENT_ID": "id-1",
                               "COBRANZA_OAUTH_CLIENT_SECRET": "GOCSPX-secreto"})
    assert str(caught.value) == (
        "Falta COBRANZA_OAUTH_REFRESH_TOKEN para OAuth2 con google: defínalo en el entorno o "
        'guárdelo en el llavero del sistema (servicio "cobranza-xl", nombre '
        "oauth-refresh-token).")
    settings = smtp_settings(oauth | {"COBRANZA_OAUTH_PROVIDER": "microsoft",
                                      "COBRANZA_OAUTH_TENANT": "contoso.onmicrosoft.com",
                                      "COBRANZA_OAUTH_CLIENT_ID": "app-1",
                                      "COBRANZA_OAUTH_CLIENT_SECRET": "Q~secreto-ms"})
    assert (settings.auth, settings.user, settings.password) == ("oauth2", USER, "")
    assert "Q~secreto-ms" not in repr(settings) + repr(settings.oauth)
    # the keyring (service cobranza-xl) holds what the environment does not
    stored = {"oauth-client-id": "id-9", "oauth-client-secret": "GOCSPX-llavero",
              "oauth-refresh-token": "1//llavero"}
    google = token_source({"COBRANZA_OAUTH_PROVIDER": "google"}, stored.get)
    assert isinstance(google, GoogleTokenSource) and google.client_id == "id-9"
    assert google.scrub("invalid_grant 1//llavero GOCSPX-llavero") == (
        "invalid_grant ******** ********")
    # a bad value stops `cobranza sync` before anything is read or sent (exit 2)
    book = make_workbook(tmp_path, {"C1": "pagos@lopez.mx"})
    done = cobranza("sync", book, cwd=tmp_path, check=False,
                    extra_env=base | {"COBRANZA_SMTP_AUTH": "kerberos"})
    assert (done.returncode, done.stderr.strip().splitlines()[-1]) == (
        2, 'Error: COBRANZA_SMTP_AUTH "kerberos" no es válido (use password u oauth2).')


def test_a_refused_token_is_refreshed_once(tmp_path, authority):
    with oauth_server(authority, "tok-2") as server:
        command = token_command(tmp_path, "tok-1", "tok-2")
        smtp = transport(server, authority, COBRANZA_OAUTH_TOKEN_COMMAND=command)
        assert smtp.send(message()) == ""
        assert smtp.send(message()) == ""  # same session: no new login, no new token
        smtp.close()
        assert server.xoauth2_attempts == [(USER, "tok-1"), (USER, "tok-2")]
        assert [r.rcpt_tos for r in server.received()] == [("pagos@lopez.mx",)] * 2


def test_a_failing_token_command_shows_no_output(tmp_path, authority):
    script = tmp_path / "falla.py"
    script.write_text("print('ey.SECRETO-QUE-NO-DEBE-VERSE'); raise SystemExit(3)")
    with oauth_server(authority, "tok-1") as server:
        smtp = transport(server, authority, COBRANZA_OAUTH_TOKEN_COMMAND=shlex.join(
            [sys.executable, str(script)]))
        with pytest.raises(OAuthFailed) as caught:
            smtp.send(message())
        assert str(caught.value) == (
            f"COBRANZA_OAUTH_TOKEN_COMMAND ({sys.executable}) terminó con el código 3; su "
            "salida no se muestra por si contiene un secreto.")
        assert server.xoauth2_attempts == [] and server.received() == []


def run_sync(book: Path, at: str, env: dict[str, str]) -> str:
    """`cobranza sync -v` (the log at DEBUG on stderr) and `cobranza status --json`:
    everything they print (status first), with every cell of the workbook and the
    ledger's bytes."""
    done = cobranza("-v", "sync", book, "--as-of", at, cwd=book.parent, extra_env=env)
    status = cobranza("status", book, "--json", cwd=book.parent, extra_env=env).stdout
    workbook = python_calamine.CalamineWorkbook.from_path(str(book))
    cells = "\n".join(str(v) for name in workbook.sheet_names
                      for row in workbook.get_sheet_by_name(name).to_python() for v in row)
    ledger_bytes = b"".join(p.read_bytes() for p in (book.parent / ".cobranza").rglob("*")
                            if p.is_file())
    return "\n".join([status, done.stdout, done.stderr, cells,
                      ledger_bytes.decode("latin-1")])


def test_sync_waits_while_the_token_is_refused_then_sends_once(tmp_path, authority):
    book = make_workbook(tmp_path, {"C1": "pagos@lopez.mx", "C2": "ruiz@ruiz.mx"})
    with oauth_server(authority) as server:  # accepts no token yet
        env = server.env(authority.ca_file) | {
            "COBRANZA_OAUTH_TOKEN_COMMAND": token_command(tmp_path, "tok-1", "tok-2", "tok-3")}
        seen = run_sync(book, "2026-11-25T10:00", env)
        assert server.xoauth2_attempts == [(USER, "tok-1"), (USER, "tok-2")]
        assert server.received() == []
        why = f"{REFUSED} ({CHALLENGE}"
        assert envios(book) == {"C1": ("pagos@lopez.mx", "pendiente", why),
                                "C2": ("ruiz@ruiz.mx", "pendiente", why)}
        status = json.loads(seen[:seen.index("\nCorte: ")])
        assert "autenticación OAuth2 rechazada" in json.dumps(status, ensure_ascii=False)
        assert "tok-1" not in seen and "tok-2" not in seen

        server.tokens.add("tok-3")
        seen = run_sync(book, "2026-11-25T10:10", env)
        cobranza("sync", book, "--as-of", "2026-11-25T10:20", cwd=tmp_path, extra_env=env)
        assert sorted(r.rcpt_tos for r in server.received()) == [
            ("pagos@lopez.mx",), ("ruiz@ruiz.mx",)]
        assert {c: s for c, (_, s, _) in ledger(book).items()} == {
            "C1": "enviado", "C2": "enviado"}
        assert "tok-3" not in seen


@pytest.mark.parametrize("provider", ["microsoft", "google"])
def test_provider_tokens_and_no_secret_anywhere(provider, tmp_path, authority):
    """The provider's first token is refused, the fresh one accepted; the client secret,
    refresh token and both access tokens appear in no output."""
    book = make_workbook(tmp_path, {"C1": "pagos@lopez.mx"})
    secret, refresh = "Q8~cliente.SECRETO-42", "1//0refresco-SECRETO-77"
    first, second = "eyJ0ok-PRIMERO-111", "eyJ0ok-SEGUNDO-222"
    cert = authority.certificate("localhost", "127.0.0.1")
    with TokenEndpoint(cert, "app-1", secret, [first, second], refresh) as endpoint, \
            oauth_server(authority, second) as server:
        env = server.env(authority.ca_file) | endpoint.env(provider, authority.ca_file)
        seen = run_sync(book, "2026-11-25T10:00", env)
        assert endpoint.grants == 2
        assert server.xoauth2_attempts == [(USER, first), (USER, second)]
        assert [r.rcpt_tos for r in server.received()] == [("pagos@lopez.mx",)]
        assert envios(book)["C1"][1] == "enviado"
        for hidden in (secret, refresh, first, second):
            assert hidden not in seen

        # a wrong client secret: the provider's refusal is shown, the secret is not
        wrong = env | {"COBRANZA_OAUTH_CLIENT_SECRET": "Q8~OTRO-SECRETO-99"}
        book2 = make_workbook(tmp_path / "otro", {"C2": "ruiz@ruiz.mx"})
        seen = run_sync(book2, "2026-11-25T10:00", wrong)
        who = "Microsoft" if provider == "microsoft" else "Google"
        assert envios(book2)["C2"][1] == "pendiente"
        assert envios(book2)["C2"][2].startswith(f"{who} no entregó el token OAuth2 (")
        assert "AADSTS7000215: Invalid client secret provided." in envios(book2)["C2"][2]
        for hidden in ("Q8~OTRO-SECRETO-99", secret, refresh):
            assert hidden not in seen


def test_microsoft_refusing_passwords_asks_for_oauth2(tmp_path, authority):
    book = make_workbook(tmp_path, {"C1": "pagos@lopez.mx"})
    password = "Clave-Basica-SECRETA-5"
    with oauth_server(authority) as server:
        server.basic_refusal = ("550 5.7.30 Basic authentication is not supported for Client "
                                "Submission")
        server.stop()
        server.start()
        env = server.env(authority.ca_file) | {"COBRANZA_SMTP_AUTH": "password",
                                               "COBRANZA_SMTP_PASSWORD": password}
        seen = run_sync(book, "2026-11-25T10:00", env)
        advice = (
            "servidor SMTP no disponible: el servidor SMTP no acepta usuario y contraseña "
            "(autenticación básica desactivada: el servidor respondió 550 5.7.30 Basic "
            "authentication is not supported for Client Submission); configure OAuth2 con "
            "COBRANZA_SMTP_AUTH=oauth2 (vea en el README «Microsoft 365 y Google Workspace: "
            "OAuth2»)")
        assert envios(book) == {"C1": ("pagos@lopez.mx", "pendiente", advice)}
        assert server.received() == []
        assert f"Aviso: el envío se detuvo: {advice}\n" in seen  # sync's standard output
        assert password not in seen
