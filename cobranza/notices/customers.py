"""Per-customer facts the notice planner needs: addresses, zone, contact rules (from its
País), and why not to send.

Built once per run for the customers that have something due (a few thousand at most),
so plain Python over rows is fine here; the per-invoice work stays vectorized.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd

from cobranza.book.addresses import split_addresses
from cobranza.book.config import Config
from cobranza.book.records import InputError
from cobranza.book.text import normalize
from cobranza.notices.contact_rules import CustomerRules, customer_rules
from cobranza.vocabulary import Reason, ReasonCode, reason

OPTED_OUT = reason(ReasonCode.OPTED_OUT)
NO_EMAIL = reason(ReasonCode.NO_EMAIL)
UNKNOWN = reason(ReasonCode.UNKNOWN_CUSTOMER)
PROBLEM_NO_EMAIL = (
    "el cliente no tiene un email válido: sus avisos quedan pendientes y se enviarán "
    "cuando lo corrija, mientras sigan vigentes (use nombre@dominio.com; varios separados "
    "por ;)"
)
PROBLEM_UNKNOWN = (
    "tiene facturas con avisos por enviar pero no está en la hoja Clientes; "
    "agréguelo con su Email"
)



def refused_problem(code: str, to: str, reply: str) -> str:
    """Errores text while the server's permanent refusal of a notice stands."""
    return (
        f"el servidor de correo rechazó el aviso {code} para {to} ({reply}); corrija el "
        "Email y los avisos vigentes se enviarán a la nueva dirección"
    )


def bounced_problem(code: str, to: str, reply: str) -> str:
    """Errores text while a bounce of the customer's address stands (IMAP)."""
    return (
        f"el aviso {code} espera: un correo a {to} {reply}; corrija el Email y los avisos "
        "vigentes se enviarán a la nueva dirección"
    )


def smtputf8_problem(code: str, address: str) -> str:
    """Errores text for an address our SMTP server cannot carry (RFC 6531 SMTPUTF8)."""
    return (
        f"la dirección {address} lleva acentos u otros caracteres no ASCII antes de la @ y el "
        f"servidor de correo no acepta esas direcciones (SMTPUTF8); el aviso {code} queda "
        "pendiente: corrija la dirección o configure un servidor que las acepte"
    )


def email_cell_error(
    customers: pd.DataFrame, customer: str, column: str, problem: str
) -> InputError | None:
    """An Errores row on a customer's Email (column "Email") or Email CC ("Email CC")
    cell of Clientes; None when the customer is not there. `customers` is
    `Book.customers` (validated: the cell shows its valid addresses)."""
    found = customers[customers["customer"] == customer]
    if found.empty:
        return None
    first = found.iloc[0]
    shown = first["emails" if column == "Email" else "cc"]
    return InputError("Clientes", int(first["row"]), column,
                      "" if pd.isna(shown) else str(shown), problem)


COLUMNS = ("name", "to", "cc", "zone", "rules", "excluded", "email_error", "row", "emails")


def valid_emails(text: object) -> tuple[str, ...]:
    """The valid addresses of a ";"-separated cell, in order, without duplicates."""
    if type(text) is not str:
        text = "" if text is None or pd.isna(text) else str(text)
    return split_addresses(text)[0] if text else ()  # most Email CC cells are blank


def validated_emails(text: object) -> tuple[str, ...]:
    """The addresses of a validated Email or Email CC cell of `Book.customers`: validation
    already kept its valid ones, normalized and without duplicates, joined by ";" (no
    valid address holds a ";"), so they are split, not checked again (~0.3 s at 1M)."""
    return tuple(text.split(";")) if type(text) is str and text else ()


@lru_cache(maxsize=256)
def zone_of(name: str, default: str) -> ZoneInfo:
    """The customer's Zona horaria, or the company's when blank or unknown."""
    try:
        return ZoneInfo(name.strip() or default)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(default)


def exclusion(auto_notices: object, segment: str, config: Config) -> Reason | None:
    """Why a customer gets no automatic notices (None when it does)."""
    if auto_notices is not None and not pd.isna(auto_notices) and not bool(auto_notices):
        return OPTED_OUT
    return segment_exclusion(segment, config.segments_without_notices)


@lru_cache(maxsize=256)
def segment_exclusion(segment: str, without: frozenset[str]) -> Reason | None:
    """Why a customer of Segmento `segment` gets no automatic notices (None when it does);
    cached: a book has a few segments and thousands of customers."""
    if segment.strip() and normalize(segment) in without:
        return reason(ReasonCode.SEGMENT, segment=segment.strip())
    return None


def customer_table(customers: pd.DataFrame, ids: Iterable[str], config: Config) -> pd.DataFrame:
    """One row per customer id in `ids` (index), with the columns of `COLUMNS`
    (`customers`: `Book.customers`, validated)."""
    wanted = set(ids)
    known = customers[customers["customer"].isin(wanted)].drop_duplicates("customer")
    fields = ("customer", "name", "emails", "cc", "timezone", "country", "auto_notices",
              "segment", "row")
    rules: dict[str, CustomerRules] = {}  # País -> rules, shared by its customers
    rows = {}
    # column lists, not itertuples: iterating pandas string columns is slow per element
    for customer, name, emails, cc, zone, country, auto, segment, row in zip(
        *(known[f].tolist() for f in fields), strict=True
    ):
        to = validated_emails(emails)
        if country not in rules:
            rules[country] = customer_rules(country, config)
        rows[customer] = (
            str(name), to, validated_emails(cc), zone_of(str(zone), config.timezone),
            rules[country], exclusion(auto, str(segment), config), None if to else NO_EMAIL,
            int(row), str(emails),
        )
    for missing in sorted(wanted - set(rows)):
        rows[missing] = ("", (), (), zone_of("", config.timezone), customer_rules("", config),
                         None, UNKNOWN, None, "")
    if not rows:
        return pd.DataFrame.from_dict(rows, orient="index", columns=list(COLUMNS))
    # built column by column: `from_dict(orient="index")` goes row by row
    columns = map(list, zip(*rows.values(), strict=True))
    return pd.DataFrame(dict(zip(COLUMNS, columns, strict=True)), index=list(rows))


def email_errors(table: pd.DataFrame, customers_in_error: Iterable[str]) -> list[InputError]:
    """One Errores row per customer whose notices wait for an address."""
    out = []
    for customer in sorted(set(customers_in_error)):
        c = table.loc[customer]
        if c["email_error"] == UNKNOWN:
            out.append(InputError("Clientes", None, "Cliente", customer, PROBLEM_UNKNOWN))
        else:
            row = int(c["row"])
            shown = "" if pd.isna(c["emails"]) else str(c["emails"])
            out.append(InputError("Clientes", row, "Email", shown, PROBLEM_NO_EMAIL))
    return out
