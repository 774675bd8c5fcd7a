"""The planner and a server's permanent refusal (History.refused): final for the address
it was refused for, with an Errores row while the notice is still meaningful; a new Email
makes it a normal candidate again (nothing was delivered)."""

from __future__ import annotations

from test_notices import INV, at, book, invoices, plan, summary

from cobranza.book.records import InputError
from cobranza.notices.customers import refused_problem
from cobranza.notices.messages import notice_key
from cobranza.notices.planner import History, Refusal

NOTICES = [("VENCIDA_1", "vencimiento", 1), ("VENCIDA_15", "vencimiento", 15)]
REPLY = "el servidor respondió 554 5.7.1 Mensaje rechazado por el filtro de spam"
REFUSED = History(refused={notice_key("C1", "F1", "VENCIDA_1"): Refusal("pagos@c1.mx", REPLY)})


def customer(emails: str) -> dict:
    return {"customer": "C1", "emails": emails, "row": 4}


def test_a_refused_notice_is_held_back_for_the_same_address_with_an_errores_row():
    the_book = book([customer("pagos@c1.mx")], notices=NOTICES)
    out, errors = plan(invoices("2026-11-12", INV), at("2026-11-12"), the_book, REFUSED)
    assert summary(out) == []
    assert errors == [InputError("Clientes", 4, "Email", "pagos@c1.mx",
                                 refused_problem("VENCIDA_1", "pagos@c1.mx", REPLY))]
    assert errors[0].problem == (
        f"el servidor de correo rechazó el aviso VENCIDA_1 para pagos@c1.mx ({REPLY}); "
        "corrija el Email y los avisos vigentes se enviarán a la nueva dirección")


def test_a_new_email_makes_the_refused_notice_go_to_it():
    the_book = book([customer("nuevo@c1.mx")], notices=NOTICES)
    out, errors = plan(invoices("2026-11-12", INV), at("2026-11-12"), the_book, REFUSED)
    assert summary(out) == [("C1", "VENCIDA_1", "listo", "", ["F1"])]
    assert out[0].to == ("nuevo@c1.mx",)
    assert errors == []


def test_no_errores_row_once_the_refused_notice_is_no_longer_meaningful():
    the_book = book([customer("pagos@c1.mx")], notices=NOTICES)
    # VENCIDA_1 was meaningful until 24/11 (the day before VENCIDA_15)
    out, errors = plan(invoices("2026-11-26", INV), at("2026-11-26"), the_book, REFUSED)
    assert summary(out) == [("C1", "VENCIDA_15", "listo", "", ["F1"])]
    assert errors == []
