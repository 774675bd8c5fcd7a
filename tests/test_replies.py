"""Customer replies read back by IMAP -> Reply records (cobranza.inbound.replies), from raw
messages as Gmail, Outlook/Exchange and Apple Mail write them; the ledger's index of what
was sent that they are matched to; the daily digest each reply is listed in."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pandas as pd
import pytest

from cobranza.book.addresses import mailbox_key
from cobranza.book.config import Config
from cobranza.inbound.records import Reply
from cobranza.inbound.replies import (
    customers_by_address,
    excerpt,
    message_key,
    reply_from,
)
from cobranza.notices.digests import reply_period
from cobranza.notices.messages import Line, Outgoing, notice_key
from cobranza.vocabulary import ReasonCode, SendState, reason
from sync.ledger.store import Ledger, message_id_for
from sync.mail.transport import message_id_header

AT = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
OUR_ID = "<cobranza.mora_45-3f2a9c0d1e2b3c4d5e6f@acme.mx>"
SENT = {"mora_45-3f2a9c0d1e2b3c4d5e6f": ("C001", "MORA_45")}
KNOWN = {"pagos@cliente.mx": "C001", "tesoreria@compañía.mx": "C002",
         "ap@northwind.com": "C003"}
KNOWN = {mailbox_key(k): v for k, v in KNOWN.items()}


def parse(raw: bytes) -> EmailMessage:
    msg = message_from_bytes(raw.replace(b"\n", b"\r\n"), policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def reply(raw: bytes | str) -> Reply | None:
    return reply_from(parse(raw.encode() if isinstance(raw, str) else raw), SENT, KNOWN, AT)


GMAIL = b"""\
Return-Path: <pagos@cliente.mx>
MIME-Version: 1.0
Date: Thu, 3 Dec 2026 18:12:45 -0600
In-Reply-To: <cobranza.mora_45-3f2a9c0d1e2b3c4d5e6f@acme.mx>
References: <cobranza.mora_45-3f2a9c0d1e2b3c4d5e6f@acme.mx>
Message-ID: <CAF3x9kQ1=abc@mail.gmail.com>
Subject: =?UTF-8?Q?Re=3A_Recordatorio=3A_factura_F=2D1001_vencida_hace_45_d=C3=ADas?=
From: =?UTF-8?Q?Mar=C3=ADa_L=C3=B3pez?= <Pagos@Cliente.mx>
To: Cobranza ACME <cobranza@acme.mx>
Content-Type: multipart/alternative; boundary="000000000000a1b2c3"

--000000000000a1b2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Buenas tardes,

Pagamos el viernes 11 de diciembre por transferencia. Les env=C3=ADo el comp=
robante en cuanto salga.

Saludos,
Mar=C3=ADa

El jue, 3 dic 2026 a las 10:00, Cobranza ACME (<cobranza@acme.mx>)
escribi=C3=B3:

> Estimado cliente:
> La factura F-1001 venci=C3=B3 hace 45 d=C3=ADas.
>

--000000000000a1b2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Buenas tardes,<div><br></div><div>Pagamos el viernes 11 de=
 diciembre.</div></div><br><div class=3D"gmail_quote"><div dir=3D"ltr">El j=
ue, 3 dic 2026 a las 10:00 escribi=C3=B3:</div><blockquote>Estimado</blockq=
uote></div>

--000000000000a1b2c3--
"""


def test_gmail_spanish_reply_matched_by_in_reply_to_quotes_removed():
    assert reply(GMAIL) == Reply(
        message_id="<CAF3x9kQ1=abc@mail.gmail.com>", received=AT, customer="C001",
        sender="pagos@cliente.mx",
        subject="Re: Recordatorio: factura F-1001 vencida hace 45 días",
        excerpt="Buenas tardes, Pagamos el viernes 11 de diciembre por transferencia. Les "
                "envío el comprobante en cuanto salga. Saludos, María",
        notice="MORA_45", automatic=False,
    )


OUTLOOK = b"""\
Received: from MN2PR12MB.namprd12.prod.outlook.com
From: "Tesoreria" <tesoreria@xn--compaa-7va5a.mx>
To: "Cobranza ACME" <cobranza@acme.mx>
Subject: RE: Estado de cuenta al 01/12/2026
Date: Fri, 4 Dec 2026 09:30:11 +0000
Message-ID: <MN2PR12MB4567ABCD@MN2PR12MB.namprd12.prod.outlook.com>
References: <unrelated@elsewhere.com>
Content-Language: es-MX
X-MS-Has-Attach:
Content-Type: multipart/alternative;
\tboundary="_000_MN2PR12MB4567_"
MIME-Version: 1.0

--_000_MN2PR12MB4567_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Buen d=EDa:

La factura F-2002 est=E1 en disputa: el pedido lleg=F3 incompleto. Favor de =
contactar a Log=EDstica.

Atte. Tesorer=EDa

________________________________
De: Cobranza ACME <cobranza@acme.mx>
Enviado: martes, 1 de diciembre de 2026 10:00
Para: Tesorer=EDa <tesoreria@compa=F1=EDa.mx>
Asunto: Estado de cuenta al 01/12/2026

Estimado cliente: le enviamos su estado de cuenta.

--_000_MN2PR12MB4567_
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Buen d=EDa:</p></body></html>

--_000_MN2PR12MB4567_--
"""


def test_outlook_reply_matched_by_idna_sender_latin1_quoted_printable():
    got = reply(OUTLOOK)
    assert got is not None
    assert (got.customer, got.sender, got.notice, got.automatic) == (
        "C002", "tesoreria@xn--compaa-7va5a.mx", "", False)
    assert got.subject == "RE: Estado de cuenta al 01/12/2026"
    assert got.excerpt == ("Buen día: La factura F-2002 está en disputa: el pedido llegó "
                           "incompleto. Favor de contactar a Logística. Atte. Tesorería")


APPLE = b"""\
From: Ana Torres <ap@northwind.com>
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: base64
Mime-Version: 1.0 (Mac OS X Mail 16.0)
Subject: Re: Reminder: invoice F-3003
Message-Id: <5E1A2B3C-APPLE@northwind.com>
Date: Fri, 4 Dec 2026 08:15:00 -0500
To: Cobranza ACME <cobranza@acme.mx>
References: <other@x.com> <cobranza.mora_45-3f2a9c0d1e2b3c4d5e6f@acme.mx> <z@y.com>

""" + base64.encodebytes(
    "We already paid invoice F-3003 on Dec 2 (ref № 88412).\n"
    "Please check your bank.\n\n"
    "-- \nAna Torres\nAccounts Payable, Northwind\n\n"
    "On Dec 1, 2026, at 10:00, Cobranza ACME <cobranza@acme.mx> wrote:\n\n"
    "> Dear customer,\n> Invoice F-3003 is overdue.\n".encode()
)


def test_apple_mail_english_base64_matched_by_references_signature_removed():
    got = reply(APPLE)
    assert got is not None
    assert (got.customer, got.notice) == ("C001", "MORA_45")  # References beats the sender
    assert got.excerpt == ("We already paid invoice F-3003 on Dec 2 (ref № 88412). "
                           "Please check your bank.")


APPLE_ES_QUOTE_FIRST = b"""\
From: ap@northwind.com
Subject: Re: Aviso
Content-Type: text/plain; charset=utf-8

Recibido, gracias.

El 1 dic 2026, a las 10:00, Cobranza ACME <cobranza@acme.mx> escribi\xc3\xb3:

> Texto anterior
"""


def test_apple_mail_spanish_attribution():
    got = reply(APPLE_ES_QUOTE_FIRST)
    assert got is not None and got.excerpt == "Recibido, gracias."


ORIGINAL_MESSAGE = b"""\
From: AP Team <AP@NORTHWIND.COM>
Subject: RE: Reminder
Content-Type: text/plain; charset=us-ascii

Payment scheduled for Dec 15.
> inline quote kept out
Thanks

-----Original Message-----
From: Cobranza ACME <cobranza@acme.mx>
Sent: Tuesday, December 1, 2026 10:00 AM
Subject: Reminder
"""

FROM_SENT = b"""\
From: ap@northwind.com
Subject: RE: Reminder
Content-Type: text/plain; charset=us-ascii

Will pay next week.

From: Cobranza ACME <cobranza@acme.mx>
Sent: Tuesday, December 1, 2026 10:00 AM
To: AP Team
"""

MENSAJE_ORIGINAL = """\
From: pagos@cliente.mx
Subject: RE: Aviso
Content-Type: text/plain; charset=utf-8

Ya quedó.
-----Mensaje original-----
De: Cobranza ACME
"""

DE_ENVIADO = b"""\
From: pagos@cliente.mx
Subject: RE: Aviso
Content-Type: text/plain; charset=utf-8

Lo revisamos el lunes.
De: Cobranza ACME <cobranza@acme.mx>
Enviado el: martes, 1 de diciembre de 2026 10:00
Para: pagos@cliente.mx
"""


def test_outlook_and_classic_quote_headers():
    assert reply(ORIGINAL_MESSAGE).excerpt == "Payment scheduled for Dec 15. Thanks"
    assert reply(FROM_SENT).excerpt == "Will pay next week."
    assert reply(MENSAJE_ORIGINAL).excerpt == "Ya quedó."
    assert reply(DE_ENVIADO).excerpt == "Lo revisamos el lunes."


HTML_ONLY = b"""\
From: pagos@cliente.mx
Subject: Re: Aviso
MIME-Version: 1.0
Content-Type: text/html; charset="utf-8"
Content-Transfer-Encoding: quoted-printable

<html><head><style>p {color:red}</style><script>alert(1)</script></head><body>
<div>Confirmamos el pago de <b>$12,500.00</b> &amp; adjuntamos el comprobante.<br>Gracias=
</div>
<hr><div id=3D"divRplyFwdMsg"><b>De:</b> Cobranza ACME<br><b>Enviado:</b> lunes</div>
<div>Estimado cliente: su factura ...</div>
</body></html>
"""


OUTLOOK_DESKTOP_HTML = b"""\
From: ap@northwind.com
Subject: RE: Reminder
Content-Type: text/html; charset="windows-1252"

<html><body><div class="WordSection1"><p class="MsoNormal">Paid today.<o:p></o:p></p>
<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">
<p class="MsoNormal"><b>From:</b> Cobranza ACME &lt;cobranza@acme.mx&gt;<br>
<b>Sent:</b> Tuesday, December 1, 2026 10:00 AM<br><b>To:</b> AP</p></div>
<p>Dear customer, invoice F-3003 is overdue.</p></div></body></html>
"""


def test_html_only_reply_becomes_text_without_scripts_or_quote():
    assert reply(HTML_ONLY).excerpt == (
        "Confirmamos el pago de $12,500.00 & adjuntamos el comprobante. Gracias")
    assert reply(OUTLOOK_DESKTOP_HTML).excerpt == "Paid today."


EXCHANGE_AUTO = b"""\
From: Tesoreria <tesoreria@compa\xc3\xb1\xc3\xada.mx>
Subject: =?iso-8859-1?Q?Respuesta_autom=E1tica:_Estado_de_cuenta?=
Auto-Submitted: auto-generated
X-MS-Exchange-Inbox-Rules-Loop: tesoreria@xn--compaa-7va5a.mx
In-Reply-To: <cobranza.mora_45-3f2a9c0d1e2b3c4d5e6f@acme.mx>
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Estoy fuera de la oficina hasta el 7 de diciembre, sin acceso al correo.
"""

GMAIL_VACATION = b"""\
From: pagos@cliente.mx
Subject: Vacaciones
Auto-Submitted: auto-replied
Precedence: bulk
Content-Type: text/plain; charset=UTF-8

Estoy de vacaciones hasta el lunes.
"""


def test_auto_replies_of_exchange_and_gmail():
    exchange, gmail = reply(EXCHANGE_AUTO), reply(GMAIL_VACATION)
    assert exchange is not None and gmail is not None
    assert (exchange.automatic, exchange.subject, exchange.notice) == (
        True, "Respuesta automática: Estado de cuenta", "MORA_45")
    assert exchange.excerpt == ("Estoy fuera de la oficina hasta el 7 de diciembre, sin "
                                "acceso al correo.")
    assert (gmail.automatic, gmail.customer) == (True, "C001")


def test_out_of_office_subject_alone_is_automatic_and_auto_submitted_no_is_not():
    ooo = b"From: ap@northwind.com\nSubject: Out of Office: Reminder\n\nAway.\n"
    manual = b"From: ap@northwind.com\nAuto-Submitted: no\nSubject: Re: Reminder\n\nOk.\n"
    assert reply(ooo).automatic is True
    assert reply(manual).automatic is False


def test_unknown_sender_without_our_message_id_is_no_reply():
    raw = b"From: someone@unknown.com\nIn-Reply-To: <x@y.com>\nSubject: Hola\n\nHola\n"
    assert reply(raw) is None


def test_bad_charset_and_broken_header_never_raise():
    raw = (b"From: pagos@cliente.mx\nSubject: =?x-unknown?Q?Hola=E9?= mundo\n"
           b"Content-Type: text/plain; charset=\"x-no-such-charset\"\n\n"
           b"Pagamos ma\xf1ana \xff\n")
    got = reply(raw)
    assert got is not None
    assert got.excerpt == "Pagamos mañana ÿ"  # unknown charset: UTF-8, then Windows-1252
    assert "mundo" in got.subject


def test_excerpt_is_at_most_500_characters_on_one_line():
    long = "Pago " * 200
    assert excerpt(long) == ("Pago " * 100)[:499].rstrip() + "…"
    assert len(excerpt(long)) <= 500


def test_formula_like_text_is_kept_as_text():
    raw = b"From: pagos@cliente.mx\nSubject: =1+1\nContent-Type: text/plain\n\n=HYPERLINK(\"x\")\n"
    got = reply(raw)
    assert (got.subject, got.excerpt) == ("=1+1", '=HYPERLINK("x")')


def test_message_keys_and_addresses():
    assert message_key(OUR_ID) == message_key("mora_45-3f2a9c0d1e2b3c4d5e6f")
    assert mailbox_key("Tesoreria@Compañía.MX") == "tesoreria@xn--compaa-7va5a.mx"
    customers = pd.DataFrame({"customer": ["C1", "C2"],
                              "emails": ["a@x.mx;B@y.mx", "c@compañía.mx"],
                              "cc": ["", "a@x.mx"]})
    assert customers_by_address(customers) == {
        "a@x.mx": "C1", "b@y.mx": "C1", "c@xn--compaa-7va5a.mx": "C2"}


def test_a_reply_to_a_message_the_ledger_sent_names_its_customer_and_notices(tmp_path):
    """The ledger's message ids and the Message-ID header the transport built from them
    meet: a reply's In-Reply-To finds the customer and the notice codes it answers."""
    lines = (Line("F1", "C9", date(2026, 11, 24), 1, 1000, "MXN"),)
    notice = Outgoing(kind="aviso", code="MORA_45", recipient="C9", to=("x@y.mx",), cc=(),
                      template="MORA_45", lines=lines, keys=(notice_key("C9", "F1", "MORA_45"),))
    waiting = Outgoing(kind="aviso", code="VENCIDA_1", recipient="C8", to=("z@y.mx",), cc=(),
                       template="VENCIDA_1", lines=lines,
                       keys=(notice_key("C8", "F1", "VENCIDA_1"),))
    with Ledger.open(tmp_path / "ledger.sqlite", AT, "libro") as ledger:
        sent_id, waiting_id = message_id_for(notice), message_id_for(waiting)
        assert ledger.claim(notice, sent_id, AT) and ledger.claim(waiting, waiting_id, AT)
        ledger.record(sent_id, SendState.SENT, None, AT)
        ledger.record(waiting_id, SendState.PENDING, reason(ReasonCode.SMTP_DOWN, detail="x"), AT)
        index = ledger.sent_index()
    assert index == {sent_id: ("C9", "MORA_45")}  # what never went answers nothing
    header = message_id_header(sent_id, "Cobranza ACME <cobranza@acme.mx>")
    raw = f"From: otro@nuevo.mx\nIn-Reply-To: {header}\nSubject: Re: x\n\nRecibido.\n"
    got = reply_from(parse(raw.encode()), index, {}, AT)
    assert got is not None and (got.customer, got.notice, got.excerpt) == (
        "C9", "MORA_45", "Recibido.")


@pytest.mark.parametrize(("received", "period"), [
    ("2026-11-30T07:59", "2026-11-30"),  # Monday before Hora resumen diario (08:00)
    ("2026-11-30T08:00", "2026-12-01"),  # that digest is due: the next business day's
    ("2026-11-27T18:00", "2026-11-30"),  # Friday evening: Monday's
    ("2026-11-28T10:00", "2026-11-30"),  # Saturday: Monday's
    ("2026-12-24T09:00", "2026-12-28"),  # 25/12 is a holiday in MX, then the weekend
    ("2026-12-01T06:59Z", "2026-12-01"),  # 00:59 in Mexico City
])
def test_a_reply_is_listed_in_the_first_daily_digest_due_after_it(received, period):
    moment = datetime.fromisoformat(received.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=Config().zone)
    assert reply_period(moment, Config()) == period
