"""Lookups by code that every message of a run makes: a customer's Nombre, a Plantillas
row, the customer's collector. Built once per Book (see `Book.customer_names`,
`Book.templates_by_code`, `Book.collector_contacts`)."""

from __future__ import annotations

import pandas as pd

from cobranza.book.text import normalize

Template = tuple[str, str, bool]  # (Asunto, Cuerpo, Aprobada)
Contact = tuple[str, str, str]  # (name, email, phone); "" when unknown


def names_by_code(customers: pd.DataFrame) -> dict[str, str]:
    """Cliente -> Nombre of a Clientes frame; the first row of a code wins."""
    if customers.empty or "customer" not in customers:
        return {}
    out: dict[str, str] = {}
    for code, name in zip(customers["customer"].tolist(), customers["name"].tolist(),
                          strict=True):
        out.setdefault(code, str(name))
    return out


def templates_by_code(templates: pd.DataFrame) -> dict[str, Template]:
    """Código (stripped, upper case) -> (subject, body, approved); first row wins."""
    if templates.empty or "code" not in templates:
        return {}
    codes = templates["code"].astype(str).str.strip().str.upper().tolist()
    approved = templates["approved"].tolist() if "approved" in templates else [True] * len(codes)
    rows = zip(codes, templates["subject"].tolist(), templates["body"].tolist(), approved,
               strict=True)
    out: dict[str, Template] = {}
    for code, subject, body, ok in rows:
        if code not in out:
            out[code] = (str(subject), str(body), False if pd.isna(ok) else bool(ok))
    return out


def collector_contacts(customers: pd.DataFrame, collectors: pd.DataFrame) -> dict[str, Contact]:
    """Cliente -> how to reach its collector: the name as Cobradores writes it (the
    Clientes Cobrador when Cobradores has no such row), the first address of its Email and
    its Teléfono. Collectors match like the digests' (ignoring case and accents); the
    first row of a code or collector wins. Customers without Cobrador are left out."""
    people: dict[str, Contact] = {}
    for name, emails, phone in zip(collectors["collector"].tolist(),
                                   collectors["email"].tolist(),
                                   collectors["phone"].tolist(), strict=True):
        first = str(emails).split(";")[0].strip() if isinstance(emails, str) else ""
        people.setdefault(normalize(name), (str(name).strip(), first, str(phone).strip()))
    out: dict[str, Contact] = {}
    found: dict[object, Contact] = {}  # per Cobrador cell: thousands of customers, few names
    for code, name in zip(customers["customer"].tolist(), customers["collector"].tolist(),
                          strict=True):
        if str(name).strip() and code not in out:
            if (contact := found.get(name)) is None:
                contact = found[name] = people.get(normalize(name), (str(name).strip(), "", ""))
            out[code] = contact
    return out
