"""The Spanish sentence of each reason code (`cobranza.vocabulary.Reason`), for Envíos,
Vista previa, the ledger's Motivo and `cobranza status`: one wording per fact."""

from __future__ import annotations

from cobranza.vocabulary import Reason, ReasonCode

_R = ReasonCode
_LOCAL = "(hora del cliente)"
_TEXTS: dict[ReasonCode, str] = {
    _R.OPTED_OUT: "avisos automáticos desactivados",
    _R.SEGMENT: "segmento {segment}",
    _R.IN_DISPUTE: "en disputa",
    _R.PAYMENT_REPORTED: "pago informado",
    _R.THIRD_PARTY: "asignada a un tercero",
    _R.IN_PLAN: "en convenio de pago (se envían los avisos de sus cuotas)",
    _R.WRITTEN_OFF: "castigada",
    _R.LATE: "fuera de plazo",
    _R.REPLACED: "se envía {code} en su lugar",
    _R.TEMPLATE_MISSING: "plantilla {template} no existe en Plantillas",
    _R.TEMPLATE_NOT_APPROVED: "plantilla {template} no aprobada",
    _R.TEMPLATE_FAILED: "{detail}",
    _R.NO_EMAIL: "el cliente no tiene un email válido en la hoja Clientes",
    _R.UNKNOWN_CUSTOMER: "el cliente no está en la hoja Clientes",
    _R.NO_RECIPIENT: '{who} "{name}" no tiene un email válido en la tabla {table}',
    _R.NO_ACTIONS_OWNER: "falta un email válido en Responsable de acciones (Configuración)",
    _R.ADDRESS_REFUSED: "{detail}",
    _R.NOT_BUSINESS_DAY: "{weekday}: solo se envía en días hábiles",
    _R.HOLIDAY: "día feriado en {country}",
    _R.WINDOW: "fuera de la ventana de envío {window} " + _LOCAL,
    _R.LEGAL_DAY: "Perfil legal {profile}: {weekday} no se permite contacto",
    _R.LEGAL_HOLIDAY: "Perfil legal {profile}: día feriado en {country}, no se permite contacto",
    _R.LEGAL_HOURS: "Perfil legal {profile}: fuera del horario permitido {hours} " + _LOCAL,
    _R.DAILY_LIMIT: "Perfil legal {profile}: ya hubo un contacto hoy",
    _R.WEEKLY_LIMIT: "Perfil legal {profile}: máximo {count} mensajes por semana",
    _R.DAYS_APART: "Perfil legal {profile}: debe haber al menos {count} días entre mensajes",
    _R.ALREADY_TODAY: "ya se envió un aviso hoy",
    _R.SMTP_DOWN: "{detail}",
    _R.OAUTH_FAILED: "{detail}",
    _R.SMTP_TEMPORARY: "{detail}",
    _R.SMTP_REFUSED: "{detail}",
    _R.BOUNCED: "rebotó en {address}: {detail}",
    _R.NO_SMTPUTF8: "{address}: el servidor de correo no acepta direcciones con caracteres no "
                    "ASCII antes de la @ (SMTPUTF8)",
    _R.BAD_ADDRESS: "{detail}",
    _R.NOT_BUILT: "no se pudo preparar el mensaje ({detail})",
    _R.PARTLY_REFUSED: "{detail}",
    _R.INTERRUPTED: "{detail}",
    _R.ABANDONED: "El proceso se interrumpió durante el envío; verifique con el cliente si lo "
                  "recibió (no se reenvía automáticamente).",
    _R.CRASHED: "error interno durante el envío",
    _R.TAKEN: "ya está en el registro de envíos (enviado, en curso o en espera de reintento)",
    _R.FROM_COPY: "{detail}",
    _R.PROVIDER_LIMIT: "límite del proveedor: {detail}; sale en un próximo ciclo",
    _R.PROVIDER_THROTTLED: "el proveedor pidió esperar ({detail}); se reintenta desde las "
                           "{until}",
}
_NUMBERS = {1: "un", 2: "dos", 3: "tres", 4: "cuatro", 5: "cinco"}


def reason_text(reason: Reason | None) -> str:
    """The sentence for `reason` ("" for none)."""
    if reason is None:
        return ""
    params = {k: _word(v) for k, v in reason.params}
    return _TEXTS[reason.code].format(**params)


def no_notices_text(reason: Reason) -> str:
    """Why an invoice gets no automatic notices, as PROXIMO_AVISO shows it ("Sin avisos:
    segmento VIP"): the exclusion in the words of Envíos."""
    return f"Sin avisos: {reason_text(reason)}"


def _word(value: object) -> str:
    """Small counts read as words ("dos mensajes")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _NUMBERS.get(value, str(value))
    return str(value)
