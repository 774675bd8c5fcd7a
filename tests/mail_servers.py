"""Real mail servers for the IMAP tests: Dovecot (IMAP over verified TLS, LMTP) and
Postfix (SMTP in, bounces out), each started in a temporary directory of its own.

Both come from Debian's packages (`scripts/test` installs `dovecot-imapd`,
`dovecot-lmtpd` and `postfix`, and runs as root, which Postfix's master needs); without
them the fixtures skip, saying so, or fail under scripts/test (`tests.required`).

* `Dovecot`: the mailbox `cobranza@cobranza.test` (password `clave-imap`; a customer's,
  `cliente@cobranza.test`, exists too), maildir
  in the temp dir, IMAPS on a free port of 127.0.0.1 with a trustme certificate
  (`ca_file` trusts it), and an LMTP socket (`lmtp`) that delivers into that mailbox.
  Passwords log in with PLAIN/LOGIN; SASL XOAUTH2 and OAUTHBEARER go to the oauth2 passdb,
  which asks `oauth` (an `IntrospectionEndpoint` over HTTPS, same CA) about each token:
  `oauth.tokens[token] = USER` makes a token valid, any other is refused.
* `Postfix`: SMTP on a free port of 127.0.0.1 for the domain `cobranza.test`; every
  recipient is accepted, then delivered by LMTP to Dovecot, which refuses unknown users
  (`550 5.1.1`): Postfix then writes a real RFC 3464 bounce to the sender, delivered the
  same way into the Dovecot mailbox.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import trustme

from tests.oauth_servers import IntrospectionEndpoint
from tests.required import unavailable

DOMAIN = "cobranza.test"
USER = f"cobranza@{DOMAIN}"
PASSWORD = "clave-imap"
CUSTOMER = f"cliente@{DOMAIN}"  # a second mailbox: a customer whose address exists
MAIL_USER = "nobody"  # the system user the mailbox files belong to (running as root)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, process: subprocess.Popen | None, log: Path, timeout: float = 30):
    """Until 127.0.0.1:`port` accepts connections (a generous liveness bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return
        if process is not None and process.poll() is not None:
            break
        time.sleep(0.05)
    text = log.read_text(errors="replace") if log.exists() else ""
    raise RuntimeError(f"mail server did not start on port {port}:\n{text[-3000:]}")


def _ids() -> tuple[int, int, str, str]:
    """uid, gid of the mailbox owner and the users Dovecot's own processes run as."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam(MAIL_USER)
        return nobody.pw_uid, nobody.pw_gid, "dovecot", "dovenull"
    me = pwd.getpwuid(os.geteuid())
    return me.pw_uid, me.pw_gid, me.pw_name, me.pw_name


class Dovecot:
    """A Dovecot instance in `root` (see the module doc)."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, free_port()
        self.ca = trustme.CA()
        self.ca_file = root / "ca.pem"
        self.lmtp = root / "lmtp"
        self.process: subprocess.Popen | None = None
        self.oauth = IntrospectionEndpoint(self.ca.issue_cert("127.0.0.1"))

    def start(self) -> Dovecot:
        root, (uid, gid, internal, login) = self.root, _ids()
        cert = self.ca.issue_cert("127.0.0.1", "localhost")
        self.ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_and_cert_chain_pem.write_to_path(str(root / "server.pem"))
        for sub in ("run", "mail"):
            (root / sub).mkdir()
        os.chown(root / "mail", uid, gid)
        (root / "passwd").write_text("".join(
            f"{user}:{{PLAIN}}{PASSWORD}:{uid}:{gid}::{root}/mail/%u\n"
            for user in (USER, CUSTOMER)))
        # RFC 7662 introspection: "active" must be true, "username" names the mailbox
        (root / "oauth2.conf").write_text(f"""
introspection_mode = post
introspection_url = {self.oauth.url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
tls_ca_cert_file = {self.ca_file}
timeout_msecs = 10000
""")
        conf = root / "dovecot.conf"
        conf.write_text(f"""
base_dir = {root}/run
state_dir = {root}/run
instance_name = cobranza-test-{self.port}
log_path = {root}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = 1
ssl = required
ssl_cert = <{root}/server.pem
ssl_key = <{root}/server.pem
auth_mechanisms = plain login xoauth2 oauthbearer
# tests refuse on purpose: no 2 s delay per failure, no growing per-IP penalty (anvil)
auth_failure_delay = 0
# tokens go to introspection, passwords to the file (each passdb only for its mechanisms)
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
passdb {{
  driver = passwd-file
  mechanisms = plain login
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
mail_location = maildir:{root}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {self.port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service lmtp {{
  unix_listener {self.lmtp} {{
    mode = 0666
  }}
}}
protocol lmtp {{
  postmaster_address = postmaster@{DOMAIN}
}}
""")
        self.oauth.start()
        self.process = subprocess.Popen(["dovecot", "-F", "-c", str(conf)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        _wait_port(self.port, self.process, root / "dovecot.log")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        self.oauth.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """COBRANZA_IMAP_* settings for this server's mailbox (verified TLS with its CA)."""
        return {
            "COBRANZA_IMAP_HOST": "127.0.0.1", "COBRANZA_IMAP_PORT": str(self.port),
            "COBRANZA_IMAP_USER": USER, "COBRANZA_IMAP_PASSWORD": PASSWORD,
            "COBRANZA_IMAP_SECURITY": "ssl", "COBRANZA_IMAP_CA_FILE": str(self.ca_file),
        } | extra

    def imap(self, user: str = USER) -> imaplib.IMAP4_SSL:
        """A logged-in client (the test's own look into the mailbox of `user`)."""
        import ssl

        context = ssl.create_default_context(cafile=str(self.ca_file))
        client = imaplib.IMAP4_SSL("127.0.0.1", self.port, ssl_context=context)
        client.login(user, PASSWORD)
        return client

    def messages(self, folder: str = "INBOX", user: str = USER) -> list[bytes]:
        """The raw messages in `folder` of `user`'s mailbox ([] when it does not exist)."""
        client = self.imap(user)
        try:
            typ, _ = client.select(f'"{folder}"', readonly=True)
            if typ != "OK":
                return []
            _, data = client.uid("SEARCH", None, "ALL")
            out = []
            for uid in data[0].split():
                _, parts = client.uid("FETCH", uid, "(BODY.PEEK[])")
                out.append(parts[0][1])
            return out
        finally:
            client.logout()

    def append(self, raw: bytes, folder: str = "INBOX") -> None:
        client = self.imap()
        try:
            client.append(folder, None, None, raw)
        finally:
            client.logout()

    def clear(self, user: str = USER) -> None:
        """Empty `user`'s inbox and delete every other folder (between tests sharing the
        session's server)."""
        client = self.imap(user)
        try:
            _, folders = client.list()
            names = [line.decode().rsplit(' "/" ', 1)[-1] for line in folders or []]
            typ, count = client.select("INBOX")
            if typ == "OK" and int(count[0]) > 0:
                client.store("1:*", "+FLAGS", "(\\Deleted)")
                client.expunge()
            for name in sorted((n for n in names if n.strip('"') != "INBOX"), key=len,
                               reverse=True):
                client.delete(name)
        finally:
            client.logout()


class Postfix:
    """A Postfix instance in `root` delivering `cobranza.test` into `dovecot` by LMTP."""

    def __init__(self, root: Path, dovecot: Dovecot) -> None:
        self.root, self.dovecot, self.port = root, dovecot, free_port()

    def start(self) -> Postfix:
        root = self.root
        (root / "queue").mkdir()
        (root / "data").mkdir()
        os.chown(root / "data", pwd.getpwnam("postfix").pw_uid, -1)
        (root / "main.cf").write_text(f"""
compatibility_level = 3.6
queue_directory = {root}/queue
data_directory = {root}/data
maillog_file = {root}/postfix.log
maillog_file_prefixes = {root}
mail_owner = postfix
setgid_group = postdrop
myhostname = mail.{DOMAIN}
mydomain = {DOMAIN}
myorigin = {DOMAIN}
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
virtual_mailbox_domains = {DOMAIN}
virtual_mailbox_maps =
virtual_transport = lmtp:unix:{self.dovecot.lmtp}
smtpd_reject_unlisted_recipient = no
smtpd_recipient_restrictions = permit_mynetworks, reject
smtputf8_enable = no
bounce_queue_lifetime = 0
maximal_queue_lifetime = 0
""")
        services = [
            (str(self.port), "inet", "n", "smtpd"), ("pickup", "unix", "n", "pickup"),
            ("cleanup", "unix", "n", "cleanup"), ("qmgr", "unix", "n", "qmgr"),
            ("rewrite", "unix", "-", "trivial-rewrite"), ("bounce", "unix", "-", "bounce"),
            ("defer", "unix", "-", "bounce"), ("trace", "unix", "-", "bounce"),
            ("verify", "unix", "-", "verify"), ("flush", "unix", "n", "flush"),
            ("proxymap", "unix", "-", "proxymap"), ("smtp", "unix", "-", "smtp"),
            ("relay", "unix", "-", "smtp"), ("showq", "unix", "n", "showq"),
            ("error", "unix", "-", "error"), ("retry", "unix", "-", "error"),
            ("discard", "unix", "-", "discard"), ("lmtp", "unix", "-", "lmtp"),
            ("anvil", "unix", "-", "anvil"), ("scache", "unix", "-", "scache"),
            ("postlog", "unix-dgram", "n", "postlogd"),
        ]
        limits = {"qmgr": "1", "pickup": "1", "anvil": "1", "scache": "1", "postlog": "1",
                  "cleanup": "0", "bounce": "0", "defer": "0", "trace": "0", "flush": "0"}
        (root / "master.cf").write_text("".join(
            f"{name} {kind} {private} - n - {limits.get(name, '-')} {command}\n"
            for name, kind, private, command in services))
        self._postfix("start")
        _wait_port(self.port, None, root / "postfix.log")
        return self

    def _postfix(self, command: str) -> None:
        done = subprocess.run(["postfix", "-c", str(self.root), command],
                              capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0 and command == "start":
            raise RuntimeError(f"postfix {command}: {done.stderr}{done.stdout}")

    def stop(self) -> None:
        self._postfix("stop")

    def env(self) -> dict[str, str]:
        return {"COBRANZA_SMTP_HOST": "127.0.0.1", "COBRANZA_SMTP_PORT": str(self.port),
                "COBRANZA_SMTP_SECURITY": "none"}

    def flush(self) -> None:
        """Ask Postfix to deliver what waits now (the bounce goes out at once anyway)."""
        subprocess.run(["postqueue", "-c", str(self.root), "-f"], capture_output=True,
                       timeout=60, check=False)


def missing() -> str:
    """Why the servers cannot run here ("" when they can)."""
    needed = ("dovecot", "postfix")
    absent = [p for p in needed if shutil.which(p) is None
              and not Path(f"/usr/sbin/{p}").exists()]
    return (f"{', '.join(absent)} no instalado (scripts/test lo instala desde Debian)"
            if absent else "")


def temp_root() -> Path:
    """A temp dir the servers' unprivileged processes can enter (pytest's are 0700)."""
    root = Path(tempfile.mkdtemp(prefix="cobranza-mail-"))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def dovecot_server():
    """A running Dovecot for the session (tests `clear()` it first)."""
    if why := missing():
        unavailable(why)
    root = temp_root()
    server = Dovecot(root).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postfix_server(dovecot_server):
    """A running Postfix delivering into the session's Dovecot."""
    if os.geteuid() != 0:  # its master process must start as root (then drops to postfix)
        unavailable("Postfix solo arranca como root (CI corre scripts/test como root)")
    root = temp_root()
    server = Postfix(root, dovecot_server).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def mailbox(dovecot_server):
    """The session's Dovecot, with an empty mailbox and no valid OAuth2 token."""
    dovecot_server.clear()
    dovecot_server.oauth.tokens.clear()
    dovecot_server.oauth.asked.clear()
    return dovecot_server
