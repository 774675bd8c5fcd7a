"""A real PostgreSQL server for tests: initdb + pg_ctl in a temporary directory.

Debian's `postgresql` package (scripts/test installs it) puts the binaries in
/usr/lib/postgresql/<version>/bin; without them the fixture skips, saying so. The server
refuses to run as root, so as root the data directory belongs to the `postgres` user (or
`nobody`) and every pg_ctl runs through `runuser`. It listens on 127.0.0.1 on a free
port and on a unix socket in its own directory; the `postgres` role has no password
(trust), tests connect with `PgTestServer.url()`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.required import unavailable
from tests.smtp_server import free_port


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin directory, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                   key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _run_as() -> str | None:
    """The unprivileged user the server runs as when we are root (None: ourselves)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("no hay usuario sin privilegios para PostgreSQL")


class PgTestServer:
    """One PostgreSQL cluster in `root`; `stop()` / `start()` simulate an outage."""

    def __init__(self, root: Path, bin_dir: Path, durable: bool = False) -> None:
        self.root, self.bin, self.durable = root, bin_dir, durable  # durable: fsync on
        self.data, self.socket_dir = root / "data", root / "sock"
        self.port = free_port()
        self.user = _run_as()

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.user, "--", *args] if self.user else list(args)

    def _check(self, *args: str) -> None:
        done = subprocess.run(self._cmd(*args), capture_output=True, text=True, timeout=120,
                              check=False)
        if done.returncode:
            raise RuntimeError(f"{args[0]} falló: {done.stdout}\n{done.stderr}")

    def init(self) -> PgTestServer:
        self.socket_dir.mkdir(parents=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.socket_dir):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._check(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                    "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8", "-N")
        return self

    def start(self) -> PgTestServer:
        # fsync off: a stopped server's data survives in the OS cache, which is all a test
        # needs. synchronous_commit stays on: an immediate stop would lose claims the
        # client was told were committed (never turn it off for a ledger).
        fast = "" if self.durable else " -c fsync=off -c full_page_writes=off"
        options = f"-p {self.port} -k {self.socket_dir} -h 127.0.0.1 -c max_connections=50{fast}"
        self._check(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.root / "log"), "-w", "-o", options, "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode,
                                 "-w", "stop"), capture_output=True, timeout=120, check=False)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """A fresh empty database's URL: each test its own ledger."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def missing() -> str:
    """Why the server cannot run here ("" when it can)."""
    if pg_bin() is None:
        return "PostgreSQL no instalado (scripts/test lo instala desde Debian: postgresql)"
    return ""


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgTestServer]:
    """A running PostgreSQL for the session (each test makes its own database)."""
    if why := missing():
        unavailable(why)
    root = Path(tempfile.mkdtemp(prefix="cobranza-pg-"))
    root.chmod(0o755)
    server = PgTestServer(root, pg_bin()).init().start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
