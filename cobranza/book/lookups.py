"""Lookups by code that every message of a run makes: a customer's Nombre, a Plantillas
row. Built once per Book (see `Book.customer_names`, `Book.templates_by_code`)."""

from __future__ import annotations

import pandas as pd

Template = tuple[str, str, bool]  # (Asunto, Cuerpo, Aprobada)


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
