"""Real servers for OAuth2 tests: an SMTP server that takes SASL XOAUTH2 over STARTTLS,
and an HTTPS token endpoint that plays Microsoft Entra ID and Google.

* `OAuthSmtpServer`: `SmtpTestServer` (STARTTLS, a trustme certificate) whose handler
  implements AUTH XOAUTH2: it accepts the tokens in `tokens` for `user`, records every
  (user, token) it was sent in `xoauth2_attempts`, and refuses any other token the way
  Gmail does (a 334 challenge with a JSON error, then 535). With `basic_refusal` set,
  AUTH PLAIN/LOGIN get that reply (Microsoft 365: "550 5.7.30 Basic authentication ...").
* `TokenEndpoint`: http.server over HTTPS in a thread. Microsoft: the OpenID
  configuration and the client-credentials grant under /<tenant>/; Google: the
  refresh-token grant at /token. Each grant that presents the right client secret (and
  refresh token) gets the next token of `issue`; `grants` counts them.
* `IntrospectionEndpoint`: RFC 7662 token introspection over HTTPS, what Dovecot's oauth2
  passdb asks (`introspection_mode = post`: a form `token=...`): `{"active": true,
  "username": <user>}` for a token of `tokens` (token -> user), `{"active": false}` for
  any other (expired, revoked, never issued); `asked` lists the tokens it was asked about.
"""

from __future__ import annotations

import base64
import json
import ssl
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import trustme
from aiosmtpd.smtp import MISSING, AuthResult

from tests.smtp_server import SmtpTestServer, _Handler, free_port

GMAIL_ERROR = json.dumps({"status": "401", "schemes": "bearer",
                          "scope": "https://mail.google.com/"})


class _OAuthHandler(_Handler):
    async def auth_XOAUTH2(self, server, args):  # noqa: N802 - aiosmtpd's naming
        test: OAuthSmtpServer = self.server
        if len(args) == 2:
            blob = base64.b64decode(args[1])
        else:
            blob = await server.challenge_auth("")
            if blob is MISSING:
                return AuthResult(success=False, handled=True)
        fields = dict(p.split("=", 1) for p in blob.decode().split("\x01") if "=" in p)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        test.xoauth2_attempts.append((user, token))
        if user == test.user and token in test.tokens:
            return AuthResult(success=True, auth_data=user)
        await server.challenge_auth(GMAIL_ERROR)  # the client answers with an empty line
        return AuthResult(success=False, handled=False,
                          message="535 5.7.8 Username and Password not accepted")


class _BasicRefusal:
    def __init__(self, reply: str) -> None:
        self.reply = reply

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        return AuthResult(success=False, handled=False, message=self.reply)


class OAuthSmtpServer(SmtpTestServer):
    def __init__(self, certificate: trustme.LeafCert, user: str, tokens: set[str]) -> None:
        super().__init__()
        self.tls, self.certificate = "starttls", certificate
        self.user, self.tokens = user, set(tokens)
        self.xoauth2_attempts: list[tuple[str, str]] = []
        self.basic_refusal = ""

    def _handler(self) -> _Handler:
        return _OAuthHandler(self)

    def _controller_options(self) -> dict:
        options = super()._controller_options()
        if self.basic_refusal:
            options["authenticator"] = _BasicRefusal(self.basic_refusal)
        return options

    def env(self, ca_file=None) -> dict[str, str]:
        return super().env(ca_file) | {"COBRANZA_SMTP_AUTH": "oauth2",
                                       "COBRANZA_SMTP_USER": self.user}


class TokenEndpoint:
    def __init__(self, certificate: trustme.LeafCert, client_id: str, secret: str,
                 issue: list[str], refresh_token: str = "", tenant: str = "contoso") -> None:
        self.client_id, self.secret, self.refresh_token = client_id, secret, refresh_token
        self.tenant, self.issue, self.grants = tenant, list(issue), 0
        self.port = free_port()
        self.base = f"https://localhost:{self.port}"
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._request_handler())
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def env(self, provider: str, ca_file) -> dict[str, str]:
        env = {"COBRANZA_OAUTH_PROVIDER": provider, "COBRANZA_OAUTH_CLIENT_ID": self.client_id,
               "COBRANZA_OAUTH_CLIENT_SECRET": self.secret,
               "COBRANZA_OAUTH_CA_FILE": str(ca_file)}
        if provider == "microsoft":
            return env | {"COBRANZA_OAUTH_TENANT": self.tenant,
                          "COBRANZA_OAUTH_AUTHORITY": f"{self.base}/{self.tenant}"}
        return env | {"COBRANZA_OAUTH_REFRESH_TOKEN": self.refresh_token,
                      "COBRANZA_OAUTH_TOKEN_URL": f"{self.base}/token"}

    def __enter__(self) -> TokenEndpoint:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def grant(self, form: dict[str, str]) -> tuple[int, dict]:
        microsoft = form.get("grant_type") == "client_credentials"
        ok = (form.get("client_id") == self.client_id
              and form.get("client_secret") == self.secret
              and (microsoft and form.get("scope") == "https://outlook.office365.com/.default"
                   or form.get("refresh_token") == self.refresh_token))
        if not ok:
            return 401, {"error": "invalid_client",
                         "error_description": "AADSTS7000215: Invalid client secret provided."}
        self.grants += 1
        token = self.issue[min(self.grants, len(self.issue)) - 1]
        return 200, {"access_token": token, "token_type": "Bearer", "expires_in": 3599}

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                tenant = f"{endpoint.base}/{endpoint.tenant}"
                if self.path.startswith(f"/{endpoint.tenant}/v2.0/.well-known/openid-conf"):
                    return self._reply(200, {
                        "token_endpoint": f"{tenant}/oauth2/v2.0/token",
                        "authorization_endpoint": f"{tenant}/oauth2/v2.0/authorize",
                        "issuer": f"{tenant}/v2.0"})
                return self._reply(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                if self.path.split("?")[0] in (f"/{endpoint.tenant}/oauth2/v2.0/token",
                                               "/token"):
                    return self._reply(*endpoint.grant(form))
                return self._reply(404, {"error": "not_found"})

        return Handler


class IntrospectionEndpoint:
    def __init__(self, certificate: trustme.LeafCert) -> None:
        self.tokens: dict[str, str] = {}
        self.asked: list[str] = []
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}/introspect"
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._request_handler())
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
        self._httpd.socket = context.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def start(self) -> IntrospectionEndpoint:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a loop that never started
            self._httpd.shutdown()
        self._httpd.server_close()

    def introspect(self, token: str) -> dict:
        self.asked.append(token)
        if user := self.tokens.get(token):
            return {"active": True, "username": user, "scope": "https://mail.google.com/"}
        return {"active": False}

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                found = self.path.split("?")[0] == "/introspect"
                body = endpoint.introspect(form.get("token", "")) if found else {}
                data = json.dumps(body).encode()
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
