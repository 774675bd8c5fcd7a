"""Sending window, Solo días hábiles and legal contact profiles (MX, CO, CL, PE, ninguno)."""

from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from cobranza.book.config import Config
from cobranza.layout.wording import reason_text
from cobranza.notices.contact_rules import (
    PROFILES,
    cap_block,
    contact_block,
    customer_rules,
    next_allowed,
    window_block,
)

MX = ZoneInfo("America/Mexico_City")
BOG = ZoneInfo("America/Bogota")
UTC = ZoneInfo("UTC")
ANY_DAY = Config(business_days_only=False, window_start=time(0), window_end=time(23, 59))


def said(held) -> str | None:
    """What Envíos says for a hold-back reason (None when allowed)."""
    return None if held is None else reason_text(held)


def at(text: str, zone: ZoneInfo = MX) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=zone)


WINDOW = "fuera de la ventana de envío 08:00-20:00 (hora del cliente)"


@pytest.mark.parametrize(
    ("config", "local", "expected"),
    [
        # Ventana de envío: start inclusive, end exclusive (2026-11-25 is a Wednesday).
        (Config(), "2026-11-25 10:00", None),
        (Config(), "2026-11-25 08:00", None),
        (Config(), "2026-11-25 07:59", WINDOW),
        (Config(), "2026-11-25 19:59", None),
        (Config(), "2026-11-25 20:00", WINDOW),
        (Config(), "2026-11-25 21:00", WINDOW),
        # Solo días hábiles with País feriados MX.
        (Config(), "2026-11-28 10:00", "sábado: solo se envía en días hábiles"),
        (Config(), "2026-12-25 10:00", "día feriado en MX"),
        (replace(Config(), business_days_only=False), "2026-12-25 10:00", None),
        # MX: 07:00-22:00 every day, even when Ventana de envío is wider.
        (replace(ANY_DAY, legal_profile="MX"), "2026-11-25 22:30",
         "Perfil legal MX: fuera del horario permitido 07:00-22:00 (hora del cliente)"),
        (replace(ANY_DAY, legal_profile="MX"), "2026-11-25 06:59",
         "Perfil legal MX: fuera del horario permitido 07:00-22:00 (hora del cliente)"),
        (replace(ANY_DAY, legal_profile="MX"), "2026-11-29 21:59", None),  # Sunday
        # CO: Mon-Fri 07-19, Sat 08-15, never Sundays or CO holidays.
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-25 18:59", None),
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-25 19:00",
         "Perfil legal CO: fuera del horario permitido 07:00-19:00 (hora del cliente)"),
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-28 14:59", None),
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-28 15:00",
         "Perfil legal CO: fuera del horario permitido 08:00-15:00 (hora del cliente)"),
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-29 10:00",
         "Perfil legal CO: domingo no se permite contacto"),
        (replace(ANY_DAY, legal_profile="CO"), "2026-12-08 10:00",
         "Perfil legal CO: día feriado en CO, no se permite contacto"),
        # CL: Mon-Sat 08-20, never Sundays.
        (replace(ANY_DAY, legal_profile="CL"), "2026-11-28 19:59", None),
        (replace(ANY_DAY, legal_profile="CL"), "2026-11-28 07:30",
         "Perfil legal CL: fuera del horario permitido 08:00-20:00 (hora del cliente)"),
        (replace(ANY_DAY, legal_profile="CL"), "2026-11-29 10:00",
         "Perfil legal CL: domingo no se permite contacto"),
        # PE: Mon-Fri 07-20, never PE holidays.
        (replace(ANY_DAY, legal_profile="PE"), "2026-11-28 10:00",
         "Perfil legal PE: sábado no se permite contacto"),
        (replace(ANY_DAY, legal_profile="PE"), "2026-07-28 10:00",
         "Perfil legal PE: día feriado en PE, no se permite contacto"),
        (replace(ANY_DAY, legal_profile="PE"), "2026-07-27 19:59", None),
        # ninguno: only Configuración applies.
        (replace(ANY_DAY, legal_profile="ninguno"), "2026-11-29 23:30", None),
    ],
)
def test_window_block(config, local, expected):
    assert said(window_block(at(local), config, customer_rules("", config))) == expected


D = date


@pytest.mark.parametrize(
    ("profile", "day", "previous", "expected"),
    [
        # One customer email a day under every law (the product's own policy).
        ("MX", D(2026, 11, 25), [D(2026, 11, 25)] * 5, "ya se envió un aviso hoy"),
        ("MX", D(2026, 11, 25), [D(2026, 11, 24)] * 5, None),
        ("CO", D(2026, 11, 25), [D(2026, 11, 25)], "Perfil legal CO: ya hubo un contacto hoy"),
        ("CO", D(2026, 11, 25), [D(2026, 11, 24)], None),
        ("CL", D(2026, 11, 17), [D(2026, 11, 16)],
         "Perfil legal CL: debe haber al menos dos días entre mensajes"),
        ("CL", D(2026, 11, 18), [D(2026, 11, 16)], None),
        ("CL", D(2026, 11, 20), [D(2026, 11, 16), D(2026, 11, 18)],
         "Perfil legal CL: máximo dos mensajes por semana"),
        # Rolling 7 days: Saturday + Monday block Wednesday across the week boundary.
        ("CL", D(2026, 11, 25), [D(2026, 11, 21), D(2026, 11, 23)],
         "Perfil legal CL: máximo dos mensajes por semana"),
        ("CL", D(2026, 11, 23), [D(2026, 11, 16), D(2026, 11, 18)], None),
        ("PE", D(2026, 11, 25), [D(2026, 11, 25)], "ya se envió un aviso hoy"),
        ("PE", D(2026, 11, 25), [D(2026, 11, 24)], None),
    ],
)
def test_cap_block(profile, day, previous, expected):
    assert said(cap_block(day, PROFILES[profile], previous)) == expected


def test_caps_count_previous_contacts_in_the_customers_local_date():
    config = replace(ANY_DAY, legal_profile="CO")
    rules = customer_rules("", config)
    # 04:30 UTC on the 25th is 23:30 on the 24th in Bogotá: yesterday for the customer.
    previous = [at("2026-11-25 04:30", UTC)]
    assert contact_block(at("2026-11-25 10:00", BOG), config, rules, previous) is None
    previous = [at("2026-11-25 05:30", UTC)]
    assert said(contact_block(at("2026-11-25 10:00", BOG), config, rules, previous)) == (
        "Perfil legal CO: ya hubo un contacto hoy"
    )


@pytest.mark.parametrize(
    ("config", "local", "previous", "expected"),
    [
        (Config(), "2026-11-25 10:00", [], "2026-11-25 10:00"),
        (Config(), "2026-11-25 06:00", [], "2026-11-25 08:00"),
        (Config(), "2026-12-24 21:00", [], "2026-12-28 08:00"),  # holiday, then weekend
        (replace(Config(), legal_profile="CO"), "2026-11-25 10:00", ["2026-11-25 09:00"],
         "2026-11-26 08:00"),
        (replace(Config(), legal_profile="CL"), "2026-11-19 10:00",
         ["2026-11-16 09:00", "2026-11-18 09:00"], "2026-11-23 08:00"),
        (replace(ANY_DAY, legal_profile="MX"), "2026-11-25 22:30", [], "2026-11-26 07:00"),
        (replace(ANY_DAY, legal_profile="CO"), "2026-11-28 16:00", [], "2026-11-30 07:00"),
    ],
)
def test_next_allowed(config, local, previous, expected):
    rules = customer_rules("", config)
    got = next_allowed(at(local), config, rules, [at(p) for p in previous])
    assert got == at(expected)
    assert contact_block(got, config, rules, [at(p) for p in previous]) is None


@pytest.mark.parametrize(
    ("country", "config", "expected"),
    [
        ("", Config(), ("MX", "MX")),  # blank: Perfil legal and País feriados
        ("", replace(Config(), legal_profile="CO", holiday_country="PE"), ("CO", "PE")),
        ("MX", Config(), ("MX", "MX")),
        ("CO", Config(), ("CO", "CO")),
        ("CL", Config(), ("CL", "CL")),
        ("PE", replace(Config(), legal_profile="CO"), ("PE", "PE")),
        ("AR", Config(), ("ninguno", "AR")),  # any other country: no profile of its own
        ("US", replace(Config(), legal_profile="CO"), ("ninguno", "US")),
    ],
)
def test_customer_rules_come_from_pais(country, config, expected):
    rules = customer_rules(country, config)
    assert (rules.legal.code, rules.holidays) == expected


@pytest.mark.parametrize(
    ("country", "local", "expected"),
    [
        # Monday 16 November 2026: Día de la Revolución in Mexico, a business day in Peru.
        ("", "2026-11-16 10:00", "día feriado en MX"),
        ("PE", "2026-11-16 10:00", None),
        # Tuesday 8 December: Inmaculada Concepción in CO, CL, PE and AR, not in Mexico.
        ("MX", "2026-12-08 10:00", None),
        ("CO", "2026-12-08 10:00", "día feriado en CO"),
        ("AR", "2026-12-08 10:00", "día feriado en AR"),
    ],
)
def test_business_days_are_those_of_the_customers_country(country, local, expected):
    config = Config()
    assert said(window_block(at(local), config, customer_rules(country, config))) == expected


def test_next_allowed_follows_the_customers_rules():
    config = Config()
    # Monday 7 December is a holiday in AR; Tuesday 8 in AR and CO; neither in MX.
    for country, expected in (("AR", "2026-12-09 08:00"), ("CO", "2026-12-07 10:00"),
                              ("MX", "2026-12-07 10:00")):
        got = next_allowed(at("2026-12-07 10:00"), config, customer_rules(country, config))
        assert got == at(expected), country
    got = next_allowed(at("2026-12-08 10:00"), config, customer_rules("CO", config))
    assert got == at("2026-12-09 08:00")
    # CL: two days apart from a contact on Wednesday 9.
    cl = customer_rules("CL", config)
    assert next_allowed(at("2026-12-10 10:00"), config, cl, [at("2026-12-09 10:00")]) == at(
        "2026-12-11 08:00")
