"""Errores rows for messages held back by a template the user can fix.

A notice whose Plantilla is missing, not approved or fails to render waits `pendiente`
(never recorded as final in the ledger): it goes once the template is fixed, while it is
still meaningful. Until then every sync lists the template in Errores: on its Plantillas
row, or a sheet-level row when there is none, naming the Avisos rows that use it.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from cobranza.book.config import REFERENCE
from cobranza.book.records import Book, InputError
from cobranza.book.text import normalize
from cobranza.book.validate import CONFIG_SHEET
from cobranza.vocabulary import Reason, ReasonCode

SHEET = "Plantillas"
_UNTIL_FIXED = "se enviarán una vez corregida, mientras sigan vigentes."


def template_errors(book: Book, held: Iterable[tuple[str, Reason]]) -> list[InputError]:
    """One Errores row per template that holds back notices; `held` gives the Avisos code
    and the reason (TEMPLATE_MISSING or TEMPLATE_NOT_APPROVED) of each held notice."""
    users: dict[Reason, list[str]] = {}
    for code, why in held:
        codes = users.setdefault(why, [])
        if code not in codes:
            codes.append(code)
    out = []
    for why, codes in sorted(users.items(), key=lambda item: str(item[0].param("template"))):
        template, used_by = str(why.param("template")), _avisos_rows(book.notices, codes)
        if why.code == ReasonCode.TEMPLATE_NOT_APPROVED:
            out.append(InputError(
                SHEET, _template_row(book.templates, template), "Aprobada", "",
                f"la plantilla {template} no está aprobada y la {used_by}: sus avisos "
                f"quedan pendientes; revise el texto y escriba Sí en Aprobada: {_UNTIL_FIXED}"))
        else:
            out.append(InputError(
                SHEET, None, "Código", template,
                f"no hay una plantilla con este Código y la {used_by}: sus avisos quedan "
                "pendientes; agregue la fila (Código, Asunto, Cuerpo, Aprobada Sí) o corrija "
                f"la Plantilla del aviso: {_UNTIL_FIXED}"))
    return out


def render_error(book: Book, template: str, explanation: str) -> InputError:
    """The Errores row of a template that failed to render (`explanation`: the Spanish
    sentence of `cobranza.rendering.render.explain`); `template` REFERENCE is
    Configuración's Referencia de pago, a template that every customer email uses."""
    if template == REFERENCE:
        return InputError(
            CONFIG_SHEET, None, "Valor", book.config.payment_reference,
            f"{explanation.rstrip('.')}. Los avisos a clientes quedan pendientes; se "
            "enviarán una vez corregida la Referencia de pago, mientras sigan vigentes.")
    return InputError(
        SHEET, _template_row(book.templates, template), "Código", template,
        f"{explanation.rstrip('.')}. Los mensajes que usan esta plantilla quedan pendientes; "
        f"{_UNTIL_FIXED}")


def _template_row(templates: pd.DataFrame, template: str) -> int | None:
    """Excel row of the Plantillas row with this Código (matched like the planner does)."""
    if templates.empty or "code" not in templates:
        return None
    wanted = normalize(template)
    for code, row in zip(templates["code"].tolist(), templates["row"].tolist(), strict=True):
        if normalize(str(code)) == wanted:
            return int(row) if row else None
    return None


def _avisos_rows(notices: pd.DataFrame, codes: list[str]) -> str:
    """'usa el aviso VENCIDA_1 (Configuración, tabla Avisos, fila 31)', or 'usan los
    avisos ...' for several."""
    rows = dict(zip(notices["code"].astype(str).tolist(), notices["row"].tolist(), strict=False))
    named = []
    for code in codes:
        row = rows.get(code)
        named.append(f"{code} (Configuración, tabla Avisos, fila {int(row)})" if row else code)
    words = named[0] if len(named) == 1 else ", ".join(named[:-1]) + " y " + named[-1]
    return ("usa el aviso " if len(named) == 1 else "usan los avisos ") + words
