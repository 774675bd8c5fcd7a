"""Non-delivery reports as they arrive: a real Postfix DSN (captured from the Postfix of
tests/mail_servers.py), Exchange Online's NDR and Gmail's "Delivery Status Notification
(Failure)" written from their documented formats, and a Postfix delay notice."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from cobranza.inbound.bounces import sent_id
from cobranza.inbound.classify import classify
from cobranza.inbound.records import Bounce

SAMPLES = Path(__file__).parent / "fixtures" / "inbound"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def read(name: str) -> email.message.Message:
    return email.message_from_bytes((SAMPLES / name).read_bytes())


@pytest.mark.parametrize(("sample", "address", "original", "reason"), [
    ("postfix_failed.eml", "nadie@cobranza.test",
     "<cobranza.vencida_1-0a1b2c3d4e5f60718293@cobranza.test>",
     "550 5.1.1 <nadie@cobranza.test> User doesn't exist: nadie@cobranza.test"),
    ("exchange_online_ndr.eml", "pagos@ferreteria-lopez.mx",
     "<cobranza.vencida_15-77aa88bb99cc00dd11ee@miempresa.com>",
     "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup"),
    ("gmail_failure.eml", "contabilidad@distribuidora-sur.com.ar",
     "<cobranza.mora_45-1234567890abcdef0123@miempresa.com>",
     "550-5.1.1 The email account that you tried to reach does not exist."),
])
def test_each_report_format_names_the_failed_address_our_message_and_the_reason(
        sample, address, original, reason):
    assert classify(read(sample), "<r@x>", NOW) == Bounce("<r@x>", NOW, original, address, reason)


def test_the_ledger_id_is_the_clave_inside_our_message_id():
    assert sent_id("<cobranza.vencida_1-0a1b2c3d4e5f60718293@cobranza.test>") == (
        "vencida_1-0a1b2c3d4e5f60718293")
    assert sent_id("vencida_1-0a1b2c3d4e5f60718293") == "vencida_1-0a1b2c3d4e5f60718293"


def test_a_delay_notice_is_not_a_bounce():
    assert classify(read("postfix_delayed.eml"), "<r@x>", NOW) is None


def test_a_customers_message_is_not_a_bounce():
    msg = EmailMessage()
    msg["From"] = "pagos@ferreteria-lopez.mx"
    msg["Subject"] = "RE: Recordatorio: factura F-2041 vencida"
    msg["In-Reply-To"] = "<cobranza.vencida_15-77aa88bb99cc00dd11ee@miempresa.com>"
    msg.set_content("Pagamos el viernes. El error 550 5.1.1 no aplica.\n")
    assert classify(msg, "<r@x>", NOW) is None
