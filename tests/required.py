"""Real servers the suite starts (Dovecot, Postfix, PostgreSQL) are installed by
`scripts/test`, which sets COBRANZA_TEST_SERVERS=required: there a missing server fails
the tests that need it instead of skipping them (a skipped test proves nothing in CI).
Run by hand without them, those tests skip, saying why."""

from __future__ import annotations

import os

import pytest


def unavailable(why: str) -> None:
    """Skip (or, where the servers are required, fail) with `why`."""
    if os.environ.get("COBRANZA_TEST_SERVERS") == "required":
        pytest.fail(f"{why} (scripts/test instala este servidor; revise su instalación)")
    pytest.skip(why)
