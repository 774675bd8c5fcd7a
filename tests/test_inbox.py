"""Bounces read back by IMAP, end to end (issue 15): real `cobranza sync` runs send
through a real Postfix; a reminder to an unknown address comes back as Postfix's own
RFC 3464 bounce, delivered by LMTP into a real Dovecot mailbox; the next sync reads it
over verified TLS, shows the message `rebotado` in Envíos with the address and the
reason, and moves the report to Cobranza/Procesados; later syncs handle nothing twice.
An IMAP server that cannot be reached never stops the sending."""

from __future__ import annotations

import email
import email.policy
import smtplib
import sqlite3
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from cobranza.inbound.records import Bounce, Inbound, Reply
from sync.ledger.store import Ledger, ledger_path
from sync.mail.inbox import check_inbox
from tests.cli import sync, table, vencida_1
from tests.mail_servers import CUSTOMER, DOMAIN, free_port
from tests.smtp_server import SmtpTestServer
from tests.workbook_edit import overdue_workbook, set_cells

UNKNOWN = f"nadie@{DOMAIN}"
REASON = (f"rebotó en {UNKNOWN}: 550 5.1.1 <{UNKNOWN}> User doesn't exist: {UNKNOWN}")
PROCESSED = "Cobranza/Procesados"


def make_workbook(folder: Path, customers: dict[str, str]) -> Path:
    """`overdue_workbook` whose Remitente is the mailbox the bounces come back to."""
    book = overdue_workbook(folder, customers)
    set_cells(book, "Configuración", ("Parámetro", "Remitente"),
              {"Valor": f"Cobranza <cobranza@{DOMAIN}>"})
    return book


envios = vencida_1


def errores(book: Path) -> list[tuple]:
    return [(r[0], r[2], r[3], r[4]) for r in table(book, "Errores", "Hoja")]


def inbound_rows(book: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(ledger_path(book)) as db:
        return db.execute("SELECT kind, payload FROM inbound").fetchall()


def wait_for(messages, count: int) -> list[bytes]:
    """The mailbox once it holds `count` messages (a generous liveness bound)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = messages()
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError(f"expected {count} messages, found {len(found)}")


def test_a_real_bounce_marks_the_reminder_rebotado_once_and_is_moved(
        postfix_server, mailbox, tmp_path):
    book = make_workbook(tmp_path, {"C1": UNKNOWN, "C2": CUSTOMER})
    env = postfix_server.env() | mailbox.env()

    first = sync(book, "2026-11-25T10:00", None, extra_env=env)
    assert "Correo entrante: 0 mensajes nuevos (0 rebotes, 0 respuestas)" in first
    assert envios(book) == {"C1": (UNKNOWN, "enviado", ""), "C2": (CUSTOMER, "enviado", "")}
    [dsn] = wait_for(mailbox.messages, 1)  # Postfix accepted, LMTP refused, DSN came back
    assert b"multipart/report" in dsn and b"Action: failed" in dsn and b"5.1.1" in dsn

    second = sync(book, "2026-11-25T10:10", None, extra_env=env)
    assert "Correo entrante: 1 mensaje nuevo (1 rebote, 0 respuestas)" in second
    assert envios(book) == {"C1": (UNKNOWN, "rebotado", REASON), "C2": (CUSTOMER, "enviado", "")}
    assert mailbox.messages() == [] and mailbox.messages(PROCESSED) == [dsn]
    [bounced] = [r for r in table(book, "Alertas", "Tipo")
                 if r[0] == "Correo rebotado" and r[1] != 1]  # the row, not the count
    assert bounced[1] == "C1"
    assert bounced[8].startswith(f"{UNKNOWN} rebotó el 25/11/2026: 550 5.1.1")
    # the bounced reminder is not sent again to the same address: Errores says why
    assert errores(book) == [("Clientes", "Email", UNKNOWN,
                              f"el aviso VENCIDA_1 espera: un correo a {UNKNOWN} {REASON}; "
                              "corrija el Email y los avisos vigentes se enviarán a la nueva "
                              "dirección")]

    third = sync(book, "2026-11-25T10:20", None, extra_env=env)
    assert "Correo entrante: 0 mensajes nuevos" in third
    assert [kind for kind, _ in inbound_rows(book)] == ["rebote"]
    assert envios(book)["C1"] == (UNKNOWN, "rebotado", REASON)
    assert mailbox.messages(PROCESSED) == [dsn]
    assert len(mailbox.messages()) == 0  # nothing else bounced: nothing was sent again

    # VENCIDA_15 is due: not to the address that bounced; to the new Email once typed
    sync(book, "2026-12-09T10:00", None, extra_env=env)
    assert [r[7] for r in table(book, "Envíos", "Fecha") if r[2] == "VENCIDA_15"] == ["enviado"]
    assert ("Clientes", "Email", UNKNOWN, f"el aviso VENCIDA_15 espera: un correo a {UNKNOWN} "
            f"{REASON}; corrija el Email y los avisos vigentes se enviarán a la nueva "
            "dirección") in errores(book)
    set_cells(book, "Clientes", ("Cliente", "C1"), {"Email": CUSTOMER})
    sync(book, "2026-12-09T10:10", None, extra_env=env)
    vencida_15 = {r[3]: (r[4], r[7]) for r in table(book, "Envíos", "Fecha")
                  if r[2] == "VENCIDA_15"}
    assert vencida_15 == {"C1": (CUSTOMER, "enviado"), "C2": (CUSTOMER, "enviado")}


def test_messages_are_handled_once_by_message_id_or_by_their_bytes(mailbox, tmp_path):
    """A message that is no bounce is ignored but moved; one without Message-ID gets a
    stable id; the same message delivered twice is handled once (both copies moved)."""
    book = make_workbook(tmp_path, {"C1": CUSTOMER})
    note = (b"From: Proveedor <ventas@proveedor.mx>\r\nTo: cobranza@cobranza.test\r\n"
            b"Subject: Nueva lista de precios\r\nMessage-ID: <lista-1@proveedor.mx>\r\n\r\n"
            b"Adjuntamos la lista.\r\n")
    bare = b"From: alguien@otro.mx\r\nSubject: sin id\r\n\r\nHola\r\n"
    for raw in (note, note, bare):
        mailbox.append(raw)
    out = sync(book, "2026-11-25T10:00", None, extra_env=mailbox.env())
    assert "Correo entrante: 2 mensajes nuevos (0 rebotes, 0 respuestas)" in out
    assert len(mailbox.messages(PROCESSED)) == 3 and mailbox.messages() == []
    mailbox.append(bare)  # the same bytes again: the same id
    out = sync(book, "2026-11-25T10:10", None, extra_env=mailbox.env())
    assert "Correo entrante: 0 mensajes nuevos" in out
    assert sorted(kind for kind, _ in inbound_rows(book)) == ["ignorado", "ignorado"]


def test_an_unreachable_imap_server_never_stops_the_sending(tmp_path):
    book = make_workbook(tmp_path, {"C1": "pagos@cliente.mx"})
    port = free_port()  # nothing listens there
    imap = {"COBRANZA_IMAP_HOST": "127.0.0.1", "COBRANZA_IMAP_PORT": str(port),
            "COBRANZA_IMAP_USER": "cobranza@cobranza.test",
            "COBRANZA_IMAP_PASSWORD": "secreto-imap-123"}
    with SmtpTestServer() as server:
        out = sync(book, "2026-11-25T10:00", server, extra_env=imap)
        assert [r.rcpt_tos for r in server.received()] == [("pagos@cliente.mx",)]
    problem = f"servidor IMAP no disponible (127.0.0.1:{port}: conexión rechazada)"
    assert f"Aviso: no se leyó el buzón IMAP: {problem}" in out
    assert envios(book) == {"C1": ("pagos@cliente.mx", "enviado", "")}
    assert errores(book) == [("Correo entrante", "", "", (
        f"No se leyeron los rebotes ni las respuestas: {problem}. Los envíos siguieron; se "
        "reintenta en el próximo ciclo."))]
    assert "secreto-imap-123" not in out + str(errores(book))


def test_an_untrusted_imap_certificate_is_refused_before_the_login(mailbox, tmp_path):
    book = make_workbook(tmp_path, {"C1": CUSTOMER})
    env = mailbox.env()
    del env["COBRANZA_IMAP_CA_FILE"]  # the test CA is not trusted now
    out = sync(book, "2026-11-25T10:00", None, extra_env=env)
    assert (f"Aviso: no se leyó el buzón IMAP: no se pudo verificar el certificado del "
            f"servidor IMAP 127.0.0.1:{mailbox.port} (el certificado lo firma una autoridad "
            "que no es de confianza); no se envió el usuario ni la contraseña.") in out


def test_a_refused_login_is_a_spanish_message_without_the_password(mailbox, tmp_path):
    env = mailbox.env(COBRANZA_IMAP_PASSWORD="clave-equivocada-987")
    with Ledger.open(tmp_path / "ledger.sqlite", datetime(2026, 11, 25, tzinfo=UTC),
                     "libro") as ledger:
        read, problem = check_inbox(ledger, datetime(2026, 11, 25, tzinfo=UTC), env)
    assert read is None
    assert problem.startswith(f"el servidor IMAP 127.0.0.1:{mailbox.port} rechazó el usuario "
                              "o la contraseña de cobranza@cobranza.test (")
    assert "clave-equivocada-987" not in problem


def test_the_ledger_keeps_each_inbound_record_once_and_gives_them_back(ledger_backend):

    now = datetime(2026, 11, 25, 10, tzinfo=UTC)
    bounce = Bounce("<b@x>", now, "<cobranza.k@x>", "a@b.mx", "550 5.1.1 no existe")
    reply = Reply("<r@x>", now, "C1", "pagos@cliente.mx", "RE: factura", "Pagamos el viernes",
                  "VENCIDA_1", automatic=False)
    with ledger_backend.open(now, "libro") as ledger:
        assert [ledger.keep_inbound(m, r, now) for m, r in (
            ("<b@x>", bounce), ("<r@x>", reply), ("<n@x>", None), ("<b@x>", bounce))] == [
            True, True, True, False]
        assert ledger.inbound_seen("<n@x>") and not ledger.inbound_seen("<otro@x>")
        assert ledger.inbound() == Inbound((bounce,), (reply,))


def test_a_customers_reply_through_postfix_becomes_a_respuestas_row(
        postfix_server, mailbox, tmp_path):
    """The customer answers the reminder from their mail client (In-Reply-To, the quote
    below) and their server answers too (an out-of-office): both reach the collections
    mailbox through Postfix, and the next cycle lists them in Respuestas, quote removed."""
    mailbox.clear(CUSTOMER)
    book = make_workbook(tmp_path, {"C2": CUSTOMER})
    env = postfix_server.env() | mailbox.env()
    sync(book, "2026-11-25T10:00", None, extra_env=env)
    [reminder] = wait_for(lambda: mailbox.messages(user=CUSTOMER), 1)
    original = email.message_from_bytes(reminder, policy=email.policy.default)
    reply = EmailMessage()
    reply["From"], reply["To"] = f"Compras C2 <{CUSTOMER}>", original["From"]
    reply["Subject"], reply["Message-ID"] = "RE: " + original["Subject"], "<r1@cliente.test>"
    reply["In-Reply-To"] = reply["References"] = original["Message-ID"]
    reply.set_content("Pagamos el viernes 27, gracias.\n\nEl mié, 25 nov 2026 a las 10:00, "
                      f"Cobranza <cobranza@{DOMAIN}> escribió:\n> Estimado cliente:\n> saldo\n")
    away = EmailMessage()
    away["From"], away["To"] = CUSTOMER, f"cobranza@{DOMAIN}"
    away["Subject"] = "Fuera de la oficina"
    away["Auto-Submitted"], away["Message-ID"] = "auto-replied", "<r0@cliente.test>"
    away.set_content("Estoy fuera hasta el lunes.")
    with smtplib.SMTP("127.0.0.1", int(postfix_server.env()["COBRANZA_SMTP_PORT"])) as smtp:
        smtp.send_message(away)
        smtp.send_message(reply)
    wait_for(mailbox.messages, 2)

    second = sync(book, "2026-11-25T10:10", None, extra_env=env)
    assert "Correo entrante: 2 mensajes nuevos (0 rebotes, 2 respuestas)" in second
    rows = sorted(table(book, "Respuestas", "Fecha"), key=lambda r: r[8])
    assert [r[1:] for r in rows] == [
        ["C2", "Cliente C2", "", CUSTOMER, "RE: " + original["Subject"],
         "Pagamos el viernes 27, gracias.", "VENCIDA_1", "respuesta"],
        ["C2", "Cliente C2", "", CUSTOMER, "Fuera de la oficina",
         "Estoy fuera hasta el lunes.", "", "respuesta automática"],
    ]
    assert len(mailbox.messages(PROCESSED)) == 2 and mailbox.messages() == []
    sync(book, "2026-11-25T10:20", None, extra_env=env)
    assert len(table(book, "Respuestas", "Fecha")) == 2  # each message handled once
