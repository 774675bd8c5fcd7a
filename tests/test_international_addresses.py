"""International addresses and one definition of a valid address (issue 10, point 3).

Real workbooks and `cobranza sync` runs against a real aiosmtpd server, with and
without SMTPUTF8, and with the outbox (.eml files): an internationalized domain goes out
in IDNA form (envelope and headers); a non-ASCII local part goes only with SMTPUTF8,
otherwise it waits `pendiente` with an Errores row on every sync and goes once the user
fixes it; an address that is not valid is an Errores row at validation and for the
planner; one address never stops the batch.
"""

from __future__ import annotations

import email
from email.policy import default as default_policy

from sync.ledger.store import ledger_path
from tests.smtp_server import SmtpTestServer
from tests.test_data_refusals import envios, errores, ledger, make_workbook, sync
from tests.workbook_edit import set_cells

IDN, IDN_WIRE = "pagos@compañía.mx", "pagos@xn--compaa-7va5a.mx"
UTF8_LOCAL = "josé.pérez@cliente.mx"
CUSTOMERS = {  # Clientes rows 2..6
    "C1": "pagos@lopez.mx", "C2": IDN, "C3": UTF8_LOCAL, "C4": "a[1]@x.mx",
    "C5": "ruiz@ruiz.mx",
}
NOT_VALID = ("Clientes", 5, "Email", "a[1]@x.mx", "no es una dirección de correo válida "
             '(use nombre@dominio.com; separe varias con ";").')
NO_EMAIL = ("Clientes", 5, "Email", "",
            "el cliente no tiene un email válido: sus avisos quedan pendientes y se enviarán "
            "cuando lo corrija, mientras sigan vigentes (use nombre@dominio.com; varios "
            "separados por ;)")
NO_SMTPUTF8 = ("Clientes", 4, "Email", UTF8_LOCAL,
               f"la dirección {UTF8_LOCAL} lleva acentos u otros caracteres no ASCII antes de "
               "la @ y el servidor de correo no acepta esas direcciones (SMTPUTF8); el aviso "
               "VENCIDA_1 queda pendiente: corrija la dirección o configure un servidor que las "
               "acepte")
WAITING = (f"{UTF8_LOCAL}: el servidor de correo no acepta direcciones con caracteres no "
           "ASCII antes de la @ (SMTPUTF8)")


def by_rcpt(server: SmtpTestServer) -> dict[str, tuple[str, str]]:
    """Envelope recipient -> (To header, Subject) of each accepted message."""
    return {r.rcpt_tos[0]: (str(r.message["To"]), r.subject) for r in server.received()}


def test_idn_goes_in_punycode_and_a_utf8_local_part_waits_without_smtputf8(tmp_path):
    book = make_workbook(tmp_path, CUSTOMERS)
    server = SmtpTestServer()
    server.smtputf8 = False
    with server:
        sync(book, "2026-11-25T10:00", server)
        got = by_rcpt(server)
        assert sorted(got) == ["pagos@lopez.mx", IDN_WIRE, "ruiz@ruiz.mx"]
        assert got[IDN_WIRE][0] == IDN_WIRE  # the header too
        assert all(r.mail_from == "cobranza@miempresa.com" for r in server.received())
        states = envios(book)
        assert states == {
            "C1": ("pagos@lopez.mx", "enviado", ""), "C2": (IDN, "enviado", ""),
            "C3": (UTF8_LOCAL, "pendiente", WAITING),
            "C4": ("", "pendiente", "el cliente no tiene un email válido en la hoja Clientes"),
            "C5": ("ruiz@ruiz.mx", "enviado", ""),
        }
        assert errores(book) == [NOT_VALID, NO_EMAIL, NO_SMTPUTF8]
        assert "C3" not in ledger(book)  # never claimed: nothing was sent

        # The next sync: still waiting, still reported, nothing sent twice.
        sync(book, "2026-11-25T10:30", server)
        assert len(server.received()) == 3
        assert envios(book)["C3"] == (UTF8_LOCAL, "pendiente", WAITING)
        assert errores(book) == [NOT_VALID, NO_EMAIL, NO_SMTPUTF8]

        # The user fixes both addresses: each notice goes once.
        set_cells(book, "Clientes", ("Cliente", "C3"), {"Email": "jose.perez@cliente.mx"})
        set_cells(book, "Clientes", ("Cliente", "C4"), {"Email": "a1@x.mx"})
        sync(book, "2026-11-25T11:00", server)
        sync(book, "2026-11-25T11:30", server)
        assert sorted(by_rcpt(server)) == [
            "a1@x.mx", "jose.perez@cliente.mx", "pagos@lopez.mx", IDN_WIRE, "ruiz@ruiz.mx"]
        assert len(server.received()) == 5
        assert errores(book) == []
        states = {c: s for c, (_, s, _) in envios(book).items()}
        assert states == dict.fromkeys(CUSTOMERS, "enviado")


def test_a_utf8_local_part_goes_when_the_server_offers_smtputf8(tmp_path):
    book = make_workbook(tmp_path, {"C2": IDN, "C3": UTF8_LOCAL, "C5": "ruiz@ruiz.mx"})
    with SmtpTestServer() as server:  # aiosmtpd offers SMTPUTF8 by default
        sync(book, "2026-11-25T10:00", server)
        [utf8] = [r for r in server.received() if r.rcpt_tos == (UTF8_LOCAL,)]
        assert "SMTPUTF8" in utf8.mail_options
        assert str(utf8.message["To"]) == UTF8_LOCAL
        assert "F-C3" in utf8.body()
        assert sorted(by_rcpt(server)) == [UTF8_LOCAL, IDN_WIRE, "ruiz@ruiz.mx"]
        assert [r.mail_options for r in server.received() if r.rcpt_tos != (UTF8_LOCAL,)] == [
            (), ()]  # plain ASCII messages stay plain
    assert {c: s for c, (_, s, _) in envios(book).items()} == {
        "C2": "enviado", "C3": "enviado", "C5": "enviado"}
    assert errores(book) == []


def test_outbox_writes_both_kinds_of_address(tmp_path):
    book = make_workbook(tmp_path, {"C2": IDN, "C3": UTF8_LOCAL})
    sync(book, "2026-11-25T10:00", {})  # no SMTP settings: .eml files in salida/
    files = sorted((tmp_path / "salida").glob("*.eml"))
    assert len(files) == 2
    parsed = [email.message_from_string(f.read_text("utf-8"), policy=default_policy)
              for f in files]
    assert sorted(str(m["To"]) for m in parsed) == [UTF8_LOCAL, IDN_WIRE]
    assert {c: s for c, (_, s, _) in envios(book).items()} == {"C2": "enviado", "C3": "enviado"}
    assert ledger_path(book).exists()
