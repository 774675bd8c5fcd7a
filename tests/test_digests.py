"""Planning of internal digests: due by hour and weekday, one per recipient and period."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from book_factory import make_book

from cobranza.book.config import Config
from cobranza.layout.wording import reason_text
from cobranza.notices.digests import digest_period, plan_digests
from cobranza.notices.messages import digest_key
from cobranza.notices.planner import History
from cobranza.rules.alerts import ALERT_COLUMNS

MX = ZoneInfo("America/Mexico_City")
ACTION, BROKEN = "Acción", "Promesa incumplida"
REPORTED, DISPUTE = "Pago informado no acreditado", "Disputa abierta"
NO_HISTORY = History()


def at(text: str, zone: ZoneInfo = MX) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


def alerts(*rows: tuple) -> pd.DataFrame:
    """(type, customer, collector, invoice, area) -> an alerts frame (ALERT_COLUMNS): due
    on 23/09/2026, 61 days overdue, and a promise for 20/11/2026 on promise rows."""
    frame = pd.DataFrame(
        [
            {"type": t, "customer": c, "name": f"Cliente {c}", "collector": col,
             "invoice": inv, "currency": "MXN", "balance": 50000, "days": 61,
             "detail": f"detalle {inv}", "area": area, "due": pd.Timestamp("2026-09-23"),
             "days_overdue": 61,
             "promise_date": pd.Timestamp("2026-11-20") if t == BROKEN else pd.NaT}
            for t, c, col, inv, area in rows
        ],
        columns=ALERT_COLUMNS,
    )
    return frame.astype({"balance": "int64", "days": "Int64", "days_overdue": "Int64",
                         "due": "datetime64[ns]", "promise_date": "datetime64[ns]"})


BOOK = make_book(
    collectors=[("Ana", "ana@miempresa.com"), ("Beto", "beto@miempresa.com"), ("Caro", "")],
    areas=[("Ventas", "Laura", "laura@miempresa.com"), ("Logística", "Raúl", "")],
)
ALERTS = alerts(
    (ACTION, "C1", "Ana", "F1", ""),
    (ACTION, "C2", "Beto", "F2", ""),
    (BROKEN, "C1", "Ana", "F3", ""),
    (BROKEN, "C2", "Beto", "F4", ""),
    (BROKEN, "C5", "", "F9", ""),  # customer without Cobrador: sheet only
    (DISPUTE, "C1", "Ana", "F5", "Ventas"),
    (REPORTED, "C1", "ana", "F6", ""),  # collector matched ignoring case
    (DISPUTE, "C3", "Caro", "F7", "Logística"),
    ("Mora > 30", "C1", "Ana", "", ""),  # sheet only
)


def plan(now: datetime, history: History = NO_HISTORY, book=BOOK, rows=ALERTS):
    return [
        (o.code, o.recipient, o.state, reason_text(o.reason), [line.invoice for line in o.lines])
        for o in plan_digests(book, rows, now, history)
    ]


@pytest.mark.parametrize(
    ("weekly", "now", "expected"),
    [
        (False, "2026-11-25 07:59", None),
        (False, "2026-11-25 08:00", "2026-11-25"),
        (False, "2026-11-25 23:59", "2026-11-25"),
        (True, "2026-11-23 07:59", None),  # Monday before the hour
        (True, "2026-11-23 08:00", "2026-W48"),
        (True, "2026-11-24 06:00", "2026-W48"),  # missed on Monday: still due on Tuesday
        (True, "2026-11-27 23:00", "2026-W48"),  # Friday, same ISO week
        (True, "2026-12-28 09:00", "2026-W53"),
        # Only on the company's business days (Solo días hábiles, País feriados MX).
        (False, "2026-11-28 09:00", None),  # Saturday
        (False, "2026-11-29 09:00", None),  # Sunday
        (False, "2026-12-25 09:00", None),
        (False, "2027-01-01 09:00", None),
        (True, "2026-11-29 23:00", None),  # Sunday: no catch-up on a weekend
        (True, "2026-11-16 09:00", None),  # Monday, Día de la Revolución: moves to Tuesday
        (True, "2026-11-17 07:59", None),
        (True, "2026-11-17 08:00", "2026-W47"),
    ],
)
def test_digest_period(weekly, now, expected):
    assert digest_period(weekly, at(now), Config()) == expected


def test_digests_every_day_when_solo_dias_habiles_is_no():
    every_day = replace(Config(), business_days_only=False)
    assert digest_period(False, at("2026-12-25 09:00"), every_day) == "2026-12-25"
    assert digest_period(True, at("2026-11-29 23:00"), every_day) == "2026-W48"
    assert digest_period(True, at("2026-11-16 09:00"), every_day) == "2026-W47"


def test_weekly_digest_on_a_holiday_goes_the_next_business_day_for_its_own_week():
    """Friday 1 January 2027 (ISO week 2026-W53) is a holiday: Monday 4 January (2027-W01)
    sends W53's digest; Friday 8 January sends W01's."""
    friday = replace(Config(), weekly_digest_day=4)
    assert digest_period(True, at("2027-01-01 09:00"), friday) is None
    assert digest_period(True, at("2027-01-04 07:59"), friday) is None
    assert digest_period(True, at("2027-01-04 08:00"), friday) == "2026-W53"
    assert digest_period(True, at("2027-01-07 12:00"), friday) == "2026-W53"  # catch-up
    assert digest_period(True, at("2027-01-08 08:00"), friday) == "2027-W01"
    # An ordinary Friday missed is not sent the next week (only a moved one is).
    assert digest_period(True, at("2026-11-30 09:00"), friday) is None


def test_weekly_day_from_configuration():
    friday = replace(Config(), weekly_digest_day=4, daily_digest_time=time(17, 30))
    assert digest_period(True, at("2026-11-26 18:00"), friday) is None  # Thursday
    assert digest_period(True, at("2026-11-27 17:29"), friday) is None
    assert digest_period(True, at("2026-11-27 17:30"), friday) == "2026-W48"


def test_daily_digests_at_the_hour_grouped_per_recipient():
    got = plan(at("2026-11-25 08:00"))
    daily = [g for g in got if g[0] in ("RESUMEN_ACCIONES", "RESUMEN_COBRADOR_DIARIO")]
    assert daily == [
        ("RESUMEN_ACCIONES", "tesoreria@miempresa.com", "listo", "", ["F1", "F2"]),
        ("RESUMEN_COBRADOR_DIARIO", "ana@miempresa.com", "listo", "", ["F3"]),
        ("RESUMEN_COBRADOR_DIARIO", "beto@miempresa.com", "listo", "", ["F4"]),
    ]
    assert [g[0] for g in plan(at("2026-11-25 07:59"))].count("RESUMEN_ACCIONES") == 0


def test_weekly_digests_on_monday_and_missed_monday():
    expected = [
        ("RESUMEN_COBRADOR_SEMANAL", "ana@miempresa.com", "listo", "", ["F6", "F5"]),
        ("RESUMEN_COBRADOR_SEMANAL", "Caro", "error",
         'el cobrador "Caro" no tiene un email válido en la tabla Cobradores', ["F7"]),
        ("RESUMEN_AREA_SEMANAL", "laura@miempresa.com", "listo", "", ["F5"]),
        ("RESUMEN_AREA_SEMANAL", "Logística", "error",
         'el área "Logística" no tiene un email válido en la tabla Áreas', ["F7"]),
    ]
    weekly = ("RESUMEN_COBRADOR_SEMANAL", "RESUMEN_AREA_SEMANAL")
    for now in ("2026-11-23 08:00", "2026-11-24 06:00"):
        assert [g for g in plan(at(now)) if g[0] in weekly] == expected
    assert [g for g in plan(at("2026-11-23 07:59")) if g[0] in weekly] == []


def test_keys_context_and_lines():
    out = plan_digests(BOOK, ALERTS, at("2026-11-23 09:00"), NO_HISTORY)
    first = out[0]
    assert (first.kind, first.code, first.to, first.template, first.keys) == (
        "resumen", "RESUMEN_ACCIONES", ("tesoreria@miempresa.com",), "RESUMEN_ACCIONES",
        (digest_key("tesoreria@miempresa.com", "RESUMEN_ACCIONES", "2026-11-23"),),
    )
    assert first.context == {"recipient_name": "Responsable de acciones", "group": "acciones",
                             "period": "2026-11-23"}
    line = first.lines[0]
    assert (line.invoice, line.customer, line.days_overdue, line.balance, line.currency,
            line.status, line.detail) == ("F1", "C1", 61, 50000, "MXN", ACTION, "detalle F1")
    weekly = [o for o in out if o.code == "RESUMEN_AREA_SEMANAL" and o.state == "listo"]
    assert weekly[0].keys == (digest_key("laura@miempresa.com", "RESUMEN_AREA_SEMANAL",
                                         "2026-W48"),)
    assert (weekly[0].context["recipient_name"], weekly[0].context["group"]) == ("Laura", "Ventas")


def test_final_keys_skip_a_digest_already_sent_this_period():
    sent = frozenset({digest_key("ana@miempresa.com", "RESUMEN_COBRADOR_DIARIO", "2026-11-25"),
                      digest_key("tesoreria@miempresa.com", "RESUMEN_ACCIONES", "2026-11-25")})
    got = plan(at("2026-11-25 10:00"), History(final_keys=sent))
    assert [(g[0], g[1]) for g in got if "SEMANAL" not in g[0]] == [
        ("RESUMEN_COBRADOR_DIARIO", "beto@miempresa.com")
    ]
    tomorrow = plan(at("2026-11-26 10:00"), History(final_keys=sent))
    assert [g[0] for g in tomorrow if "SEMANAL" not in g[0]] == [
        "RESUMEN_ACCIONES", "RESUMEN_COBRADOR_DIARIO", "RESUMEN_COBRADOR_DIARIO"
    ]
    week = frozenset({digest_key("laura@miempresa.com", "RESUMEN_AREA_SEMANAL", "2026-W48")})
    area = [g[1] for g in plan(at("2026-11-27 10:00"), History(final_keys=week))
            if g[0] == "RESUMEN_AREA_SEMANAL"]
    assert area == ["Logística"]


def test_a_digest_with_no_rows_is_not_planned():
    assert plan(at("2026-11-23 09:00"), rows=alerts()) == []
    only_mora = alerts(("Mora > 30", "C1", "Ana", "", ""))
    assert plan(at("2026-11-23 09:00"), rows=only_mora) == []


def test_collectors_sharing_an_email_get_one_digest():
    book = make_book(collectors=[("Ana", "equipo@miempresa.com"),
                                 ("Beto", "equipo@miempresa.com")])
    got = plan(at("2026-11-25 09:00"), book=book,
               rows=alerts((BROKEN, "C1", "Ana", "F3", ""), (BROKEN, "C2", "Beto", "F4", "")))
    assert got == [("RESUMEN_COBRADOR_DIARIO", "equipo@miempresa.com", "listo", "",
                    ["F3", "F4"])]


def test_missing_actions_owner_is_an_error():
    book = replace(BOOK, config=replace(Config(), actions_owner_email=""))
    got = plan(at("2026-11-25 09:00"), book=book, rows=alerts((ACTION, "C1", "Ana", "F1", "")))
    assert got == [("RESUMEN_ACCIONES", "Responsable de acciones", "error",
                    "falta un email válido en Responsable de acciones (Configuración)", ["F1"])]
