"""Message building and transports, against a real aiosmtpd server."""

from __future__ import annotations

import email
from datetime import datetime
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from smtp_server import SmtpTestServer, free_port

from sync.mail.transport import (
    OutboxTransport,
    PermanentSendError,
    SmtpConfigError,
    SmtpSettings,
    SmtpTransport,
    ThrottledError,
    TransientSendError,
    TransportDown,
    UncertainSendError,
    build_message,
    transport_from_env,
)

NOW = datetime(2026, 11, 25, 10, 30, tzinfo=ZoneInfo("America/Mexico_City"))
PASSWORD = "Fake-Pw-7c1b9e!"
SENDER = "Cobranza ACME <cobranza@acme.mx>"


def message(to=("pagos@lopez.mx",), cc=(), subject="Factura vencida", mid="vencida_1-abc"):
    return build_message(SENDER, to, cc, subject, "Saldo: $1,500.50 MXN\nGracias.", mid, NOW)


@pytest.fixture
def server():
    with SmtpTestServer() as srv:
        yield srv


def smtp(server: SmtpTestServer, **kw) -> SmtpTransport:
    return SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none", timeout=5, **kw))


def test_build_message_headers_and_body() -> None:
    msg = message(to=("pagos@lopez.mx", "tesoreria@lopez.mx"), cc=("conta@lopez.mx",),
                  subject="Aviso: Señor López")
    parsed = email.message_from_bytes(msg.as_bytes(), policy=default_policy)
    assert str(parsed["From"]) == "Cobranza ACME <cobranza@acme.mx>"
    assert str(parsed["To"]) == "pagos@lopez.mx, tesoreria@lopez.mx"
    assert str(parsed["Cc"]) == "conta@lopez.mx"
    assert str(parsed["Subject"]) == "Aviso: Señor López"
    assert str(parsed["Message-ID"]) == "<cobranza.vencida_1-abc@acme.mx>"
    assert str(parsed["X-Cobranza-Clave"]) == "vencida_1-abc"
    assert parsed["Bcc"] is None
    assert parsed.get_content() == "Saldo: $1,500.50 MXN\nGracias.\n"


def test_header_injection_is_neutralized() -> None:
    msg = message(subject="Hola\r\nBcc: x@evil.com\r\n\r\ncuerpo falso")
    raw = msg.as_bytes()
    parsed = email.message_from_bytes(raw, policy=default_policy)
    assert parsed["Bcc"] is None
    assert str(parsed["Subject"]) == "Hola Bcc: x@evil.com cuerpo falso"
    assert b"\nBcc:" not in raw


@pytest.mark.parametrize("bad", ["sin-arroba", "a b@c.com", "x@evil.com\r\nBcc: y@evil.com"])
def test_invalid_addresses_are_permanent_errors(bad: str) -> None:
    with pytest.raises(PermanentSendError, match="no es una dirección de correo válida"):
        message(to=(bad,))


def test_no_recipient_is_a_permanent_error() -> None:
    with pytest.raises(PermanentSendError, match="No hay destinatario"):
        message(to=())


def test_outbox_writes_one_eml_per_message(tmp_path: Path) -> None:
    transport = transport_from_env(tmp_path / "cartera.xlsm", env={})
    assert isinstance(transport, OutboxTransport)
    assert transport.send(message()) == ""
    files = sorted(p.name for p in (tmp_path / "salida").iterdir())
    assert files == ["20261125-103000-vencida_1-abc.eml"]
    parsed = email.message_from_bytes((tmp_path / "salida" / files[0]).read_bytes(),
                                      policy=default_policy)
    assert str(parsed["To"]) == "pagos@lopez.mx"


def test_smtp_sends_many_messages_over_one_connection(server: SmtpTestServer) -> None:
    transport = smtp(server)
    for i in range(3):
        assert transport.send(message(to=(f"c{i}@x.mx",), mid=f"m{i}")) == ""
    first = transport._connection()
    transport.send(message(to=("c3@x.mx",), mid="m3"))
    assert transport._connection() is first
    transport.close()
    assert [r.rcpt_tos for r in server.received()] == [
        ("c0@x.mx",), ("c1@x.mx",), ("c2@x.mx",), ("c3@x.mx",)
    ]
    assert server.received()[0].mail_from == "cobranza@acme.mx"


def test_partial_refusal_sends_to_the_others_and_says_so(server: SmtpTestServer) -> None:
    server.reject = {"malo@lopez.mx"}
    transport = smtp(server)
    note = transport.send(message(to=("pagos@lopez.mx", "malo@lopez.mx"), cc=("c@lopez.mx",)))
    assert note == ("rechazados: malo@lopez.mx (el servidor respondió 550 5.1.1 "
                    "<malo@lopez.mx>: Recipient address rejected: User unknown)")
    assert server.received()[0].rcpt_tos == ("pagos@lopez.mx", "c@lopez.mx")


def test_refused_primary_recipient_is_permanent_and_nothing_is_sent(server) -> None:
    server.reject = {"malo@lopez.mx"}
    transport = smtp(server)
    with pytest.raises(PermanentSendError) as info:
        transport.send(message(to=("malo@lopez.mx",), cc=("c@lopez.mx",)))
    assert str(info.value) == ("malo@lopez.mx: el servidor respondió 550 5.1.1 <malo@lopez.mx>: "
                               "Recipient address rejected: User unknown")
    transport.send(message(to=("bueno@lopez.mx",)))  # the connection is still usable
    assert [r.rcpt_tos for r in server.received()] == [("bueno@lopez.mx",)]


def test_4xx_is_transient(server: SmtpTestServer) -> None:
    server.transient = True
    with pytest.raises(TransientSendError) as info:
        smtp(server).send(message())
    assert not isinstance(info.value, TransportDown)
    assert "451 4.3.0" in str(info.value)


@pytest.mark.parametrize(("reply", "error"), [
    ("554 5.7.1 Mensaje rechazado por el filtro de spam", PermanentSendError),
    ("552 5.3.4 Mensaje demasiado grande", PermanentSendError),
    ("450 4.2.0 Buzón ocupado, intente más tarde", TransientSendError),
    # 451 and 4.7.x ask the client to slow down: the batch pauses (sync.mail.pacing)
    ("451 4.7.1 Lista gris: intente de nuevo en 5 minutos", ThrottledError),
])
def test_the_reply_to_the_end_of_data_decides(server: SmtpTestServer, reply, error) -> None:
    server.data_replies = {"pagos@lopez.mx": reply}
    transport = smtp(server)
    with pytest.raises(error) as info:
        transport.send(message())
    assert type(info.value) is error  # neither TransportDown nor UncertainSendError
    assert str(info.value) == f"el servidor respondió {reply}"
    assert [r.rcpt_tos for r in server.refused] == [("pagos@lopez.mx",)]
    assert transport.send(message(to=("bueno@lopez.mx",))) == ""  # same connection goes on
    assert [r.rcpt_tos for r in server.received()] == [("bueno@lopez.mx",)]


def test_a_hang_up_before_the_reply_to_data_is_uncertain(server: SmtpTestServer) -> None:
    server.hang_up = {"pagos@lopez.mx"}
    transport = smtp(server)
    with pytest.raises(UncertainSendError) as info:
        transport.send(message())
    assert str(info.value).endswith("; el mensaje pudo haberse entregado.")
    assert transport.send(message(to=("bueno@lopez.mx",))) == ""  # a new connection
    assert [r.rcpt_tos for r in server.received()] == [("bueno@lopez.mx",)]


def test_an_idn_domain_travels_in_idna_form(server: SmtpTestServer) -> None:
    msg = build_message("Cobranza <cobranza@compañía.mx>", ["pagos@cliente-ñandú.mx"],
                        ["conta@compañía.mx"], "Aviso", "Texto", "vencida_1-abc", NOW)
    assert smtp(server).send(msg) == ""
    [got] = server.received()
    assert got.mail_from == "cobranza@xn--compaa-7va5a.mx"
    assert got.rcpt_tos == ("pagos@xn--cliente-and-8db4j.mx", "conta@xn--compaa-7va5a.mx")
    assert str(got.message["To"]) == "pagos@xn--cliente-and-8db4j.mx"
    assert str(got.message["From"]) == "Cobranza <cobranza@xn--compaa-7va5a.mx>"
    assert got.mail_options == ()


def test_a_utf8_local_part_needs_smtputf8() -> None:
    msg = message(to=("josé.pérez@cliente.mx",), cc=("conta@lopez.mx",))
    plain = SmtpTestServer()
    plain.smtputf8 = False
    with plain:
        transport = smtp(plain)
        assert transport.supports_smtputf8() is False
        with pytest.raises(TransientSendError):  # never sent mangled
            transport.send(msg)
        assert plain.received() == []
    with SmtpTestServer() as utf8:
        transport = smtp(utf8)
        assert transport.supports_smtputf8() is True
        assert transport.send(msg) == ""
        [got] = utf8.received()
        assert got.rcpt_tos == ("josé.pérez@cliente.mx", "conta@lopez.mx")
        assert got.mail_options == ("SMTPUTF8", "BODY=8BITMIME")
        assert str(got.message["To"]) == "josé.pérez@cliente.mx"


def test_connection_refused_is_transport_down() -> None:
    transport = SmtpTransport(SmtpSettings("127.0.0.1", free_port(), "none", timeout=2))
    with pytest.raises(TransportDown) as info:
        transport.send(message())
    assert str(info.value).startswith("servidor SMTP no disponible (127.0.0.1:")
    assert str(info.value).endswith(": conexión rechazada)")


def test_password_never_in_repr_or_errors() -> None:
    with SmtpTestServer(credentials=("cobranza", "otra-clave")) as server:
        server.reject = {"malo@x.mx"}
        server.reject_text = f"no existe (clave {PASSWORD})"
        wrong = smtp(server, user="cobranza", password=PASSWORD)
        with pytest.raises(TransportDown) as info:
            wrong.send(message())
        assert PASSWORD not in repr(wrong) and PASSWORD not in str(wrong.settings)
        assert str(info.value).startswith("el servidor SMTP rechazó el usuario o la contraseña")
        assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)
        right = SmtpTransport(SmtpSettings("127.0.0.1", server.port, "none", "cobranza",
                                           PASSWORD, timeout=5))
        object.__setattr__(right.settings, "password", "otra-clave")
        server.reject_text = "no existe (clave otra-clave)"
        with pytest.raises(PermanentSendError) as refused:
            right.send(message(to=("malo@x.mx",)))
        assert "otra-clave" not in str(refused.value)
        assert str(refused.value).endswith("no existe (clave ********)")


def test_authenticated_send(server_with_auth=None) -> None:
    with SmtpTestServer(credentials=("cobranza", PASSWORD)) as server:
        transport = transport_from_env(Path("x.xlsm"), env=server.env())
        transport.send(message())
        transport.close()
        assert [r.rcpt_tos for r in server.received()] == [("pagos@lopez.mx",)]


def test_settings_from_env() -> None:
    env = {"COBRANZA_SMTP_HOST": "smtp.acme.mx", "COBRANZA_SMTP_USER": "u",
           "COBRANZA_SMTP_PASSWORD": PASSWORD}
    transport = transport_from_env(Path("x.xlsm"), env=env)
    assert repr(transport) == "SmtpTransport(smtp.acme.mx:587, starttls, user='u')"
    ssl = transport_from_env(Path("x.xlsm"), env={**env, "COBRANZA_SMTP_SECURITY": "SSL"})
    assert repr(ssl) == "SmtpTransport(smtp.acme.mx:465, ssl, user='u')"


@pytest.mark.parametrize(
    ("extra", "message_start"),
    [
        ({"COBRANZA_SMTP_SECURITY": "tls"}, 'COBRANZA_SMTP_SECURITY "tls" no es válido'),
        ({"COBRANZA_SMTP_PORT": "abc"}, 'COBRANZA_SMTP_PORT "abc" no es un puerto'),
        ({"COBRANZA_SMTP_USER": "nadie@acme.mx"}, "Falta la contraseña SMTP del usuario"),
    ],
)
def test_bad_settings_are_spanish_errors(extra, message_start, monkeypatch) -> None:
    import keyring

    monkeypatch.setattr(keyring, "get_password", lambda service, user: None)
    with pytest.raises(SmtpConfigError) as info:
        transport_from_env(Path("x.xlsm"), env={"COBRANZA_SMTP_HOST": "h", **extra})
    assert str(info.value).startswith(message_start)


def test_password_from_keyring(monkeypatch) -> None:
    import keyring

    calls = []
    monkeypatch.setattr(keyring, "get_password",
                        lambda service, user: calls.append((service, user)) or PASSWORD)
    transport = transport_from_env(Path("x.xlsm"), env={"COBRANZA_SMTP_HOST": "h",
                                                        "COBRANZA_SMTP_USER": "u@acme.mx"})
    assert calls == [("cobranza-xl", "u@acme.mx")]
    assert transport.settings.password == PASSWORD
