"""Planning of customer notices: due days, windows, catch-up, exclusions, contact rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from book_factory import DEFAULT_NOTICES, make_book

from cobranza.book.config import Config
from cobranza.book.records import InputError
from cobranza.layout.wording import reason_text
from cobranza.notices.customers import PROBLEM_NO_EMAIL
from cobranza.notices.messages import Skipped, notice_key
from cobranza.notices.planner import History, plan_notices

MX = ZoneInfo("America/Mexico_City")
FREE = Config(business_days_only=False, legal_profile="ninguno")  # no calendar interference
CODES = [code for code, *_ in DEFAULT_NOTICES]


def at(day: str, clock: str = "10:00", zone: ZoneInfo = MX) -> datetime:
    return datetime.fromisoformat(f"{day} {clock}").replace(tzinfo=zone)


def invoices(today: str, *rows: dict) -> pd.DataFrame:
    """A compute_invoices-shaped frame; status by date unless given, balance 1000.00."""
    as_of = pd.Timestamp(today)
    records = []
    for i, r in enumerate(rows):
        due = pd.Timestamp(r["due"])
        days = (as_of - due).days
        by_date = "Por vencer" if days <= 0 else "Vencida" if days < 60 else "En acción"
        records.append({
            "invoice": r["invoice"], "customer": r.get("customer", "C1"),
            "issued": pd.Timestamp(r["issued"]) if r.get("issued") else pd.NaT, "due": due,
            "currency": r.get("currency", "MXN"), "amount": 100000, "notes": "", "row": i + 2,
            "paid": 0, "balance": r.get("balance", 100000), "days_overdue": days,
            "bucket": "", "status": r.get("status", by_date), "status_date": pd.NaT,
            "promise_date": pd.Timestamp(r["promise"]) if r.get("promise") else pd.NaT,
            "last_contact": pd.NaT, "collector": "Ana", "area": "", "name": "",
            "no_contact_date": pd.Timestamp(r["no_contact"]) if r.get("no_contact") else pd.NaT,
        })
    frame = pd.DataFrame(records)
    for column in ("issued", "due", "status_date", "promise_date", "last_contact",
                   "no_contact_date"):
        frame[column] = frame[column].astype("datetime64[ns]")
    return frame


def book(customers=(), notices=None, templates=None, config=FREE, **kw):
    if templates is None:
        codes = [n[0] for n in (notices or DEFAULT_NOTICES)]
        templates = [(c, f"Asunto {c}", "Cuerpo", True) for c in codes]
    customers = list(customers) or [{"customer": "C1"}]
    return make_book(customers=customers, notices=notices, templates=templates, config=config,
                     **kw)


NO_HISTORY = History()


def plan(frame, now, the_book=None, history=NO_HISTORY):
    """(messages and skipped messages in one list, sorted like the planner's, errors);
    reasons as Envíos words them."""
    messages, skipped, errors = plan_notices(the_book or book(), frame, now, history)
    merged = [*map(worded, messages), *as_outgoing(skipped)]
    return sorted(merged, key=lambda o: (o.recipient, o.code, o.state, o.reason)), errors


def worded(outgoing):
    """An Outgoing as a plain view whose reason is its Envíos sentence."""
    return SimpleNamespace(**{**outgoing.__dict__, "reason": reason_text(outgoing.reason)})


def as_outgoing(skipped: Skipped) -> list[SimpleNamespace]:
    """The batch's messages shaped like Outgoings, so one assertion covers both."""
    stops = [*skipped.start[1:].tolist(), len(skipped.key)][:len(skipped)]
    return [
        SimpleNamespace(
            kind="aviso", recipient=m.recipient, code=m.code, template=m.template,
            state="omitido", reason=reason_text(m.reason), to=tuple(filter(None, m.to.split("; "))),
            keys=m.keys, lines=[SimpleNamespace(invoice=i) for i in skipped.invoice[a:b]],
        )
        for m, a, b in zip(skipped.messages(), skipped.start.tolist(), stops, strict=True)
    ]


def summary(outgoing, code=None):
    return [
        (o.recipient, o.code, o.state, o.reason, [line.invoice for line in o.lines])
        for o in outgoing
        if code is None or o.code == code
    ]


# --- due day and window edges, one invoice: issued 2026-10-11, due 2026-11-10 -----------

INV = {"invoice": "F1", "issued": "2026-10-11", "due": "2026-11-10"}
PROMISED = {**INV, "promise": "2026-11-30"}


def _status_for_promise(today: str) -> str:
    return "Promesa de pago" if today <= "2026-11-30" else "Promesa incumplida"


LATE = "fuera de plazo"
LISTO = "listo"


@pytest.mark.parametrize(
    ("code", "today", "expected"),
    [
        ("NUEVA", "2026-10-10", []),
        ("NUEVA", "2026-10-11", [LISTO]),
        ("NUEVA", "2026-10-18", [LISTO]),
        ("NUEVA", "2026-10-19", [LATE]),
        ("PREVIO", "2026-11-04", []),
        ("PREVIO", "2026-11-05", [LISTO]),
        ("PREVIO", "2026-11-10", [LISTO]),  # until Vencimiento, inclusive
        ("PREVIO", "2026-11-11", [LATE]),
        ("VENCIDA_1", "2026-11-10", []),
        ("VENCIDA_1", "2026-11-11", [LISTO]),
        ("VENCIDA_1", "2026-11-24", [LISTO]),  # the day before VENCIDA_15 is due
        ("VENCIDA_1", "2026-11-25", ["se envía VENCIDA_15 en su lugar"]),
        ("VENCIDA_15", "2026-11-24", []),
        ("VENCIDA_15", "2026-11-25", [LISTO]),
        ("VENCIDA_15", "2026-12-09", [LISTO]),
        ("VENCIDA_15", "2026-12-10", ["se envía VENCIDA_30 en su lugar"]),
        ("VENCIDA_30", "2026-12-10", [LISTO]),
        ("VENCIDA_30", "2026-12-24", [LISTO]),
        ("VENCIDA_30", "2026-12-25", ["se envía MORA_45 en su lugar"]),
        ("MORA_45", "2026-12-24", []),
        ("MORA_45", "2026-12-25", [LISTO]),
        ("MORA_45", "2027-01-08", [LISTO]),
        ("MORA_45", "2027-01-09", ["se envía SUSPENSION_60 en su lugar"]),
        ("SUSPENSION_60", "2027-01-08", []),
        ("SUSPENSION_60", "2027-01-09", [LISTO]),
        ("SUSPENSION_60", "2027-01-16", [LISTO]),  # last stage: 7 days after its date
        ("SUSPENSION_60", "2027-01-17", [LATE]),
    ],
)
def test_invoice_notice_windows(code, today, expected):
    out, errors = plan(invoices(today, INV), at(today))
    got = [o.reason or o.state for o in out if o.code == code]
    assert (got, errors) == (expected, [])


@pytest.mark.parametrize(
    ("code", "today", "expected"),
    [
        ("PROMESA_PREVIA", "2026-11-28", []),
        ("PROMESA_PREVIA", "2026-11-29", [LISTO]),
        ("PROMESA_PREVIA", "2026-11-30", [LISTO]),  # until Fecha compromiso, inclusive
        ("PROMESA_PREVIA", "2026-12-01", [LATE]),
        ("PROMESA_INCUMPLIDA", "2026-11-30", []),
        ("PROMESA_INCUMPLIDA", "2026-12-01", [LISTO]),
        ("PROMESA_INCUMPLIDA", "2026-12-08", [LISTO]),
        ("PROMESA_INCUMPLIDA", "2026-12-09", [LATE]),
    ],
)
def test_promise_notice_windows(code, today, expected):
    frame = invoices(today, {**PROMISED, "status": _status_for_promise(today)})
    out, _ = plan(frame, at(today))
    assert [o.reason or o.state for o in out if o.code == code] == expected


@pytest.mark.parametrize(
    ("today", "expected", "month"),
    [
        ("2026-12-01", [LISTO], "2026-12-01"),  # first business day of December in MX
        ("2026-12-07", [LISTO], "2026-12-01"),  # fifth business day
        ("2026-12-08", [LATE], "2026-12-01"),
        ("2026-02-02", [], None),  # Día de la Constitución: statements start on the 3rd
        ("2026-02-03", [LISTO], "2026-02-01"),
        ("2026-02-09", [LISTO], "2026-02-01"),
        ("2026-02-10", [LATE], "2026-02-01"),
    ],
)
def test_monthly_statement_window(today, expected, month):
    frame = invoices(today, {"invoice": "F1", "due": "2027-03-01"},
                     {"invoice": "F2", "due": "2027-01-01"})
    out, _ = plan(frame, at(today))
    monthly = [o for o in out if o.code == "ESTADO_MENSUAL"]
    assert [o.reason or o.state for o in monthly] == expected
    if month:
        key = notice_key("C1", "", "ESTADO_MENSUAL", date.fromisoformat(month))
        assert [(o.keys, [ln.invoice for ln in o.lines]) for o in monthly] == [
            ((key,), ["F2", "F1"])
        ]


def test_catch_up_sends_only_the_latest_reminder():
    frame = invoices("2026-10-31", {"invoice": "F1", "due": "2026-10-01"})
    out, _ = plan(frame, at("2026-10-31"))
    assert summary(out) == [
        ("C1", "ESTADO_MENSUAL", "omitido", LATE, ["F1"]),
        ("C1", "PREVIO", "omitido", LATE, ["F1"]),
        ("C1", "VENCIDA_1", "omitido", "se envía VENCIDA_30 en su lugar", ["F1"]),
        ("C1", "VENCIDA_15", "omitido", "se envía VENCIDA_30 en su lugar", ["F1"]),
        ("C1", "VENCIDA_30", "listo", "", ["F1"]),
    ]


def test_catch_up_names_the_stage_its_template_holds_back():
    """The latest stage waits for its template (it goes once approved), so the earlier
    ones are replaced by it, not merely late."""
    the_book = book(templates=[(c, "s", "b", c != "VENCIDA_30") for c in CODES])
    frame = invoices("2026-10-31", {"invoice": "F1", "due": "2026-10-01"})
    out, errors = plan(frame, at("2026-10-31"), the_book)
    assert summary(out)[2:] == [
        ("C1", "VENCIDA_1", "omitido", "se envía VENCIDA_30 en su lugar", ["F1"]),
        ("C1", "VENCIDA_15", "omitido", "se envía VENCIDA_30 en su lugar", ["F1"]),
        ("C1", "VENCIDA_30", "pendiente", "plantilla VENCIDA_30 no aprobada", ["F1"]),
    ]
    assert [(e.sheet, e.row, e.column) for e in errors] == [("Plantillas", 6, "Aprobada")]


def test_final_keys_are_never_planned_again():
    frame = invoices("2026-10-31", {"invoice": "F1", "due": "2026-10-01"},
                     {"invoice": "F2", "due": "2026-11-20", "issued": "2026-10-30"})
    first, _ = plan(frame, at("2026-10-31"))
    keys = frozenset(k for o in first for k in o.keys)
    assert sorted(keys) == [
        "aviso|C1|F1|PREVIO|", "aviso|C1|F1|VENCIDA_15|", "aviso|C1|F1|VENCIDA_1|",
        "aviso|C1|F1|VENCIDA_30|", "aviso|C1|F2|NUEVA|", "aviso|C1||ESTADO_MENSUAL|2026-10-01",
    ]
    again, _ = plan(frame, at("2026-10-31"), history=History(final_keys=keys))
    assert again == []


def test_keys_match_notice_key():
    frame = invoices("2026-12-01", {**PROMISED, "status": "Promesa incumplida"})
    out, _ = plan(frame, at("2026-12-01"))
    keys = {part.code: part.keys for o in out for part in getattr(o, "parts", ())}
    assert keys["PROMESA_INCUMPLIDA"] == (
        notice_key("C1", "F1", "PROMESA_INCUMPLIDA", date(2026, 11, 30)),
    )
    assert keys["VENCIDA_15"] == (notice_key("C1", "F1", "VENCIDA_15"),)


# --- exclusions -----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["Tercerizada", "Castigada"])
def test_excluded_statuses_get_no_record(status):
    frame = invoices("2026-11-11", {**INV, "status": status, "promise": "2026-12-31"})
    assert plan(frame, at("2026-11-11")) == ([], [])


@pytest.mark.parametrize("status", ["Disputa", "Pago informado", "Promesa de pago"])
def test_paused_statuses_get_only_the_monthly_statement(status):
    """No reminder for a disputed, reported or promised invoice, but the monthly statement
    lists it (SPEC: every open invoice, marked with its Estatus)."""
    frame = invoices("2026-11-11", {**INV, "status": status, "promise": "2026-12-31"})
    out, _ = plan(frame, at("2026-11-11"))
    assert summary(out) == [("C1", "ESTADO_MENSUAL", "omitido", "fuera de plazo", ["F1"])]
    out, _ = plan(invoices("2026-12-01", {**INV, "status": status, "promise": "2026-12-31"}),
                  at("2026-12-01"))
    assert summary(out) == [("C1", "ESTADO_MENSUAL", "listo", "", ["F1"])]
    assert [line.status for line in out[0].lines] == [status]


def test_paid_invoice_gets_no_record():
    frame = invoices("2026-11-11", {**INV, "balance": 0, "status": "Pagada"})
    assert plan(frame, at("2026-11-11")) == ([], [])


def test_promise_kept_vs_broken():
    kept = invoices("2026-12-01", {**PROMISED, "balance": 0, "status": "Pagada"})
    assert plan(kept, at("2026-12-01")) == ([], [])
    broken = invoices("2026-12-01", {**PROMISED, "status": "Promesa incumplida"})
    out, _ = plan(broken, at("2026-12-01"))
    assert ("C1", "PROMESA_INCUMPLIDA", "listo", "", ["F1"]) in summary(out)


@pytest.mark.parametrize(
    ("customer", "reason"),
    [
        ({"customer": "C1", "auto_notices": False}, "avisos automáticos desactivados"),
        ({"customer": "C1", "segment": "VIP"}, "segmento VIP"),
        ({"customer": "C1", "segment": " vip "}, "segmento vip"),
    ],
)
def test_customer_exclusions(customer, reason):
    frame = invoices("2026-11-11", INV)
    out, errors = plan(frame, at("2026-11-11"), book([customer]))
    assert (summary(out, "VENCIDA_1"), errors) == (
        [("C1", "VENCIDA_1", "omitido", reason, ["F1"])], []
    )


def test_segments_without_notices_come_from_configuration():
    config = replace(FREE, segments_without_notices=frozenset({"gobierno"}))
    the_book = book([{"customer": "C1", "segment": "VIP"}, {"customer": "C2",
                                                            "segment": "Gobierno"}],
                    config=config)
    frame = invoices("2026-11-11", INV, {**INV, "invoice": "F2", "customer": "C2"})
    out, _ = plan(frame, at("2026-11-11"), the_book)
    assert summary(out, "VENCIDA_1") == [
        ("C1", "VENCIDA_1", "listo", "", ["F1"]),
        ("C2", "VENCIDA_1", "omitido", "segmento Gobierno", ["F2"]),
    ]


NOT_APPROVED = InputError(
    "Plantillas", 3, "Aprobada", "",
    "la plantilla AVISO_1 no está aprobada y la usan los avisos VENCIDA_1 (Configuración, "
    "tabla Avisos, fila 2) y VENCIDA_15 (Configuración, tabla Avisos, fila 3): sus avisos "
    "quedan pendientes; revise el texto y escriba Sí en Aprobada: se enviarán una vez "
    "corregida, mientras sigan vigentes.")
MISSING = InputError(
    "Plantillas", None, "Código", "AVISO_1",
    "no hay una plantilla con este Código y la usan los avisos VENCIDA_1 (Configuración, "
    "tabla Avisos, fila 2) y VENCIDA_15 (Configuración, tabla Avisos, fila 3): sus avisos "
    "quedan pendientes; agregue la fila (Código, Asunto, Cuerpo, Aprobada Sí) o corrija la "
    "Plantilla del aviso: se enviarán una vez corregida, mientras sigan vigentes.")


@pytest.mark.parametrize(
    ("templates", "reason", "error"),
    [
        ([("OTRA", "s", "b", True), ("AVISO_1", "s", "b", False)],
         "plantilla AVISO_1 no aprobada", NOT_APPROVED),
        ([("OTRA", "s", "b", True)], "plantilla AVISO_1 no existe en Plantillas", MISSING),
    ],
)
def test_a_template_to_fix_holds_its_notices_pendiente_with_one_errores_row(
        templates, reason, error):
    the_book = book(notices=[("VENCIDA_1", "vencimiento", 1, "AVISO_1"),
                             ("VENCIDA_15", "vencimiento", 15, "AVISO_1")],
                    templates=templates)
    frame = invoices("2026-11-26", {**INV, "due": "2026-11-25"},
                     {**INV, "invoice": "F2", "customer": "C2", "due": "2026-11-10"})
    out, errors = plan(frame, at("2026-11-26"), the_book)
    assert summary(out) == [("C1", "VENCIDA_1", "pendiente", reason, ["F1"]),
                            ("C2", "VENCIDA_1", "omitido", "se envía VENCIDA_15 en su lugar",
                             ["F2"]),
                            ("C2", "VENCIDA_15", "pendiente", reason, ["F2"])]
    assert errors == [error]


def test_a_template_to_fix_gives_no_errores_row_once_its_notices_are_late():
    """Nothing waits for it any more: the notice is final "fuera de plazo"."""
    the_book = book(notices=[("VENCIDA_1", "vencimiento", 1), ("VENCIDA_15", "vencimiento", 15)],
                    templates=[("VENCIDA_1", "s", "b", False), ("VENCIDA_15", "s", "b", True)])
    out, errors = plan(invoices("2026-11-12", INV), at("2026-11-12"), the_book)
    assert summary(out, "VENCIDA_1") == [("C1", "VENCIDA_1", "pendiente",
                                          "plantilla VENCIDA_1 no aprobada", ["F1"])]
    out, errors = plan(invoices("2026-11-25", INV), at("2026-11-25"), the_book)
    assert (summary(out), errors) == (
        [("C1", "VENCIDA_1", "omitido", "se envía VENCIDA_15 en su lugar", ["F1"]),
         ("C1", "VENCIDA_15", "listo", "", ["F1"])], [])


def test_reopened_keys_come_back_unless_the_planner_would_skip_them():
    """Keys an earlier release recorded final for a template: planned again while they
    can still go; a late one is left out (its old ledger row stays the record)."""
    frame = invoices("2026-11-11", INV, {**INV, "invoice": "F2", "due": "2026-10-01"})
    keys = {notice_key("C1", f, "VENCIDA_1") for f in ("F1", "F2")}
    history = History(reopened=frozenset(keys))
    out, _ = plan(frame, at("2026-11-11"), book(notices=[("VENCIDA_1", "vencimiento", 1)]),
                  history)
    assert summary(out) == [("C1", "VENCIDA_1", "listo", "", ["F1"])]


def test_no_valid_email_waits_pendiente_with_one_input_error_per_customer():
    the_book = book([{"customer": "C1", "emails": "cobranza-cliente", "row": 7}],
                    notices=[("VENCIDA_1", "vencimiento", 1), ("VENCIDA_15", "vencimiento", 15)])
    frame = invoices("2026-11-26", {**INV, "due": "2026-11-25"},
                     {**INV, "invoice": "F2", "due": "2026-11-25"},
                     {**INV, "invoice": "F3", "due": "2026-11-10"})
    out, errors = plan(frame, at("2026-11-26"), the_book)
    reason = "el cliente no tiene un email válido en la hoja Clientes"
    assert summary(out) == [
        ("C1", "VENCIDA_1", "omitido", "se envía VENCIDA_15 en su lugar", ["F3"]),
        ("C1", "VENCIDA_1", "pendiente", reason, ["F1", "F2"]),
        ("C1", "VENCIDA_15", "pendiente", reason, ["F3"]),
    ]
    assert [o.to for o in out] == [(), (), ()]
    # the cell as validation keeps it: none of its addresses is valid (validation's own
    # Errores row shows "cobranza-cliente")
    assert errors == [InputError("Clientes", 7, "Email", "", PROBLEM_NO_EMAIL)]


def test_customer_missing_from_clientes_waits_pendiente():
    the_book = book(notices=[("VENCIDA_1", "vencimiento", 1)])
    frame = invoices("2026-11-11", {**INV, "customer": "C9"})
    out, errors = plan(frame, at("2026-11-11"), the_book)
    assert summary(out) == [("C9", "VENCIDA_1", "pendiente",
                             "el cliente no está en la hoja Clientes", ["F1"])]
    assert [(e.sheet, e.row, e.column, e.value) for e in errors] == [
        ("Clientes", None, "Cliente", "C9")
    ]


# --- the Avisos table drives the plan ---------------------------------------------------


def test_editing_avisos_changes_the_plan():
    frame = invoices("2026-11-11", INV)
    edited = [("VENCIDA_1", "vencimiento", 3, "RECORDATORIO")]
    templates = [("RECORDATORIO", "s", "b", True)]
    out, _ = plan(frame, at("2026-11-11"), book(notices=edited, templates=templates))
    assert out == []
    out, _ = plan(invoices("2026-11-13", INV), at("2026-11-13"),
                  book(notices=edited, templates=templates))
    assert [(o.code, o.template, o.state) for o in out] == [("VENCIDA_1", "RECORDATORIO",
                                                            "listo")]
    inactive = [("VENCIDA_1", "vencimiento", 1, "VENCIDA_1", False)]
    assert plan(frame, at("2026-11-11"), book(notices=inactive))[0] == []


def test_a_new_stage_in_avisos_narrows_the_previous_window():
    notices = [("VENCIDA_1", "vencimiento", 1), ("VENCIDA_5", "vencimiento", 5)]
    out, _ = plan(invoices("2026-11-15", INV), at("2026-11-15"), book(notices=notices))
    assert summary(out) == [
        ("C1", "VENCIDA_1", "omitido", "se envía VENCIDA_5 en su lugar", ["F1"]),
        ("C1", "VENCIDA_5", "listo", "", ["F1"]),
    ]


# --- grouping ---------------------------------------------------------------------------


def test_one_message_per_customer_and_code_listing_its_invoices():
    the_book = book([{"customer": "C1", "emails": "a@c1.com; b@c1.com", "cc": "jefe@c1.com"},
                     {"customer": "C2"}], notices=[("VENCIDA_1", "vencimiento", 1)])
    frame = invoices("2026-11-11", {**INV, "invoice": "F9"}, {**INV, "invoice": "F2"},
                     {**INV, "invoice": "F3", "customer": "C2"},
                     {**INV, "invoice": "F1", "due": "2026-11-08", "currency": "USD"})
    out, _ = plan(frame, at("2026-11-11"), the_book)
    assert summary(out) == [
        ("C1", "VENCIDA_1", "listo", "", ["F1", "F2", "F9"]),
        ("C2", "VENCIDA_1", "listo", "", ["F3"]),
    ]
    first = out[0]
    assert (first.kind, first.to, first.cc, first.template) == (
        "aviso", ("a@c1.com", "b@c1.com"), ("jefe@c1.com",), "VENCIDA_1")
    assert first.keys == tuple(notice_key("C1", f, "VENCIDA_1") for f in ("F1", "F2", "F9"))
    assert first.context == {"customer": "C1", "customer_name": "Cliente C1"}
    line = first.lines[0]
    assert (line.invoice, line.due, line.issued, line.days_overdue, line.balance,
            line.currency, line.promise_date, line.status) == (
        "F1", date(2026, 11, 8), date(2026, 10, 11), 3, 100000, "USD", None, "Vencida")


# --- sending window, holidays, time zones ----------------------------------------------

ONLY_V1 = [("VENCIDA_1", "vencimiento", 1)]


def _one(config, now, customers=(), history=NO_HISTORY, due="2026-11-10"):
    frame = invoices(now.date().isoformat(), {**INV, "due": due})
    out, _ = plan(frame, now, book(customers, notices=ONLY_V1, config=config), history)
    return [(o.state, o.reason) for o in out]


def test_holiday_defers_to_pendiente():
    assert _one(Config(), at("2026-12-25"), due="2026-12-24") == [
        ("pendiente", "día feriado en MX")
    ]


def test_outside_the_window_defers_and_names_the_next_instant():
    frame = invoices("2026-11-11", INV)
    out, _ = plan(frame, at("2026-11-11", "21:00"), book(notices=ONLY_V1, config=Config()))
    assert [(o.state, o.reason) for o in out] == [
        ("pendiente", "fuera de la ventana de envío 08:00-20:00 (hora del cliente)")
    ]
    assert out[0].context["next_allowed"] == at("2026-11-12", "08:00")


def test_window_is_checked_in_each_customers_zone():
    customers = [{"customer": "C1"}, {"customer": "C2", "timezone": "America/Bogota"}]
    frame = invoices("2026-11-11", INV, {**INV, "invoice": "F2", "customer": "C2"})
    now = at("2026-11-11", "19:30")  # 20:30 in Bogotá
    out, _ = plan(frame, now, book(customers, notices=ONLY_V1, config=Config()))
    assert summary(out) == [
        ("C1", "VENCIDA_1", "listo", "", ["F1"]),
        ("C2", "VENCIDA_1", "pendiente",
         "fuera de la ventana de envío 08:00-20:00 (hora del cliente)", ["F2"]),
    ]


def test_each_customer_follows_the_rules_of_its_pais():
    """A Mexican company on Tuesday 8 December 2026 (a holiday in CO and AR, not in MX):
    C1 (blank País: Perfil legal MX) goes; C2 (CO) waits for Wednesday under CO's law,
    C3 (AR, no profile) for Wednesday too, its own country's holidays being 7 and 8."""
    customers = [{"customer": "C1"},
                 {"customer": "C2", "timezone": "America/Bogota", "country": "CO"},
                 {"customer": "C3", "timezone": "America/Argentina/Buenos_Aires",
                  "country": "AR"}]
    frame = invoices("2026-12-08", *({**INV, "invoice": f"F{i}", "customer": f"C{i}",
                                      "due": "2026-12-07"} for i in (1, 2, 3)))
    out, _ = plan(frame, at("2026-12-08", "10:00"),
                  book(customers, notices=ONLY_V1, config=Config()))
    assert summary(out) == [
        ("C1", "VENCIDA_1", "listo", "", ["F1"]),
        ("C2", "VENCIDA_1", "pendiente", "día feriado en CO", ["F2"]),
        ("C3", "VENCIDA_1", "pendiente", "día feriado en AR", ["F3"]),
    ]
    assert [o.context["next_allowed"] for o in out[1:]] == [
        at("2026-12-09", "08:00", ZoneInfo("America/Bogota")),
        at("2026-12-09", "08:00", ZoneInfo("America/Argentina/Buenos_Aires"))]


# --- legal profiles ---------------------------------------------------------------------


MX_HOURS = "Perfil legal MX: fuera del horario permitido 07:00-22:00 (hora del cliente)"


def _legal(profile: str, **changes) -> Config:
    return replace(Config(), legal_profile=profile, **changes)


@pytest.mark.parametrize(
    ("config", "now", "contacts", "expected"),
    [
        (_legal("MX", window_end=time(23)), at("2026-11-11", "22:30"), (),
         ("pendiente", MX_HOURS)),
        (_legal("MX", window_end=time(23)), at("2026-11-11", "21:30"), (), ("listo", "")),
        (_legal("CO"), at("2026-11-11"), (at("2026-11-11", "08:30"),),
         ("pendiente", "Perfil legal CO: ya hubo un contacto hoy")),
        (_legal("CO"), at("2026-11-11"), (at("2026-11-10", "08:30"),), ("listo", "")),
        (_legal("CO", business_days_only=False), at("2026-11-15"), (),
         ("pendiente", "Perfil legal CO: domingo no se permite contacto")),
        (_legal("CL"), at("2026-11-13"), (at("2026-11-09"), at("2026-11-11")),
         ("pendiente", "Perfil legal CL: máximo dos mensajes por semana")),
        (_legal("CL"), at("2026-11-12"), (at("2026-11-11"),),
         ("pendiente", "Perfil legal CL: debe haber al menos dos días entre mensajes")),
        (_legal("CL"), at("2026-11-13"), (at("2026-11-11"),), ("listo", "")),
        (_legal("PE"), at("2026-07-28"), (),
         ("pendiente", "Perfil legal PE: día feriado en PE, no se permite contacto")),
        (_legal("PE"), at("2026-07-27"), (), ("listo", "")),
    ],
)
def test_legal_profiles(config, now, contacts, expected):
    due = (now.date() - timedelta(days=1)).isoformat()
    history = History(contacts={"C1": contacts})
    assert _one(config, now, history=history, due=due) == [expected]


def test_one_email_a_day_combines_every_notice_due_most_severe_first():
    """Three notices due for one customer: one email, PROMESA_INCUMPLIDA first (its
    subject), then VENCIDA_1 and NUEVA; it counts as one contact, even for CO's law."""
    notices = [("VENCIDA_1", "vencimiento", 1), ("PROMESA_INCUMPLIDA", "compromiso", 1),
               ("NUEVA", "emision", 0)]
    frame = invoices("2026-11-11", {**INV, "issued": None},
                     {**INV, "invoice": "F2", "promise": "2026-11-10", "issued": None,
                      "status": "Promesa incumplida", "due": "2026-12-31"},
                     {**INV, "invoice": "F3", "issued": "2026-11-11", "due": "2026-12-31"})
    for config in (_legal("CO"), Config()):
        out, _ = plan(frame, at("2026-11-11"), book(notices=notices, config=config))
        assert summary(out) == [("C1", "PROMESA_INCUMPLIDA", "listo", "", ["F2", "F1", "F3"])]
        assert [(p.code, [line.invoice for line in p.lines]) for p in out[0].parts] == [
            ("PROMESA_INCUMPLIDA", ["F2"]), ("VENCIDA_1", ["F1"]), ("NUEVA", ["F3"])]


@pytest.mark.parametrize(("config", "said"), [
    (Config(), "ya se envió un aviso hoy"),
    (_legal("CO"), "Perfil legal CO: ya hubo un contacto hoy"),
])
def test_a_notice_due_after_todays_email_waits_for_the_next_day(config, said):
    notices = [("VENCIDA_1", "vencimiento", 1), ("NUEVA", "emision", 0)]
    frame = invoices("2026-11-11", {**INV, "issued": None},
                     {**INV, "invoice": "F3", "issued": "2026-11-11", "due": "2026-12-31"})
    history = History(contacts={"C1": (at("2026-11-11", "09:00"),)})
    out, _ = plan(frame, at("2026-11-11", "15:00"), book(notices=notices, config=config),
                  history)
    assert summary(out) == [("C1", "NUEVA", "pendiente", said, ["F3"]),
                            ("C1", "VENCIDA_1", "pendiente", said, ["F1"])]
    assert {o.context["next_allowed"] for o in out} == {at("2026-11-12", "08:00")}


def test_empty_avisos_or_no_invoices_plan_nothing():
    frame = invoices("2026-11-11", INV)
    assert plan(frame, at("2026-11-11"), book(notices=[], templates=[])) == ([], [])
    assert plan(frame.iloc[:0], at("2026-11-11")) == ([], [])


def test_skipped_notices_come_as_one_columnar_batch():
    """omitido messages are not Outgoings: code, customer, reason, lines in line order."""
    the_book = book([{"customer": "C1", "emails": "a@c1.mx; b@c1.mx"}])
    frame = invoices("2026-10-31", {"invoice": "F2", "due": "2026-10-01"},
                     {"invoice": "F1", "due": "2026-10-01"}, {"invoice": "F0", "due": "2026-10-02"})
    messages, skipped, errors = plan_notices(the_book, frame, at("2026-10-31"), NO_HISTORY)
    assert [(o.code, o.state, [p.code for p in o.parts]) for o in messages] == [
        ("VENCIDA_30", "listo", ["VENCIDA_30", "VENCIDA_15"])]
    assert (len(skipped), errors) == (5, [])
    instead = "se envía VENCIDA_30 en su lugar"
    month = notice_key("C1", "", "ESTADO_MENSUAL", date(2026, 10, 1))
    assert [m._replace(reason=reason_text(m.reason)) for m in skipped.messages()] == [
        ("ESTADO_MENSUAL", "C1", "a@c1.mx; b@c1.mx", "ESTADO_MENSUAL", LATE, "F1, F2, F0",
         (month,)),
        ("PREVIO", "C1", "a@c1.mx; b@c1.mx", "PREVIO", LATE, "F1, F2, F0",
         tuple(notice_key("C1", f, "PREVIO") for f in ("F1", "F2", "F0"))),
        ("VENCIDA_1", "C1", "a@c1.mx; b@c1.mx", "VENCIDA_1", "se envía VENCIDA_15 en su lugar",
         "F0", (notice_key("C1", "F0", "VENCIDA_1"),)),
        ("VENCIDA_1", "C1", "a@c1.mx; b@c1.mx", "VENCIDA_1", instead, "F1, F2",
         tuple(notice_key("C1", f, "VENCIDA_1") for f in ("F1", "F2"))),
        ("VENCIDA_15", "C1", "a@c1.mx; b@c1.mx", "VENCIDA_15", instead, "F1, F2",
         tuple(notice_key("C1", f, "VENCIDA_15") for f in ("F1", "F2"))),
    ]
    assert skipped.start.tolist() == [0, 3, 6, 7, 9]
    assert skipped.invoice.tolist()[:3] == ["F1", "F2", "F0"]  # due date, then invoice
