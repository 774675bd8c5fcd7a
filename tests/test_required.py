"""A server the suite needs fails the test under scripts/test, and skips by hand."""

from __future__ import annotations

import pytest

from tests.required import unavailable


def test_a_missing_server_fails_where_required(monkeypatch):
    monkeypatch.setenv("COBRANZA_TEST_SERVERS", "required")
    with pytest.raises(pytest.fail.Exception, match="no está instalado Dovecot"):
        unavailable("no está instalado Dovecot")


def test_a_missing_server_skips_when_run_by_hand(monkeypatch):
    monkeypatch.delenv("COBRANZA_TEST_SERVERS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no está instalado Dovecot"):
        unavailable("no está instalado Dovecot")
