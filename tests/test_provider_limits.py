"""The mail provider's limits (issue 15): Configuración `Correos por minuto` and
`Destinatarios por día`, and the provider's "slow down" replies, as a user meets them.

Real workbooks (`cobranza init` + rows typed under the tables), real `cobranza sync`
subprocesses at advancing `--as-of` instants against a real aiosmtpd server. The rolling
windows come from the ledger's stamps and the cycle's as-of clock, so no test sleeps:
COBRANZA_PACING_WAIT_SECONDS=0 lets no cycle wait for the minute budget.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from cobranza.book.config import parse_config
from sync.mail.pacing import day_used, minute_wait, pause_after
from sync.mail.transport import throttling
from sync.workbook.init import create_workbook
from tests.cli import cobranza, sync, table
from tests.smtp_server import SmtpTestServer, _Handler
from tests.test_service import Running
from tests.workbook_edit import append_rows, set_cells

OWNER = "tesoreria@miempresa.com"  # the template's Responsable de acciones
NO_WAIT = {"COBRANZA_PACING_WAIT_SECONDS": "0"}
DAY = datetime(2026, 12, 2)  # a Wednesday (no monthly statement), business day in MX
# customer -> days overdue on DAY, chosen so each gets one notice of its own stage
STAGES = {"C-PREVIO": -5, "C-V1": 1, "C-NUEVA": None, "C-V15": 15, "C-M45": 45,
          "C-V30": 30, "C-S60": 60}
MOST_SEVERE_FIRST = ["C-S60", "C-M45", "C-V30", "C-V15", "C-V1", "C-PREVIO", "C-NUEVA"]
CODES = {"C-S60": "SUSPENSION_60", "C-M45": "MORA_45", "C-V30": "VENCIDA_30",
         "C-V15": "VENCIDA_15", "C-V1": "VENCIDA_1", "C-PREVIO": "PREVIO", "C-NUEVA": "NUEVA"}
STATE, MOTIVO = 7, 8  # Envíos columns: Fecha Tipo Código Destinatario Para Facturas
# Asunto Estado Motivo ...


def address(code: str) -> str:
    return f"{code.lower()}@cliente.mx"


def invoice(code: str, overdue: int | None) -> dict[str, object]:
    due = DAY + timedelta(days=30) if overdue is None else DAY - timedelta(days=overdue)
    issued = DAY if overdue is None else due - timedelta(days=30)
    return {"Factura": f"F-{code}", "Cliente": code, "Emisión": issued, "Vencimiento": due,
            "Moneda": "MXN", "Importe": 1000.0}


def workbook(folder: Path, stages: dict[str, int | None], config: dict[str, str],
             cc: dict[str, str] | None = None) -> Path:
    book = create_workbook(folder / "cobranza.xlsm")
    append_rows(book, {
        "Clientes": [{"Cliente": c, "Nombre": f"Cliente {c}", "Email": address(c),
                      "Email CC": (cc or {}).get(c, "")}
                     for c in stages],
        "Facturas": [invoice(c, days) for c, days in stages.items()],
    })
    for name, value in config.items():
        set_cells(book, "Configuración", ("Parámetro", name), {"Valor": value})
    return book


def customers_in(server: SmtpTestServer) -> list[str]:
    """The customer each accepted message went to, in the order the server took them."""
    by_address = {address(c): c for c in STAGES}
    return [by_address[m.rcpt_tos[0]] for m in server.received()
            if m.rcpt_tos[0] in by_address]


def envios(book: Path, state: str) -> list[list]:
    return [r for r in table(book, "Envíos", "Fecha") if r[STATE] == state]


# ------------------------------------------------------------------ the pure rules
def test_the_limits_are_configuracion_parameters_with_exchange_defaults():
    config, issues = parse_config({})
    assert (config.per_minute, config.per_day, issues) == (30, 10000, [])
    config, issues = parse_config({"Correos por minuto": "20", "Destinatarios por día": "2.000"})
    assert (config.per_minute, config.per_day, issues) == (20, 2000, [])
    config, issues = parse_config({"Correos por minuto": "0", "Destinatarios por día": "mucho"})
    assert (config.per_minute, config.per_day) == (30, 10000)
    assert [(i.parameter, i.problem) for i in issues] == [
        ("Correos por minuto", "debe ser un número entero mayor que cero, por ejemplo 30"),
        ("Destinatarios por día", "debe ser un número entero, por ejemplo 10000")]


def test_the_minute_window_rolls_over_the_sends_already_recorded():
    at = datetime(2026, 12, 1, 10, 0, 30)
    sent = [at - timedelta(seconds=s) for s in (70, 50, 20, 10)]  # 3 in the last minute
    assert minute_wait(sent, at, 4) == timedelta(0)
    assert minute_wait(sent, at, 3) == timedelta(seconds=10)  # when the one of -50 s leaves
    assert day_used([(at - timedelta(hours=25), 9), (at - timedelta(hours=23), 2)], at) == 2
    assert [pause_after(n) for n in (1, 2, 3, 5, 9)] == [
        timedelta(minutes=m) for m in (5, 10, 20, 60, 60)]


@pytest.mark.parametrize(("code", "text", "slow_down"), [
    (421, "4.7.0 Temporary server error. Please try again later. PRX4", True),
    (451, "4.3.0 Mail server temporarily rejected message", True),
    (450, "4.7.1 Rate limit exceeded", True),
    (452, "4.5.3 Too many recipients", True),
    (450, "4.2.1 Mailbox busy", False),
    (550, "5.7.1 Relaying denied", False),
])
def test_throttling_replies_are_recognised(code, text, slow_down):
    assert throttling(code, text.encode()) is slow_down


# ------------------------------------------------------------------ Correos por minuto
def test_seven_notices_under_three_a_minute_go_once_each_most_severe_first(tmp_path):
    book = workbook(tmp_path, STAGES, {"Correos por minuto": "3",
                                       "Hora resumen diario": "19:00"})
    with SmtpTestServer() as server:
        sync(book, "2026-12-02T10:00", server, extra_env=NO_WAIT)
        assert customers_in(server) == MOST_SEVERE_FIRST[:3]
        waiting = envios(book, "pendiente")
        assert sorted(r[3] for r in waiting) == sorted(MOST_SEVERE_FIRST[3:])
        assert {r[MOTIVO] for r in waiting} == {
            "límite del proveedor: Correos por minuto (3); sale en un próximo ciclo"}
        status = json.loads(cobranza("status", book, "--json").stdout)
        assert sorted((p["recipient"], p["group"]) for p in status["pending"]) == sorted(
            (c, "límite del proveedor") for c in MOST_SEVERE_FIRST[3:])

        sync(book, "2026-12-02T10:00", server, extra_env=NO_WAIT)  # the same minute
        assert customers_in(server) == MOST_SEVERE_FIRST[:3]
        for at in ("2026-12-02T10:02", "2026-12-02T10:04", "2026-12-02T10:06"):
            sync(book, at, server, extra_env=NO_WAIT)
        assert customers_in(server) == MOST_SEVERE_FIRST
        # each email's first notice (the monthly statement rides along where due)
        codes = [m.message["X-Cobranza-Avisos"].split(",")[0] for m in server.received()]
    assert codes == [CODES[c] for c in MOST_SEVERE_FIRST]
    assert sorted(r[3] for r in envios(book, "enviado")) == sorted(STAGES)
    assert envios(book, "pendiente") == []


# ------------------------------------------------------------------ throttling replies
class _Throttling(_Handler):
    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        test = self.server
        if test.accept is not None and len(test.received()) >= test.accept:
            test.throttled += 1
            return "421 4.7.0 Temporary server error. Please try again later. PRX4"
        return await super().handle_DATA(server, session, envelope)


class ThrottlingServer(SmtpTestServer):
    """Takes `accept` messages, then answers 421 4.7.0 to every DATA (None: takes all)."""

    accept: int | None = None
    throttled = 0

    def _handler(self) -> _Handler:
        return _Throttling(self)


def test_a_421_pauses_the_batch_and_a_later_cycle_sends_the_rest_once(tmp_path):
    book = workbook(tmp_path, STAGES, {"Hora resumen diario": "19:00"})
    with ThrottlingServer() as server:
        server.accept = 2
        sync(book, "2026-12-02T10:00", server)
        assert customers_in(server) == MOST_SEVERE_FIRST[:2]
        assert server.throttled == 1  # one refused message, then the batch paused
        waiting = {r[3]: r[MOTIVO] for r in envios(book, "pendiente")}
        assert sorted(waiting) == sorted(MOST_SEVERE_FIRST[2:])
        reply = ("el servidor respondió 421 4.7.0 Temporary server error. Please try again "
                 "later. PRX4")
        assert set(waiting.values()) == {
            f"el proveedor pidió esperar ({reply}); se reintenta desde las 2026-12-02 10:05"}

        server.accept = None  # the provider takes messages again, but the pause holds
        sync(book, "2026-12-02T10:03", server)
        assert customers_in(server) == MOST_SEVERE_FIRST[:2]
        assert server.throttled == 1
        sync(book, "2026-12-02T10:06", server)
    assert customers_in(server) == MOST_SEVERE_FIRST  # each once, in order
    assert envios(book, "pendiente") == []


# ------------------------------------------------------------------ Destinatarios por día
def test_destinatarios_por_dia_counts_cc_and_digests(tmp_path):
    stages = {"C-S60": 60, "C-V15": 15, "C-V1": 1}
    book = workbook(tmp_path, stages, {"Destinatarios por día": "4"},
                    cc={"C-S60": "pagos@cliente.mx"})
    with SmtpTestServer() as server:
        sync(book, "2026-12-02T10:00", server)
        # the actions digest (1 recipient) first, then C-S60 with its Cc (2) and C-V15 (1)
        assert [m.rcpt_tos for m in server.received()] == [
            (OWNER,), (address("C-S60"), "pagos@cliente.mx"), (address("C-V15"),)]
        (held,) = envios(book, "pendiente")
        assert (held[3], held[MOTIVO]) == (
            "C-V1", "límite del proveedor: Destinatarios por día (4); sale en un próximo ciclo")
        sync(book, "2026-12-02T18:00", server)  # the same rolling day: still waits
        assert len(server.received()) == 3
        sync(book, "2026-12-03T10:01", server)  # 24 h later
        later = [m.rcpt_tos for m in server.received()[3:]]
    assert (address("C-V1"),) in later
    assert [r[3] for r in envios(book, "enviado")].count("C-V1") == 1


# ------------------------------------------------------------------ SIGTERM while pacing
def test_sigterm_stops_the_service_while_it_waits_for_the_minute_limit(tmp_path):
    """`cobranza run` sends two messages, then waits for the minute's budget (the cycle
    may wait up to 10 minutes): SIGTERM ends that wait, the service stops at once and
    nothing else goes."""
    book = workbook(tmp_path, STAGES, {"Correos por minuto": "2",
                                       "Hora resumen diario": "19:00"})
    with SmtpTestServer() as server:
        run = Running([book], server, tmp_path / "servicio.log", every=30, step=0)
        try:
            deadline = time.monotonic() + 60
            while len(server.received()) < 2:
                assert run.alive() and time.monotonic() < deadline, run.text()
                time.sleep(0.05)
            time.sleep(1)  # the third message now waits for the window (about 60 s)
            assert run.stop(timeout=20) == 0
        finally:
            if run.alive():
                run.proc.kill()
        assert len(server.received()) == 2
    assert run.text().rstrip().endswith(
        "Servicio detenido por SIGTERM; el ciclo en curso terminó.")
