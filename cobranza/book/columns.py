"""The columns read from each input sheet: plain data, importable before pandas.

`sync.xlsx.prefetch` parses the workbook while the program still imports, and turns into
Python objects only the cells of the columns below (`READ_COLUMNS`); the validation
(`cobranza.book.validate`) maps the same headers to the internal columns of
`cobranza.book.records`.
"""

from __future__ import annotations

# Sheet name -> {normalized header: internal column}. Required headers carry a "*".
CUSTOMER_COLUMNS = {
    "cliente*": "customer",
    "nombre*": "name",
    "email": "emails",  # ";"-separated, normalized to "a@x.com;b@y.com"
    "email cc": "cc",
    "telefono": "phone",
    "segmento": "segment",
    "limite de credito": "credit_limit",  # int64 minor units of the default currency, or NA
    "cobrador": "collector",
    "avisos automaticos": "auto_notices",  # bool, default True
    "zona horaria": "timezone",  # IANA name, default Config.timezone
    "tercero": "third_party",
    "pais": "country",  # ISO 3166 alpha-2, upper case; "" = Configuración's (also when bad)
}
INVOICE_COLUMNS = {
    "factura*": "invoice",
    "cliente*": "customer",
    "emision": "issued",
    "vencimiento*": "due",
    "moneda": "currency",  # ISO code, default Config.default_currency
    "importe*": "amount",  # int64 minor units
    "notas": "notes",
}
# Formula columns of the Facturas table: computed by the UDFs, never read as input.
INVOICE_FORMULA_HEADERS = ("Saldo", "Días vencidos", "Estatus", "Tramo", "Próximo aviso")
PAYMENT_COLUMNS = {
    "fecha*": "date",
    "cliente": "customer",
    "factura*": "invoice",
    "importe*": "amount",  # int64 minor units of the invoice's currency
    "referencia": "reference",
}
CONTACT_COLUMNS = {  # the Gestiones sheet
    "fecha*": "date",
    "cobrador": "collector",
    "cliente*": "customer",
    "factura": "invoice",  # "" = every invoice of the customer open on that date
    "resultado*": "result",  # one of RESULTS
    "fecha compromiso": "promise_date",
    "area": "area",
    "comentario": "comment",
    "seguimiento": "follow_up",
}
COLLECTOR_COLUMNS = {"cobrador*": "collector", "email": "email", "telefono": "phone"}
AREA_COLUMNS = {"area*": "area", "responsable": "owner", "email": "email"}
NOTICE_COLUMNS = {  # the Avisos table
    "codigo*": "code",
    "referencia*": "reference",  # emision | vencimiento | compromiso | gestion | mes
    "dias*": "days",  # int
    "plantilla": "template",
    "activo": "active",  # bool
}
TEMPLATE_COLUMNS = {  # the Plantillas sheet
    "codigo*": "code",
    "asunto": "subject",  # required but for ENCABEZADO and PIE (see validate)
    "cuerpo*": "body",
    "aprobada": "approved",  # bool
}
PLAN_COLUMNS = {  # the optional Convenios sheet: one row per instalment of a payment plan
    "convenio*": "plan",
    "cliente*": "customer",
    "facturas": "invoices",  # ";"-separated, normalized to "F1;F2"; "" = every invoice of
    # the customer open on Fecha
    "fecha*": "date",  # the agreement's date: payments from then on pay the instalments
    "cuota*": "instalment",  # int64: 1, 2, ...
    "vencimiento cuota*": "due",
    "importe cuota*": "amount",  # int64 minor units of `currency`
    "estado": "state",  # PLAN_STATES, blank = Activo
}

# Input sheet -> the columns the sync reads of it. Configuración is not here: its tables
# are found by their first header anywhere in the sheet, so it is read whole.
READ_COLUMNS = {
    "Clientes": CUSTOMER_COLUMNS,
    "Facturas": INVOICE_COLUMNS,
    "Pagos": PAYMENT_COLUMNS,
    "Gestiones": CONTACT_COLUMNS,
    "Plantillas": TEMPLATE_COLUMNS,
    "Convenios": PLAN_COLUMNS,
}
