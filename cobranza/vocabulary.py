"""The product's named values, each defined once: statuses, results, alert types, aging
buckets, message kinds and delivery states, and the reasons a message is held back,
skipped or refused.

Values are StrEnums whose value is the exact text the workbook shows or holds (an
Estatus cell, a Resultado choice, an Alertas Tipo), so they compare equal to those
strings and pandas columns keep plain text. Reasons are codes with parameters; their
Spanish sentence is written only where a person reads it (`cobranza.layout.wording`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Status(StrEnum):
    """Estatus of an invoice (what the ESTATUS_COBRO function shows)."""

    NOT_DUE = "Por vencer"
    OVERDUE = "Vencida"
    IN_ACTION = "En acción"
    PROMISED = "Promesa de pago"
    BROKEN_PROMISE = "Promesa incumplida"
    PAYMENT_REPORTED = "Pago informado"
    DISPUTED = "Disputa"
    THIRD_PARTY = "Tercerizada"
    WRITTEN_OFF = "Castigada"
    PAID = "Pagada"
    PLAN = "Convenio"  # covered by a payment plan that is current
    PLAN_BROKEN = "Convenio incumplido"  # its plan broke: an instalment came late


class Result(StrEnum):
    """Resultado of a gestión: five contact outcomes and four status changes."""

    PROMISE = "Promesa de pago"
    NO_COMMITMENT = "Sin compromiso"
    PAYMENT_REPORTED = "Pago informado"
    DISPUTE = "Disputa"
    NO_CONTACT = "Sin contacto"
    DISPUTE_RESOLVED = "Disputa resuelta"
    ASSIGN_THIRD_PARTY = "Asignar a tercero"
    WRITE_OFF = "Castigo"
    PAYMENT_RECEIVED = "Pago recibido"


class Bucket(StrEnum):
    """Tramo: the aging bucket of Días vencidos."""

    NOT_DUE = "Por vencer"
    DAYS_1_30 = "1-30"
    DAYS_31_60 = "31-60"
    DAYS_61_90 = "61-90"
    DAYS_91_PLUS = "91+"


class AlertType(StrEnum):
    """Tipo of an Alertas row."""

    ACTION = "Acción"
    BROKEN_PROMISE = "Promesa incumplida"
    REPORTED_PAYMENT = "Pago informado no acreditado"
    OPEN_DISPUTE = "Disputa abierta"
    OVERDUE_30 = "Mora > 30"
    OVERDUE_60 = "Mora > 60"
    OVERDUE_90 = "Mora > 90"
    CREDIT = "Crédito"
    NO_CONTACT = "Sin gestión"
    THIRD_PARTY = "Candidata a terceros"
    BOUNCED = "Correo rebotado"  # an address in the customer's Email or Cc bounced
    HIGH_RISK = "Riesgo alto"
    PLAN_BROKEN = "Convenio incumplido"


class ReplyType(StrEnum):
    """Tipo of a Respuestas row (a customer's message read back by IMAP); a reply is also
    a line of its collector's daily digest, an automatic one is not."""

    REPLY = "respuesta"
    AUTOMATIC = "respuesta automática"


class Kind(StrEnum):
    """What a message is: a customer notice or an internal digest."""

    NOTICE = "aviso"
    DIGEST = "resumen"


class SendState(StrEnum):
    """A message's state, in the planner, the ledger and Envíos."""

    READY = "listo"  # planned, allowed to go now (a dry run stops here)
    SENDING = "enviando"  # claimed in the ledger, SMTP transaction under way
    SENT = "enviado"
    PENDING = "pendiente"
    SKIPPED = "omitido"
    ERROR = "error"
    UNCERTAIN = "incierto"
    BOUNCED = "rebotado"  # delivered to the server, then a non-delivery report came back


# States shown in Envíos and counted in summaries, in this order.
SHOWN_STATES = (SendState.SENT, SendState.PENDING, SendState.SKIPPED, SendState.ERROR,
                SendState.UNCERTAIN)
# Outcomes recorded once and never planned again.
FINAL_STATES = (SendState.SENT, SendState.SKIPPED, SendState.ERROR, SendState.UNCERTAIN)


class NoticeCode(StrEnum):
    """The notice codes the software itself knows (Avisos may add others)."""

    NEW = "NUEVA"
    BEFORE_DUE = "PREVIO"
    OVERDUE_1 = "VENCIDA_1"
    OVERDUE_15 = "VENCIDA_15"
    OVERDUE_30 = "VENCIDA_30"
    DELINQUENT_45 = "MORA_45"
    SUSPENSION_60 = "SUSPENSION_60"
    PROMISE_BEFORE = "PROMESA_PREVIA"
    PROMISE_BROKEN = "PROMESA_INCUMPLIDA"
    NO_CONTACT = "SIN_CONTACTO"  # after a gestión "Sin contacto" (once per gestión date)
    STATEMENT = "ESTADO_MENSUAL"
    INSTALMENT_BEFORE = "CUOTA_PREVIA"  # before each Vencimiento cuota of a current plan
    INSTALMENT_LATE = "CUOTA_VENCIDA"  # the day after, while the instalment is unpaid


class DigestCode(StrEnum):
    """Internal digests: one per recipient and period."""

    ACTIONS = "RESUMEN_ACCIONES"  # daily, to Responsable de acciones
    COLLECTOR_DAILY = "RESUMEN_COBRADOR_DIARIO"  # daily, to each collector
    COLLECTOR_WEEKLY = "RESUMEN_COBRADOR_SEMANAL"  # weekly, to each collector
    AREA_WEEKLY = "RESUMEN_AREA_SEMANAL"  # weekly, to each area Responsable


class ReasonCode(StrEnum):
    """Why a message is not (or not yet) sent, or why it failed: what `cobranza status`
    groups by and what Envíos explains (see `cobranza.layout.wording`)."""

    # the customer is excluded (omitido)
    OPTED_OUT = "avisos_desactivados"
    SEGMENT = "segmento_sin_avisos"
    # the invoice's Estatus excludes it (no record: what PROXIMO_AVISO says)
    IN_DISPUTE = "en_disputa"
    PAYMENT_REPORTED = "pago_informado"
    THIRD_PARTY = "tercerizada"
    WRITTEN_OFF = "castigada"
    IN_PLAN = "en_convenio"  # a current payment plan: its instalment notices go instead
    # its time passed (omitido)
    LATE = "fuera_de_plazo"
    REPLACED = "otro_en_su_lugar"  # catch-up: a later stage goes instead
    # the data must be fixed
    TEMPLATE_MISSING = "plantilla_inexistente"
    TEMPLATE_NOT_APPROVED = "plantilla_no_aprobada"
    TEMPLATE_FAILED = "plantilla_con_error"
    NO_EMAIL = "sin_email"
    UNKNOWN_CUSTOMER = "cliente_inexistente"
    NO_RECIPIENT = "resumen_sin_email"  # a digest's collector or area has no address
    NO_ACTIONS_OWNER = "responsable_sin_email"  # Responsable de acciones has no address
    ADDRESS_REFUSED = "direccion_rechazada"  # the server refused this address before
    # the sending window and the legal contact rules (pendiente)
    NOT_BUSINESS_DAY = "dia_no_habil"
    HOLIDAY = "feriado"
    WINDOW = "fuera_de_ventana"
    LEGAL_DAY = "dia_sin_contacto_legal"
    LEGAL_HOLIDAY = "feriado_legal"
    LEGAL_HOURS = "fuera_de_horario_legal"
    DAILY_LIMIT = "limite_diario"
    WEEKLY_LIMIT = "limite_semanal"
    DAYS_APART = "dias_entre_mensajes"
    ALREADY_TODAY = "ya_enviado_hoy"  # one customer email a day, whatever the country
    # the mail server and the ledger
    BAD_ADDRESS = "direccion_invalida"  # the mailer refused an address
    SMTP_DOWN = "smtp_no_disponible"
    OAUTH_FAILED = "oauth2_rechazado"  # no OAuth2 token, or the server refused a fresh one
    SMTP_TEMPORARY = "rechazo_temporal"
    SMTP_REFUSED = "rechazo_definitivo"
    BOUNCED = "correo_rebotado"  # a non-delivery report (IMAP) named this message
    NO_SMTPUTF8 = "sin_smtputf8"
    NOT_BUILT = "mensaje_no_armado"
    PARTLY_REFUSED = "destinatarios_rechazados"  # sent; some Cc or extra To refused
    INTERRUPTED = "envio_interrumpido"  # the connection broke during the data
    ABANDONED = "proceso_interrumpido"  # the process died while sending
    CRASHED = "error_interno"
    TAKEN = "ya_registrado"
    PROVIDER_LIMIT = "limite_proveedor"  # Correos por minuto / Destinatarios por día
    PROVIDER_THROTTLED = "proveedor_pide_esperar"  # a 421/451/4.7.x reply: backoff
    FROM_COPY = "segun_envios_del_libro"  # seeded from a copy's Envíos: its Motivo as it was
    # the output sheets wait (not a message's reason: the cycle's)
    WORKBOOK_OPEN = "libro_abierto"
    WORKBOOK_CHANGED = "libro_cambiado"


@dataclass(frozen=True, order=True)
class Reason:
    """A reason code and its parameters (template name, hours, server reply...), as
    sorted (name, value) pairs: hashable, so reasons group and compare by value."""

    code: ReasonCode
    params: tuple[tuple[str, Any], ...] = ()

    def param(self, name: str) -> Any:
        return dict(self.params)[name]


def reason(code: ReasonCode, /, **params: Any) -> Reason:
    """A Reason with its parameters."""
    return Reason(code, tuple(sorted(params.items())))
