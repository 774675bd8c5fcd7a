"""The Configuración parameters: names, defaults and parsing into a typed Config.

Parameter names are matched like headers (case, accents and spaces ignored). A bad value
becomes an error record and the default is used, so one typo never stops the run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cobranza.book.countries import COUNTRY_HINT, country_code
from cobranza.book.money import CURRENCY_HINT, currency_code
from cobranza.book.text import normalize, parse_yes_no

LEGAL_PROFILES = ("MX", "CO", "CL", "PE", "ninguno")
# Written by `cobranza init` and by the first sync of an older workbook (not a template
# default: every workbook gets its own).
WORKBOOK_ID = "Id del libro"
MAX_WORKBOOK_ID = 100
WEEKDAYS_ES = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")

# Parameter label as shown in the sheet -> default text. Order = order in the template.
DEFAULTS: dict[str, str] = {
    "Empresa": "Mi Empresa S.A. de C.V.",
    "Remitente": "Cobranza <cobranza@miempresa.com>",
    "Zona horaria": "America/Mexico_City",
    "País feriados": "MX",
    "Perfil legal": "MX",
    "Ventana de envío": "08:00-20:00",
    "Solo días hábiles": "Sí",
    "Días acción": "60",
    "Días terceros": "90",
    "Umbral crédito": "85%",
    "Días sin gestión": "15",
    "Días pago informado": "7",
    "Monto llamada previa": "100000",
    "Días llamada previa": "3",
    "Segmentos sin avisos": "VIP",
    "Responsable de acciones": "tesoreria@miempresa.com",
    "Hora resumen diario": "08:00",
    "Día resumen semanal": "lunes",
    "Separador decimal": ".",
    "Moneda": "MXN",
    # Company identification and payment details for customer emails and the statement:
    # blank = the line is left out (Referencia de pago blank = the customer code).
    "Razón social": "",
    "RFC": "",
    "Domicilio": "",
    "Teléfono de cobranza": "",
    "Horario de atención": "",
    "Banco": "",
    "Cuenta": "",
    "Beneficiario": "",
    "Referencia de pago": "{{ cliente.codigo }}",
    "Enlace de pago": "",
    "Aviso de privacidad": "",
    "Descuento pronto pago": "",
    "Días pronto pago": "10",
    "Meses de archivo": "24",
    # The mail provider's sending limits (Exchange Online's: 30 a minute, 10 000
    # recipients a rolling day; Gmail users set 2 000 or 500).
    "Correos por minuto": "30",
    "Destinatarios por día": "10000",
    "Días gracia convenio": "5",
    # Vista previa shows this many messages (most severe first); the rest are counted.
    "Filas en Vista previa": "500",
}
# The parameter that is itself a template (rendered with each customer email's context).
REFERENCE = "Referencia de pago"
# Placeholders of Enlace de pago, replaced by URL-encoded values.
LINK_PLACEHOLDERS = ("cliente", "factura", "importe", "moneda")


@dataclass(frozen=True)
class ConfigIssue:
    """A Configuración value that could not be used (the default was taken instead)."""

    parameter: str
    value: str
    problem: str


@dataclass(frozen=True)
class Config:
    """Typed Configuración. Every field has the SPEC default."""

    company: str = DEFAULTS["Empresa"]
    sender: str = DEFAULTS["Remitente"]
    timezone: str = "America/Mexico_City"
    holiday_country: str = "MX"
    legal_profile: str = "MX"
    window_start: time = time(8, 0)
    window_end: time = time(20, 0)
    business_days_only: bool = True
    action_days: int = 60
    third_party_days: int = 90
    credit_threshold: float = 0.85
    days_without_contact: int = 15
    reported_payment_days: int = 7
    large_invoice_amount: float = 100000.0  # in major units of the invoice currency
    pre_call_days: int = 3
    segments_without_notices: frozenset[str] = field(default_factory=lambda: frozenset({"vip"}))
    actions_owner_email: str = DEFAULTS["Responsable de acciones"]
    daily_digest_time: time = time(8, 0)
    weekly_digest_day: int = 0  # Monday = 0
    decimal_separator: str = "."
    default_currency: str = "MXN"
    legal_name: str = ""  # Razón social
    tax_id: str = ""  # RFC
    address: str = ""  # Domicilio
    collections_phone: str = ""  # Teléfono de cobranza
    office_hours: str = ""  # Horario de atención
    bank: str = ""
    account: str = ""  # Cuenta: CLABE or account number
    beneficiary: str = ""
    payment_reference: str = DEFAULTS["Referencia de pago"]  # a template text
    payment_link: str = ""  # URL with {cliente} {factura} {importe} {moneda}
    privacy_notice: str = ""
    early_discount: Decimal = Decimal(0)  # Descuento pronto pago, percent (2 = 2 %)
    early_days: int = 10  # Días pronto pago, after Emisión
    archive_months: int = 24  # Meses de archivo
    per_minute: int = 30  # Correos por minuto: messages in any rolling 60 s
    per_day: int = 10000  # Destinatarios por día: To + Cc in any rolling 24 h
    plan_grace_days: int = 5  # Días gracia convenio: an instalment this late breaks its plan
    preview_rows: int = 500  # Filas en Vista previa: messages shown (and rendered by a dry run)
    workbook_id: str = ""  # Id del libro: the ledger's key for this workbook ("" = none yet)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


_TIME = re.compile(r"^(\d{1,2})[:.](\d{2})$")


def parse_time(text: str) -> time:
    m = _TIME.match(text.strip())
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ValueError("use el formato hh:mm, por ejemplo 08:00")
    return time(int(m.group(1)), int(m.group(2)))


def parse_window(text: str) -> tuple[time, time]:
    parts = re.split(r"\s*[-–a]\s*", text.strip(), maxsplit=1)
    if len(parts) != 2:
        raise ValueError("use el formato hh:mm-hh:mm, por ejemplo 08:00-20:00")
    start, end = parse_time(parts[0]), parse_time(parts[1])
    if end <= start:
        raise ValueError("la hora final debe ser posterior a la inicial")
    return start, end


def _int(text: str) -> int:
    try:
        value = int(float(text.replace(",", ".")))
    except ValueError:
        raise ValueError("debe ser un número entero de días") from None
    if value < 0:
        raise ValueError("no puede ser negativo")
    return value


def _percent(text: str) -> float:
    t = text.strip().replace(",", ".")
    try:
        value = float(t.rstrip("%")) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError("use un porcentaje, por ejemplo 85%") from None
    return value / 100 if value > 1.5 else value  # 85 means 85%


def _zone(text: str) -> str:
    try:
        ZoneInfo(text.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("no es una zona horaria IANA, por ejemplo America/Mexico_City") from None
    return text.strip()


def _bool(text: str) -> bool:
    value = parse_yes_no(text)
    if value is None:
        raise ValueError("use Sí o No")
    return value


def _legal(text: str) -> str:
    for p in LEGAL_PROFILES:
        if normalize(p) == normalize(text):
            return p
    raise ValueError("use uno de: " + ", ".join(LEGAL_PROFILES))


def _weekday(text: str) -> int:
    key = normalize(text)
    if key in WEEKDAYS_ES:
        return WEEKDAYS_ES.index(key)
    raise ValueError("use un día de la semana, por ejemplo lunes")


def _separator(text: str) -> str:
    if text in (".", ","):
        return text
    raise ValueError('use "." o ","')


def _amount(text: str) -> float:
    try:
        return float(text.replace(",", ""))
    except ValueError:
        raise ValueError("debe ser un importe, por ejemplo 100000") from None


def _country(text: str) -> str:
    code = country_code(text)
    if code is None:
        raise ValueError(f"no es un código de país ({COUNTRY_HINT})")
    return code


def _currency(text: str) -> str:
    code = currency_code(text)
    if code is None:
        raise ValueError(f"no es un código de moneda ({CURRENCY_HINT})")
    return code


def _workbook_id(text: str) -> str:
    value = text.strip()
    if len(value) > MAX_WORKBOOK_ID or any(ch.isspace() for ch in value):
        raise ValueError("no es un identificador de libro; se reemplaza por uno nuevo")
    return value


def _discount(text: str) -> Decimal:
    try:
        value = Decimal(text.strip().rstrip("%").strip().replace(",", "."))
    except InvalidOperation:
        raise ValueError("use un porcentaje, por ejemplo 2%") from None
    if not value.is_finite() or not 0 <= value < 100:
        raise ValueError("debe ser un porcentaje entre 0% y 100%, por ejemplo 2%")
    return value


def _months(text: str) -> int:
    value = _int(text.replace("días", ""))
    if value < 1:
        raise ValueError("debe ser al menos 1 mes")
    return value


def _limit(example: str):
    """A provider limit: a whole number of at least 1."""
    def parse(text: str) -> int:
        digits = re.sub(r"[\s\u00a0]", "", text)
        if re.fullmatch(r"\d{1,3}([.,]\d{3})+", digits):  # 10.000 or 10,000
            digits = re.sub(r"[.,]", "", digits)
        try:
            value = float(digits)
        except ValueError:
            raise ValueError(f"debe ser un número entero, por ejemplo {example}") from None
        if value != int(value) or value < 1:
            raise ValueError(f"debe ser un número entero mayor que cero, por ejemplo {example}")
        return int(value)
    return parse


_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def _link(text: str) -> str:
    url = text.strip()
    if not re.match(r"^https?://[^\s/]+", url, re.I) or any(c.isspace() for c in url):
        raise ValueError("debe ser una dirección web que empiece con https://, por ejemplo "
                         "https://pagos.miempresa.com/?cliente={cliente}")
    unknown = sorted({m for m in _PLACEHOLDER.findall(url) if m not in LINK_PLACEHOLDERS})
    if unknown:
        known = ", ".join("{" + p + "}" for p in LINK_PLACEHOLDERS)
        raise ValueError(f"{{{unknown[0]}}} no es un dato que se pueda poner en el enlace "
                         f"(use {known})")
    return url


def _text(name: str):
    return lambda t: {name: t.strip()}


# normalized label -> (field, parser returning a dict of field values)
_PARSERS = {
    "empresa": lambda t: {"company": t.strip()},
    "remitente": lambda t: {"sender": t.strip()},
    "zona horaria": lambda t: {"timezone": _zone(t)},
    "pais feriados": lambda t: {"holiday_country": _country(t)},
    "perfil legal": lambda t: {"legal_profile": _legal(t)},
    "ventana de envio": lambda t: dict(
        zip(("window_start", "window_end"), parse_window(t), strict=True)
    ),
    "solo dias habiles": lambda t: {"business_days_only": _bool(t)},
    "dias accion": lambda t: {"action_days": max(_int(t), 1)},
    "dias terceros": lambda t: {"third_party_days": _int(t)},
    "umbral credito": lambda t: {"credit_threshold": _percent(t)},
    "dias sin gestion": lambda t: {"days_without_contact": _int(t)},
    "dias pago informado": lambda t: {"reported_payment_days": _int(t)},
    "monto llamada previa": lambda t: {"large_invoice_amount": _amount(t)},
    "dias llamada previa": lambda t: {"pre_call_days": _int(t)},
    "segmentos sin avisos": lambda t: {
        "segments_without_notices": frozenset(
            normalize(s) for s in re.split(r"[;,]", t) if normalize(s)
        )
    },
    "responsable de acciones": lambda t: {"actions_owner_email": t.strip()},
    "hora resumen diario": lambda t: {"daily_digest_time": parse_time(t)},
    "dia resumen semanal": lambda t: {"weekly_digest_day": _weekday(t)},
    "separador decimal": lambda t: {"decimal_separator": _separator(t.strip())},
    "moneda": lambda t: {"default_currency": _currency(t)},
    "id del libro": lambda t: {"workbook_id": _workbook_id(t)},
    "razon social": _text("legal_name"),
    "rfc": _text("tax_id"),
    "domicilio": _text("address"),
    "telefono de cobranza": _text("collections_phone"),
    "horario de atencion": _text("office_hours"),
    "banco": _text("bank"),
    "cuenta": _text("account"),
    "beneficiario": _text("beneficiary"),
    "referencia de pago": _text("payment_reference"),
    "enlace de pago": lambda t: {"payment_link": _link(t)},
    "aviso de privacidad": _text("privacy_notice"),
    "descuento pronto pago": lambda t: {"early_discount": _discount(t)},
    "dias pronto pago": lambda t: {"early_days": _int(t)},
    "meses de archivo": lambda t: {"archive_months": _months(t)},
    "correos por minuto": lambda t: {"per_minute": _limit("30")(t)},
    "destinatarios por dia": lambda t: {"per_day": _limit("10000")(t)},
    "dias gracia convenio": lambda t: {"plan_grace_days": _int(t)},
    "filas en vista previa": lambda t: {"preview_rows": _limit("500")(t)},
}


def parse_config(values: dict[str, str]) -> tuple[Config, list[ConfigIssue]]:
    """Build a Config from Parámetro -> Valor text; unknown or bad values are reported."""
    config, issues = Config(), []
    for label, raw in values.items():
        text = "" if raw is None else str(raw).strip()
        parser = _PARSERS.get(normalize(label))
        if parser is None or text == "":
            continue  # unknown parameters are kept in the sheet and ignored here
        try:
            config = replace(config, **parser(text))
        except ValueError as exc:
            issues.append(ConfigIssue(label, text, str(exc)))
    return config, issues
