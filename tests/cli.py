"""Run the real `cobranza` command as a subprocess, as a user would, and read its tables."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import python_calamine

from tests.smtp_server import SmtpTestServer

REPO = Path(__file__).resolve().parents[1]
# Exactly what the installed `cobranza` console script runs (sync.launch:console).
CLI = [sys.executable, "-c", "from sync.launch import console; console()"]


def cli_env(server: SmtpTestServer | None = None, **extra: str) -> dict[str, str]:
    """This environment without any COBRANZA_* setting, plus the server's and `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COBRANZA_")}
    env |= {"PYTHONPATH": str(REPO), "COBRANZA_PROGRESS": "0"}
    return env | (server.env() if server else {}) | extra


def cobranza(*args: object, cwd: Path = REPO, server: SmtpTestServer | None = None,
             check: bool = True, timeout: int = 300,
             extra_env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess:
    """`cobranza ARGS`; with `check`, a non-zero exit fails the test with its stderr."""
    env = cli_env(server, **(extra_env or {}))
    done = subprocess.run([*CLI, *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def sync(book: Path, at: str, server: SmtpTestServer | None, *options: str,
         extra_env: Mapping[str, str] | None = None) -> str:
    """`cobranza sync BOOK --as-of AT` from the book's folder; its standard output."""
    return cobranza("sync", book, "--as-of", at, *options, cwd=book.parent,
                    server=server, extra_env=extra_env).stdout


def table(book: Path, sheet: str, first: str) -> list[list]:
    """Data rows of the sheet's table whose header row starts with `first`."""
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        sheet).to_python()
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    return [r for r in rows[start + 1:] if any(v != "" for v in r)]


def vencida_1(book: Path) -> dict[str, tuple[str, str, str]]:
    """VENCIDA_1 rows of Envíos: customer -> (Para, Estado, Motivo)."""
    return {r[3]: (r[4], r[7], r[8]) for r in table(book, "Envíos", "Fecha") if r[2] == "VENCIDA_1"}
