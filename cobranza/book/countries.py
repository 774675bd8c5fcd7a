"""Which country codes the holiday calendar knows: the one rule behind
Configuración `País feriados` and the Clientes column `País`."""

from __future__ import annotations

from cobranza.holiday_data import supported_countries

COUNTRY_HINT = "use el código ISO de dos letras, por ejemplo MX, CO, CL, PE, AR o US"


def country_code(text: str) -> str | None:
    """The ISO 3166 two-letter code in `text` (any case, spaces trimmed) when `holidays`
    has its calendar; None otherwise ("Colombia", "MEX", "XX")."""
    code = text.strip().upper()
    if len(code) != 2 or code not in supported_countries():
        return None
    return code
