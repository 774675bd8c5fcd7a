"""SIN_CONTACTO (seed 003): which gestión anchors it, its 3-day window, its ledger key per
gestión date, its own chain (catch-up, severity), seeding and PROXIMO_AVISO.

The rules run on real records (`make_book` + `compute_invoices`); the end-to-end days
with a real SMTP server are in `test_no_contact_days.py`.
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from book_factory import make_book, synthetic_book

from cobranza.book.config import Config
from cobranza.layout.wording import reason_text
from cobranza.notices.messages import notice_key
from cobranza.notices.planner import History, plan_notices
from cobranza.notices.seeding import seeds_from_envios
from cobranza.notices.stages import stage_table
from cobranza.notices.upcoming import next_notice_text
from cobranza.rules.invoices import compute_invoices, contact_touches, no_contact_dates

MX = ZoneInfo("America/Mexico_City")
FREE = Config(business_days_only=False, legal_profile="ninguno")
NOTICES = [("PREVIO", "vencimiento", -5), ("VENCIDA_1", "vencimiento", 1),
           ("VENCIDA_15", "vencimiento", 15), ("SIN_CONTACTO", "gestion", 0)]
# C1: F1 overdue since 06/11, F2 due 30/11 (not yet), F3 overdue since 20/11
INVOICES = [("F1", "C1", "2026-11-05", 1000, "2026-10-01"),
            ("F2", "C1", "2026-11-30", 2000, "2026-10-01"),
            ("F3", "C1", "2026-11-19", 500, "2026-10-01")]


def book(contacts, invoices=INVOICES, notices=NOTICES):
    templates = [(n[0], f"Asunto {n[0]}", "Cuerpo", True) for n in notices]
    return make_book(invoices=invoices, contacts=contacts, notices=notices,
                     templates=templates, config=FREE)


def anchors(contacts, today="2026-11-25", invoices=INVOICES) -> dict[str, str]:
    frame = compute_invoices(book(contacts, invoices), date.fromisoformat(today))
    return {i: d.date().isoformat() for i, d in zip(frame["invoice"], frame["no_contact_date"],
                                                     strict=True) if not pd.isna(d)}


def test_the_anchor_is_the_latest_gestion_when_it_is_sin_contacto():
    assert anchors([("2026-11-25", "C1", "F1", "Sin contacto")]) == {"F1": "2026-11-25"}
    # two on different dates: the latest
    assert anchors([("2026-11-20", "C1", "F1", "Sin contacto"),
                    ("2026-11-24", "C1", "F1", "Sin contacto")]) == {"F1": "2026-11-24"}
    # reached afterwards (same day, later row; or a later day): nothing to say
    assert anchors([("2026-11-24", "C1", "F1", "Sin contacto"),
                    ("2026-11-24", "C1", "F1", "Sin compromiso")]) == {}
    assert anchors([("2026-11-24", "C1", "F1", "Sin compromiso"),
                    ("2026-11-24", "C1", "F1", "Sin contacto")]) == {"F1": "2026-11-24"}
    # dated after the cut-off: not yet known
    assert anchors([("2026-11-26", "C1", "F1", "Sin contacto")]) == {}


def test_a_blank_factura_is_about_the_invoices_past_due_else_every_open_one():
    blank = [("2026-11-25", "C1", "", "Sin contacto")]
    assert anchors(blank) == {"F1": "2026-11-25", "F3": "2026-11-25"}
    not_due = [(f, "C1", "2026-12-20", 100, "2026-10-01") for f in ("F4", "F5")]
    assert anchors(blank, invoices=not_due) == {"F4": "2026-11-25", "F5": "2026-11-25"}
    # past due on the gestión's own date: F3 (due 19/11) was not yet on 18/11
    assert anchors([("2026-11-18", "C1", "", "Sin contacto")]) == {"F1": "2026-11-18"}


def _plain_no_contact_dates(the_book, day: date) -> dict[int, pd.Timestamp]:
    """The oracle of `no_contact_dates`, one gestión at a time."""
    touches = contact_touches(the_book, day)
    blank = set(the_book.contacts.loc[the_book.contacts["invoice"] == "", "row"])
    due = the_book.invoices["due"].tolist()
    about: dict[int, list[int]] = {}  # blank Sin contacto row -> the invoices it is about
    for t in touches.itertuples():
        if t.row in blank and t.result == "Sin contacto":
            about.setdefault(t.row, []).append(t.pos)
    for row, touched in about.items():
        when = touches.loc[touches["row"] == row, "date"].iloc[0]
        about[row] = [p for p in touched if due[p] < when] or touched
    latest: dict[int, tuple] = {}
    for t in touches.itertuples():
        if t.row in about and t.pos not in about[t.row]:
            continue
        if t.pos not in latest or (t.date, t.row) > latest[t.pos][:2]:
            latest[t.pos] = (t.date, t.row, t.result)
    return {p: d for p, (d, _, result) in latest.items() if result == "Sin contacto"}


def test_the_vectorized_anchor_equals_its_plain_oracle():
    the_book = synthetic_book(3000, seed=4)
    for day in (date(2026, 7, 15), date(2026, 9, 30), date(2026, 11, 25)):
        found = no_contact_dates(the_book, contact_touches(the_book, day), 3000)
        expected = _plain_no_contact_dates(the_book, day)
        assert len(expected) > 50, day
        assert found.dropna().to_dict() == expected, day


NO_HISTORY = History()


def plan(contacts, today, history=NO_HISTORY, clock="10:00", notices=NOTICES):
    now = datetime.fromisoformat(f"{today} {clock}").replace(tzinfo=MX)
    the_book = book(contacts, notices=notices)
    frame = compute_invoices(the_book, now.date())
    messages, skipped, _ = plan_notices(the_book, frame, now, history)
    out = {}
    for m in messages:
        for part in m.parts:
            out[(part.code, m.state, reason_text(m.reason))] = [ln.invoice for ln in part.lines]
    for m, start, stop in zip(skipped.messages(), skipped.start.tolist(),
                              [*skipped.start[1:].tolist(), len(skipped.key)], strict=True):
        out[(m.code, "omitido", reason_text(m.reason))] = skipped.invoice[start:stop].tolist()
    return out, messages, skipped


def test_the_stage_is_meaningful_for_three_days_after_the_gestion():
    stages = stage_table(book([]).notices)
    assert stages.set_index("code").loc["SIN_CONTACTO", ["chain", "days", "end_offset"]].tolist(
        ) == ["gestion", 0, 3]
    tried = [("2026-11-21", "C1", "F1", "Sin contacto")]
    for today in ("2026-11-21", "2026-11-24"):
        assert plan(tried, today)[0][("SIN_CONTACTO", "listo", "")] == ["F1"], today
    assert plan(tried, "2026-11-25")[0][("SIN_CONTACTO", "omitido", "fuera de plazo")] == ["F1"]
    assert not [k for k in plan(tried, "2026-11-20")[0] if k[0] == "SIN_CONTACTO"]


def test_one_ledger_key_per_invoice_and_gestion_date():
    tried = [("2026-11-21", "C1", "F1", "Sin contacto")]
    _, messages, _ = plan(tried, "2026-11-21")
    key = notice_key("C1", "F1", "SIN_CONTACTO", date(2026, 11, 21))
    assert key == "aviso|C1|F1|SIN_CONTACTO|2026-11-21"
    assert [p.keys for m in messages for p in m.parts if p.code == "SIN_CONTACTO"] == [(key,)]
    sent = History(final_keys=frozenset({key}))
    assert ("SIN_CONTACTO", "listo", "") not in plan(tried, "2026-11-22", sent)[0]
    again = [*tried, ("2026-11-21", "C1", "F1", "Sin contacto")]  # the same date twice
    assert ("SIN_CONTACTO", "listo", "") not in plan(again, "2026-11-22", sent)[0]
    later = [*tried, ("2026-11-23", "C1", "F1", "Sin contacto")]  # another date: again
    assert plan(later, "2026-11-23", sent)[0][("SIN_CONTACTO", "listo", "")] == ["F1"]


@pytest.mark.parametrize(("gestion", "expected"), [
    (("Disputa", None), None),
    (("Pago informado", None), None),
    (("Asignar a tercero", None), None),
    (("Promesa de pago", "2026-11-30"), None),  # a promise is running: its own notices
    (("Promesa de pago", "2026-11-20"), ["F1"]),  # broken: we call again, no answer
])
def test_excluded_statuses_get_no_sin_contacto(gestion, expected):
    result, promise = gestion
    # a Sin contacto changes no status: the earlier gestión's stands
    contacts = [("2026-11-10", "C1", "F1", result, promise),
                ("2026-11-24", "C1", "F1", "Sin contacto")]
    planned = plan(contacts, "2026-11-24")[0]
    assert planned.get(("SIN_CONTACTO", "listo", "")) == expected


def test_its_own_chain_for_catch_up_and_the_day_email_in_severity_order():
    # F1: VENCIDA_1 passed, VENCIDA_15 going; F3: VENCIDA_1 going; F2: PREVIO going; a
    # SIN_CONTACTO about F1 from 20/11 is late: "fuera de plazo", never "en su lugar"
    contacts = [("2026-11-20", "C1", "F1", "Sin contacto"),
                ("2026-11-25", "C1", "F3", "Sin contacto")]
    planned, messages, _ = plan(contacts, "2026-11-25")
    assert planned[("SIN_CONTACTO", "omitido", "fuera de plazo")] == ["F1"]
    assert planned[("VENCIDA_1", "omitido", "se envía VENCIDA_15 en su lugar")] == ["F1"]
    [email] = messages
    assert [(p.code, [ln.invoice for ln in p.lines]) for p in email.parts] == [
        ("VENCIDA_15", ["F1"]), ("VENCIDA_1", ["F3"]), ("SIN_CONTACTO", ["F3"]),
        ("PREVIO", ["F2"])]
    assert email.code == "VENCIDA_15"
    assert [ln.contact_date for ln in email.parts[2].lines] == [date(2026, 11, 25)]


def test_a_first_release_avisos_table_without_the_row_has_no_such_notice():
    old = NOTICES[:3]
    planned = plan([("2026-11-25", "C1", "F1", "Sin contacto")], "2026-11-25", notices=old)[0]
    assert not [k for k in planned if k[0] == "SIN_CONTACTO"]


def test_envios_gives_back_the_key_of_each_gestion_date():
    the_book = book([("2026-11-20", "C1", "F1", "Sin contacto"),
                     ("2026-11-24", "C1", "", "Sin contacto")])
    sent = pd.DataFrame([
        {"when": pd.Timestamp("2026-11-21 10:00"), "kind": "Aviso", "code": "SIN_CONTACTO",
         "recipient": "C1", "to": "c1@example.com", "invoices": "F1", "subject": "s",
         "state": "enviado", "reason": ""},
        {"when": pd.Timestamp("2026-11-25 10:00"), "kind": "Aviso",
         "code": "VENCIDA_1, SIN_CONTACTO", "recipient": "C1", "to": "c1@example.com",
         "invoices": "VENCIDA_1: F3; SIN_CONTACTO: F1, F3", "subject": "s", "state": "enviado",
         "reason": ""},
    ])
    seeded = seeds_from_envios(sent, the_book)
    assert [m.keys for m in seeded] == [
        (notice_key("C1", "F1", "SIN_CONTACTO", date(2026, 11, 20)),),
        (notice_key("C1", "F3", "VENCIDA_1"),
         notice_key("C1", "F1", "SIN_CONTACTO", date(2026, 11, 24)),
         notice_key("C1", "F3", "SIN_CONTACTO", date(2026, 11, 24))),
    ]


def test_proximo_aviso_shows_it_while_due_and_not_once_sent():
    day = date(2026, 11, 23)
    the_book = book([("2026-11-23", "C1", "F2", "Sin contacto")])
    frame = compute_invoices(the_book, day).set_index("invoice", drop=False)

    def shown(sent=frozenset()):
        return dict(zip(frame.index, next_notice_text(the_book, frame, day, sent), strict=True))

    assert shown()["F2"] == "SIN_CONTACTO 23/11/2026"
    sent = frozenset({notice_key("C1", "F2", "SIN_CONTACTO", day)})
    assert shown(sent)["F2"] == "PREVIO 25/11/2026"


def test_logged_after_todays_email_it_waits_for_the_next_day():
    tried = [("2026-11-23", "C1", "F2", "Sin contacto")]
    morning = History(contacts={"C1": (datetime(2026, 11, 23, 9, tzinfo=MX),)})
    today = plan(tried, "2026-11-23", morning, clock="15:00")[0]
    assert today[("SIN_CONTACTO", "pendiente", "ya se envió un aviso hoy")] == ["F2"]
    assert plan(tried, "2026-11-24", morning)[0][("SIN_CONTACTO", "listo", "")] == ["F2"]
