"""`cobranza status` groups what waits by reason code, never by reading the sentence, and
counts the notices the ledger holds back for their next try (issue 11).

Real `cobranza sync` / `cobranza status` subprocesses against an SMTP server that is down
(nothing listens on its port), then up (aiosmtpd).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from cobranza.layout import wording
from cobranza.vocabulary import Kind, ReasonCode, SendState, reason
from sync.cycle import CycleResult
from sync.mail.sending import DeliveryRow
from sync.service import status
from tests.cli import cobranza
from tests.smtp_server import SmtpTestServer
from tests.test_service import AS_OF, _result, small_book

AT = AS_OF.strftime("%Y-%m-%dT%H:%M")
LATER = (AS_OF + timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")  # before the 5 min retry


def state_of(book) -> dict:
    done = cobranza("status", book, "--json")
    return json.loads(done.stdout)


def test_notices_waiting_for_a_down_server_stay_counted_and_grouped(tmp_path):
    book = small_book(tmp_path)
    server = SmtpTestServer()  # never started: connecting is refused
    cobranza("sync", book, "--as-of", AT, server=server)
    first = state_of(book)
    assert first["counts"]["pendiente"] == 2
    assert {(p["code"], p["recipient"], p["reason_code"], p["group"])
            for p in first["pending"]} == {
        ("ESTADO_MENSUAL", "C01", "smtp_no_disponible", "SMTP caído"),
        ("ESTADO_MENSUAL", "C02", "smtp_no_disponible", "SMTP caído")}

    # Two minutes later the ledger holds both back until their retry: still pending.
    cobranza("sync", book, "--as-of", LATER, server=server)
    second = state_of(book)
    assert second["counts"]["pendiente"] == 2
    assert [p["group"] for p in second["pending"]] == ["SMTP caído"] * 2
    text = cobranza("status", book).stdout
    assert "Envíos: 0 enviados, 2 pendientes, 0 omitidos, 0 fallidos, 0 inciertos" in text
    assert "  SMTP caído: 2\n" in text

    # Back up after both retry times (C02 was tried again at +2 min: due at +7): both go.
    with SmtpTestServer(port=server.port) as up:
        later = (AS_OF + timedelta(minutes=8)).strftime("%Y-%m-%dT%H:%M")
        cobranza("sync", book, "--as-of", later, server=up)
        assert sorted(m.rcpt_tos for m in up.received()) == [
            ("pagos.c01@cliente.mx",), ("pagos.c02@cliente.mx",)]
    third = state_of(book)
    assert (third["counts"]["pendiente"], third["pending"]) == (0, [])


@pytest.mark.parametrize(("code", "params", "group"), [
    (ReasonCode.WINDOW, {"window": "08:00-20:00"}, "ventana cerrada"),
    (ReasonCode.LEGAL_HOLIDAY, {"profile": "CO", "country": "CO"}, "feriado o fin de semana"),
    (ReasonCode.DAILY_LIMIT, {"profile": "CO"}, "límite legal de frecuencia"),
    (ReasonCode.SMTP_DOWN, {"detail": "no responde"}, "SMTP caído"),
])
def test_a_reworded_reason_keeps_its_group(tmp_path, monkeypatch, code, params, group):
    """The group comes from the code: any wording of the sentence lands in the same one."""
    monkeypatch.setitem(wording._TEXTS, code, "una redacción nueva sin palabras clave")
    book = tmp_path / "libro.xlsm"
    row = DeliveryRow(AS_OF, Kind.NOTICE, "VENCIDA_1", "C1", "", "", "", SendState.PENDING,
                      reason(code, **params))
    result: CycleResult = _result(book, [], deliveries=[row])
    state = status.record_cycle(book, result, at=datetime.now().astimezone(),
                                source=status.SYNC)
    assert [(p["reason"], p["group"]) for p in state["pending"]] == [
        ("una redacción nueva sin palabras clave", group)]
