"""OAuth2 access tokens for SASL XOAUTH2 (SMTP now, IMAP too): one small API.

    source = token_source(env)          # from COBRANZA_OAUTH_*; OAuthConfigError if incomplete
    token = source.token()              # cached for the run
    token = source.token(fresh=True)    # after the server refused the cached one
    sasl = xoauth2(user, token)         # "user=<u>\\x01auth=Bearer <t>\\x01\\x01" (not base64)
    text = source.scrub(text)           # every secret it knows (client secret, refresh
                                        # token, each token issued) replaced by ********

Where the token comes from (first match):
* ``COBRANZA_OAUTH_TOKEN_COMMAND``: a command (split like a shell would, but run without
  one) whose standard output is the token;
* ``COBRANZA_OAUTH_PROVIDER=microsoft``: MSAL client credentials (``COBRANZA_OAUTH_TENANT``,
  ``COBRANZA_OAUTH_CLIENT_ID``, the client secret from the keyring or
  ``COBRANZA_OAUTH_CLIENT_SECRET``), scope ``https://outlook.office365.com/.default``;
* ``COBRANZA_OAUTH_PROVIDER=google``: the refresh-token grant (client id, client secret and
  refresh token from the keyring or ``COBRANZA_OAUTH_CLIENT_ID/_SECRET/_REFRESH_TOKEN``).

For tests and sovereign clouds only: ``COBRANZA_OAUTH_AUTHORITY`` (Microsoft's authority
URL, tenant included), ``COBRANZA_OAUTH_TOKEN_URL`` (Google's token endpoint) and
``COBRANZA_OAUTH_CA_FILE`` (a PEM authority trusted for these endpoints: for Google besides
the system's, for Microsoft instead of the bundle of requests).

Failures are `OAuthError` with a Spanish sentence that never contains a secret nor the
output of the token command (it could be one).
"""

from __future__ import annotations

import json
import shlex
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping

from sync.errors import CobranzaError

KEYRING_SERVICE = "cobranza-xl"
PROVIDERS = ("microsoft", "google")
MICROSOFT_SCOPE = "https://outlook.office365.com/.default"
MICROSOFT_AUTHORITY = "https://login.microsoftonline.com/{tenant}"
GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
COMMAND_TIMEOUT = 60  # seconds
HIDDEN = "********"


class OAuthConfigError(CobranzaError):
    """COBRANZA_OAUTH_* is missing or invalid: the run cannot start (exit 2)."""


class OAuthError(CobranzaError):
    """No token could be obtained now (provider down, client refused, command failed)."""


def xoauth2(user: str, token: str) -> str:
    """The SASL XOAUTH2 initial response, before base64 (smtplib and imaplib encode it)."""
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


class TokenSource:
    """A token cached for the run; `fetch` (a subclass's) gets a new one."""

    name = "El proveedor OAuth2"  # who failed to give a token, in messages

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self._secrets = [s for s in secrets if s]
        self._token = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def token(self, fresh: bool = False) -> str:
        if fresh or not self._token:
            token = self.fetch().strip()
            if not token:
                raise OAuthError(f"{self.name} no entregó un token de acceso OAuth2.")
            self._token = token
            self._secrets.append(token)
        return self._token

    def scrub(self, text: str) -> str:
        """`text` without any secret this source knows (longest first)."""
        for secret in sorted(set(self._secrets), key=len, reverse=True):
            text = text.replace(secret, HIDDEN)
        return text

    def fetch(self) -> str:
        raise NotImplementedError


class CommandTokenSource(TokenSource):
    name = "COBRANZA_OAUTH_TOKEN_COMMAND"

    def __init__(self, command: str) -> None:
        super().__init__()
        self.argv = shlex.split(command)

    def fetch(self) -> str:
        try:
            done = subprocess.run(self.argv, capture_output=True, text=True, check=False,
                                  timeout=COMMAND_TIMEOUT, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as exc:
            why = (f"no terminó en {COMMAND_TIMEOUT} segundos"
                   if isinstance(exc, subprocess.TimeoutExpired)
                   else f"no se pudo ejecutar ({exc.strerror or type(exc).__name__})")
            raise OAuthError(f"COBRANZA_OAUTH_TOKEN_COMMAND ({self.argv[0]}) {why}.") from None
        if done.returncode != 0:  # its output is not shown: it could hold a secret
            raise OAuthError(f"COBRANZA_OAUTH_TOKEN_COMMAND ({self.argv[0]}) terminó con el "
                             f"código {done.returncode}; su salida no se muestra por si "
                             "contiene un secreto.")
        return done.stdout


class MicrosoftTokenSource(TokenSource):
    name = "Microsoft Entra ID"

    def __init__(self, tenant: str, client_id: str, secret: str, authority: str = "",
                 ca_file: str = "") -> None:
        super().__init__((secret,))
        self.client_id, self._secret, self.ca_file = client_id, secret, ca_file
        self.custom = bool(authority)
        self.authority = authority or MICROSOFT_AUTHORITY.format(tenant=tenant)

    def fetch(self) -> str:
        import msal

        try:  # a new application each time: no MSAL cache, so `fresh` is really new
            app = msal.ConfidentialClientApplication(
                self.client_id, authority=self.authority, client_credential=self._secret,
                http_client=_session(self.ca_file) if self.ca_file else None, timeout=30,
                **({"instance_discovery": False} if self.custom else {}))
            result = app.acquire_token_for_client(scopes=[MICROSOFT_SCOPE])
        except Exception as exc:  # noqa: BLE001 - network, TLS, a bad authority URL
            raise OAuthError(self.scrub(
                f"no se pudo obtener el token OAuth2 de Microsoft ({self.authority}: "
                f"{type(exc).__name__})")) from None
        if "access_token" not in result:
            why = result.get("error_description") or result.get("error") or "sin detalle"
            raise OAuthError(self.scrub(
                f"Microsoft no entregó el token OAuth2 ({why.splitlines()[0][:300]})"))
        return result["access_token"]


class GoogleTokenSource(TokenSource):
    name = "Google"

    def __init__(self, client_id: str, secret: str, refresh_token: str, token_url: str = "",
                 ca_file: str = "") -> None:
        super().__init__((secret, refresh_token))
        self.client_id, self._secret, self._refresh = client_id, secret, refresh_token
        self.token_url, self.ca_file = token_url or GOOGLE_TOKEN_URL, ca_file

    def fetch(self) -> str:
        form = urllib.parse.urlencode({
            "client_id": self.client_id, "client_secret": self._secret,
            "refresh_token": self._refresh, "grant_type": "refresh_token"}).encode()
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        request = urllib.request.Request(self.token_url, data=form, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30, context=context) as reply:
                body = json.loads(reply.read())
        except urllib.error.HTTPError as exc:
            raise OAuthError(self.scrub(
                f"Google no entregó el token OAuth2 ({exc.code} {_google_error(exc)})"
            )) from None
        except (OSError, ValueError) as exc:
            raise OAuthError(self.scrub(
                f"no se pudo obtener el token OAuth2 de Google ({self.token_url}: "
                f"{getattr(exc, 'reason', None) or type(exc).__name__})")) from None
        return str(body.get("access_token", ""))


def _session(ca_file: str) -> object:
    """A requests session that verifies with `ca_file` on every request: MSAL's `verify=`
    loses to a REQUESTS_CA_BUNDLE in the environment, a request's own `verify` does not."""
    import requests

    class Session(requests.Session):
        def request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            kwargs["verify"] = ca_file
            return super().request(*args, **kwargs)

    return Session()


def _google_error(exc: urllib.error.HTTPError) -> str:
    """Google's error code and description, e.g. "invalid_grant: Token has been expired"."""
    try:
        body = json.loads(exc.read())
    except (OSError, ValueError):
        return ""
    return ": ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))[:300]


def token_source(env: Mapping[str, str],
                 keyring_get: Callable[[str], str] | None = None) -> TokenSource:
    """The token source COBRANZA_OAUTH_* names; OAuthConfigError (Spanish) if incomplete.
    Each value may instead be in the keyring (service "cobranza-xl", name "oauth-tenant",
    "oauth-client-id", "oauth-client-secret", "oauth-refresh-token"); `keyring_get(name)`
    replaces the keyring lookup."""
    get = keyring_get or keyring_secret

    def value(name: str) -> str:
        return (env.get(f"COBRANZA_OAUTH_{name}", "") or get(_key_name(name))).strip()

    if command := env.get("COBRANZA_OAUTH_TOKEN_COMMAND", "").strip():
        return CommandTokenSource(command)
    provider = env.get("COBRANZA_OAUTH_PROVIDER", "").strip().lower()
    if provider not in PROVIDERS:
        shown = f'"{provider}" no es válido' if provider else "no está definido"
        raise OAuthConfigError(
            f"COBRANZA_OAUTH_PROVIDER {shown}: use microsoft o google, o indique un comando "
            "que entregue el token en COBRANZA_OAUTH_TOKEN_COMMAND.")
    needed = {"microsoft": ("TENANT", "CLIENT_ID", "CLIENT_SECRET"),
              "google": ("CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN")}[provider]
    found = {n: value(n) for n in needed}
    if missing := [n for n in needed if not found[n]]:
        raise OAuthConfigError(
            f"Falta {', '.join(f'COBRANZA_OAUTH_{n}' for n in missing)} para OAuth2 con "
            f"{provider}: defínalo en el entorno o guárdelo en el llavero del sistema "
            f'(servicio "{KEYRING_SERVICE}", nombre {", ".join(map(_key_name, missing))}).')
    ca_file = env.get("COBRANZA_OAUTH_CA_FILE", "").strip()
    if provider == "microsoft":
        return MicrosoftTokenSource(found["TENANT"], found["CLIENT_ID"], found["CLIENT_SECRET"],
                                    env.get("COBRANZA_OAUTH_AUTHORITY", "").strip(), ca_file)
    return GoogleTokenSource(found["CLIENT_ID"], found["CLIENT_SECRET"], found["REFRESH_TOKEN"],
                             env.get("COBRANZA_OAUTH_TOKEN_URL", "").strip(), ca_file)


def _key_name(name: str) -> str:
    return f"oauth-{name.lower().replace('_', '-')}"


def keyring_secret(name: str) -> str:
    """The secret stored as `name` under service "cobranza-xl" ("" if none, or no keyring):
    the SMTP password under the user's name, OAuth2 values under "oauth-..."."""
    try:
        import keyring

        return keyring.get_password(KEYRING_SERVICE, name) or ""
    except Exception:  # noqa: BLE001 - no keyring backend is the same as no secret
        return ""
