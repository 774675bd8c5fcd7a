"""Deterministic demo data for `cobranza init --demo` and for benchmarks.

`generate(as_of)` returns plain lists of row tuples per input table, in the column order
of `addin/template/layout.py`, so any writer (the template builder, a fast xlsxwriter
benchmark writer) can put them in a workbook. Same `as_of` and `seed`, same rows.

The first rows of each sheet are hand-made cases every rule of the SPEC meets (their
invoice and customer ids are in `DemoData.cases`), then a few bad rows, then random
bulk data.
"""

from __future__ import annotations

import random
import unicodedata
import zlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from cobranza.book.config import DEFAULTS

Row = tuple[object, ...]

COLLECTORS = (
    ("Ana López", "ana.lopez@empresa-demo.mx", "+52 55 5201 4410"),
    ("Carlos Méndez", "carlos.mendez@empresa-demo.mx", "+52 55 5201 4411"),
    ("Lucía Ramírez", "lucia.ramirez@empresa-demo.mx", "+52 55 5201 4412"),
    ("Jorge Herrera", "jorge.herrera@empresa-demo.mx", "+52 55 5201 4413"),
    ("Sofía Castillo", "sofia.castillo@empresa-demo.mx", "+52 55 5201 4414"),
)
AREAS = (
    ("Comercial", "Roberto Sánchez", "comercial@empresa-demo.mx"),
    ("Logística", "Mariana Torres", "logistica@empresa-demo.mx"),
    ("Calidad", "Héctor Jiménez", "calidad@empresa-demo.mx"),
    ("Facturación", "Patricia Navarro", "facturacion@empresa-demo.mx"),
)
THIRD_PARTY = "Despacho Jurídico Ortega y Asociados, S.C."
# Configuración values of the demo company (the rest keep the template defaults): its
# identification and payment details, so a demo email shows everything a customer needs
# to pay. The CLABE's 18th digit is its check digit (BBVA 012, plaza 180).
PARAMETERS = {
    "Razón social": "Mi Empresa S.A. de C.V.",
    "RFC": "MEM150312KT4",
    "Domicilio": "Av. Insurgentes Sur 1602, piso 8, Col. Crédito Constructor, Benito Juárez, "
                 "03940 Ciudad de México, CDMX",
    "Teléfono de cobranza": "+52 55 5201 4400",
    "Horario de atención": "lunes a viernes de 9:00 a 18:00 h",
    "Banco": "BBVA México",
    "Cuenta": "012180001234567899",
    "Beneficiario": "Mi Empresa S.A. de C.V.",
    "Enlace de pago": "https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}"
                      "&importe={importe}&moneda={moneda}",
    "Aviso de privacidad": "https://www.miempresa.com/aviso-de-privacidad",
    "Descuento pronto pago": "2%",
    "Días pronto pago": "10",
}

_MX_KINDS = (
    "Abarrotes", "Distribuidora", "Comercializadora", "Grupo", "Industrias", "Transportes",
    "Ferretería", "Farmacias", "Constructora", "Servicios Integrales", "Alimentos",
    "Papelería", "Refaccionaria", "Textiles", "Plásticos", "Laboratorios", "Muebles",
    "Aceros", "Agroindustrias", "Logística",
)
_MX_PLACES = (
    "del Bajío", "Azteca", "Sierra Madre", "Los Altos", "del Norte", "del Pacífico", "Maya",
    "Anáhuac", "Tepeyac", "Cuauhtémoc", "La Esperanza", "San Miguel", "del Valle",
    "de Occidente", "Huasteca", "Tarasca", "Mixteca", "Santa Fe", "Chapultepec", "El Roble",
)
_MX_FORMS = ("S.A. de C.V.", "S.A. de C.V.", "S. de R.L. de C.V.", "S.A.P.I. de C.V.")
_FOREIGN = {  # country -> (kinds, places, legal form, zone, phone prefix, tld)
    "CO": (("Distribuciones", "Comercializadora", "Inversiones", "Textiles"),
           ("Andinas", "del Caribe", "La Sabana", "Antioquia", "del Cauca"), "S.A.S.",
           "America/Bogota", "+57 601", "co"),
    "CL": (("Comercial", "Importadora", "Servicios", "Distribuidora"),
           ("Los Andes", "Austral", "del Maule", "Atacama", "Pacífico Sur"), "SpA",
           "America/Santiago", "+56 2", "cl"),
    "PE": (("Inversiones", "Distribuidora", "Agroexportadora", "Comercial"),
           ("Miraflores", "Inca", "del Sur", "Arequipa", "Chavín"), "S.A.C.",
           "America/Lima", "+51 1", "pe"),
}
_MX_ZONES = (("America/Mexico_City", 70), ("America/Monterrey", 15),
             ("America/Tijuana", 7), ("America/Cancun", 8))
_REGIONS = ("Centro", "Norte", "Sur", "Oriente", "Poniente", "Golfo", "Sureste", "Noroeste")
_SEGMENTS = (("PyME", 45), ("Corporativo", 25), ("Distribuidor", 20), ("Gobierno", 5),
             ("VIP", 5))
_LIMITS = {"PyME": (5, 30), "Corporativo": (50, 300), "Distribuidor": (20, 120),
           "Gobierno": (50, 200), "VIP": (100, 500)}  # in units of 10 000
_BULK_RESULTS = (("Sin contacto", 35), ("Sin compromiso", 25), ("Promesa de pago", 25),
                 ("Pago informado", 8), ("Disputa", 7))
_COMMENTS = {
    "Sin contacto": ("Se dejó mensaje en recepción", "No contestan en el número registrado",
                     "Buzón de voz; se enviará correo"),
    "Sin compromiso": ("Indica que revisará con su tesorería", "Solicita copia de la factura",
                       "El responsable de pagos está de vacaciones"),
    "Promesa de pago": ("Confirma pago por transferencia", "Pagará en su próxima corrida de pagos",
                        "Promete pago total"),
    "Pago informado": ("Envía comprobante SPEI por correo", "Indica que ya pagó; pide validar"),
    "Disputa": ("Diferencia en precio contra el pedido", "Mercancía dañada en la entrega",
                "Factura con datos fiscales incorrectos"),
}


@dataclass
class DemoData:
    """Rows per input table (column order of the template) and the named demo cases."""

    customers: list[Row] = field(default_factory=list)
    invoices: list[Row] = field(default_factory=list)
    payments: list[Row] = field(default_factory=list)
    contacts: list[Row] = field(default_factory=list)
    collectors: list[Row] = field(default_factory=lambda: list(COLLECTORS))
    areas: list[Row] = field(default_factory=lambda: list(AREAS))
    # Configuración Parámetro/Valor rows: the template's, with the demo company's values
    parameters: list[Row] = field(
        default_factory=lambda: list({**DEFAULTS, **PARAMETERS}.items()))
    cases: dict[str, str] = field(default_factory=dict)  # case name -> invoice/customer id
    plans: list[Row] = field(default_factory=list)  # Convenios rows

    def tables(self) -> dict[str, list[Row]]:
        """Rows keyed by Excel table name, as the template builder takes them."""
        return {
            "tblClientes": self.customers, "tblFacturas": self.invoices,
            "tblPagos": self.payments, "tblGestiones": self.contacts,
            "tblCobradores": self.collectors, "tblAreas": self.areas,
            "tblParametros": self.parameters, "tblConvenios": self.plans,
        }


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _weighted(rng: random.Random, pairs: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


class _Builder:
    """Accumulates rows; ids are sequential so the hand-made cases keep theirs."""

    def __init__(self, as_of: date, seed: int) -> None:
        self.today = as_of
        self.rng = random.Random(seed)
        self.data = DemoData()
        self.terms: dict[str, int] = {}
        self.country: dict[str, str] = {}
        self.collector: dict[str, str] = {}
        self._names = self._name_pool()
        self._next_invoice = 1
        self._round = 0

    def day(self, offset: int) -> date:
        return self.today + timedelta(days=offset)

    def _name_pool(self) -> dict[str, list[tuple[str, str]]]:
        """Unique (kind, place) pairs per country, shuffled once."""
        pools = {"MX": [(k, p) for k in _MX_KINDS for p in _MX_PLACES]}
        for country, (kinds, places, *_rest) in _FOREIGN.items():
            pools[country] = [(k, p) for k in kinds for p in places]
        for pool in pools.values():
            self.rng.shuffle(pool)
        return pools

    def _next_name(self, country: str) -> tuple[str, str]:
        """A unique (kind, place); once the pool is used up, places get a region suffix."""
        if not self._names[country]:
            self._round += 1
            suffix = _REGIONS[self._round - 1] if self._round <= len(_REGIONS) else self._round
            base = _MX_KINDS if country == "MX" else _FOREIGN[country][0]
            places = _MX_PLACES if country == "MX" else _FOREIGN[country][1]
            pool = [(k, f"{p} {suffix}") for k in base for p in places]
            self.rng.shuffle(pool)
            self._names[country] = pool
        return self._names[country].pop()

    def _tax_id(self, country: str, kind: str, place: str) -> str:
        r = self.rng
        if country == "CO":
            return f"9{r.randrange(10**8):08d}-{r.randrange(10)}"
        if country == "CL":
            n = r.randrange(10**6)
            return f"76.{n // 1000:03d}.{n % 1000:03d}-{r.choice('0123456789K')}"
        if country == "PE":
            return f"20{r.randrange(10**9):09d}"
        letters = "".join(w[0] for w in _ascii(f"{kind} {place}").upper().split() if w.isalpha())
        born = date(1975, 1, 1) + timedelta(days=r.randrange(16000))
        tail = "".join(r.choice("ABCDEFGHJKLMNPRSTUVWXYZ0123456789") for _ in range(3))
        return f"{(letters + 'XXX')[:3]}{born:%y%m%d}{tail}"

    def customer(self, country: str = "MX", **over: object) -> str:
        """Add one customer row; keyword overrides use the Clientes header in snake form."""
        r = self.rng
        kind, place = self._next_name(country)
        form = r.choice(_MX_FORMS) if country == "MX" else _FOREIGN[country][2]
        name = f"{kind} {place} {form}"
        code = self._tax_id(country, kind, place)
        tld = _FOREIGN[country][5] if country != "MX" else "mx"
        slug = "-".join(_ascii(f"{kind} {place}").lower().replace(".", "").split())
        email = f"pagos.{slug}@cliente-demo.{tld}"
        if r.random() < 0.2:
            email += f"; tesoreria.{slug}@cliente-demo.{tld}"
        segment = _weighted(r, _SEGMENTS)
        low, high = _LIMITS[segment]
        row = {
            "code": code,
            "name": name,
            "email": email,
            "cc": f"compras.{slug}@cliente-demo.{tld}" if r.random() < 0.25 else None,
            "phone": self._phone(country),
            "segment": segment,
            "limit": None if r.random() < 0.1 else float(r.randint(low, high) * 10000),
            "collector": r.choice(COLLECTORS)[0],
            "notices": None if r.random() < 0.1 else "Sí",
            "zone": _weighted(r, _MX_ZONES) if country == "MX" else _FOREIGN[country][3],
            "third": None,
            "pais": country,
        }
        row.update(over)
        code = str(row["code"])
        self.data.customers.append((code, row["name"], row["email"], row["cc"], row["phone"],
                                    row["segment"], row["limit"], row["collector"],
                                    row["notices"], row["zone"], row["third"], row["pais"]))
        self.terms[code] = r.choice((15, 30, 30, 45, 60))
        self.country[code] = country
        self.collector[code] = str(row["collector"])
        return code

    def case(self, country: str = "MX", **over: object) -> str:
        """A hand-made case's customer: plain profile unless the case says otherwise."""
        plain: dict[str, object] = {"segment": "Corporativo", "limit": None, "notices": "Sí"}
        if country == "MX":
            plain["zone"] = "America/Mexico_City"
        return self.customer(country, **(plain | over))

    def _phone(self, country: str) -> str:
        r = self.rng
        if country == "MX":
            area = r.choice(("55", "33", "81", "222", "442", "477"))
            return f"+52 {area} {r.randrange(1000, 9999)} {r.randrange(1000, 9999)}"
        return f"{_FOREIGN[country][4]} {r.randrange(100, 999)} {r.randrange(1000, 9999)}"

    def invoice(self, customer: str, issued: object, due: object, amount: object,
                currency: str = "MXN", notes: str | None = None, number: str = "") -> str:
        if not number:
            number = f"F-{self._next_invoice:06d}"
            self._next_invoice += 1
        self.data.invoices.append((number, customer, issued, due, currency, amount, notes))
        return number

    def pay(self, when: date, customer: str | None, invoice: str, amount: float,
            reference: str | None = None) -> None:
        if reference is None:
            kind = self.rng.choice(("SPEI", "SPEI", "Transferencia", "Depósito", "Cheque"))
            reference = f"{kind} {self.rng.randrange(10**6, 10**7)}"
        self.data.payments.append((when, customer, invoice, amount, reference))

    def contact(self, when: date, customer: str, invoice: str | None, result: str,
                promise: date | None = None, area: str | None = None,
                comment: str | None = None, follow_up: date | None = None) -> None:
        self.data.contacts.append((when, self.collector.get(customer, COLLECTORS[0][0]),
                                   customer, invoice, result, promise, area, comment,
                                   follow_up))


def _stage_cases(b: _Builder) -> None:
    """One customer per notice stage, each with one invoice exactly at that stage."""
    cases = b.data.cases
    stages = (("nueva", 0, 30, 48500.0), ("previo", -25, 5, 32180.4),
              ("vencida_1", -31, -1, 15230.0), ("vencida_15", -45, -15, 27400.75),
              ("vencida_30", -60, -30, 9875.5), ("mora_45", -75, -45, 61200.0),
              ("suspension_60", -90, -60, 134560.9))
    for name, issued, due, amount in stages:
        customer = b.case()
        cases[name] = b.invoice(customer, b.day(issued), b.day(due), amount)
        cases[f"cliente_{name}"] = customer


def _promise_cases(b: _Builder) -> None:
    cases, c = b.data.cases, b.case()
    cases["cliente_promesas"] = c
    cases["promesa_hoy"] = b.invoice(c, b.day(-50), b.day(-20), 18900.0)
    cases["promesa_ayer"] = b.invoice(c, b.day(-55), b.day(-25), 22450.3)
    cases["promesa_manana"] = b.invoice(c, b.day(-40), b.day(-10), 7300.0)
    b.contact(b.day(-5), c, cases["promesa_hoy"], "Promesa de pago", b.day(0),
              comment="Confirma pago por transferencia para hoy")
    b.contact(b.day(-6), c, cases["promesa_ayer"], "Promesa de pago", b.day(-1),
              comment="Promete pago total ayer")
    b.contact(b.day(-3), c, cases["promesa_manana"], "Promesa de pago", b.day(1),
              comment="Pagará en su próxima corrida de pagos")


def _status_cases(b: _Builder) -> None:
    """Disputes, third party, write-off, reported payments."""
    cases, c = b.data.cases, b.case()
    cases["cliente_disputas"] = c
    cases["disputa_abierta"] = b.invoice(c, b.day(-65), b.day(-35), 45800.0)
    cases["disputa_resuelta"] = b.invoice(c, b.day(-80), b.day(-50), 12640.0)
    b.contact(b.day(-12), c, cases["disputa_abierta"], "Disputa", area="Calidad",
              comment="Producto dañado en la entrega; solicita nota de crédito")
    b.contact(b.day(-40), c, cases["disputa_resuelta"], "Disputa", area="Facturación",
              comment="Precio distinto al del pedido")
    b.contact(b.day(-10), c, cases["disputa_resuelta"], "Disputa resuelta", area="Facturación",
              comment="Se emitió nota de crédito; procede el pago")
    c = cases["cliente_tercero"] = b.case(third=THIRD_PARTY)
    cases["tercero"] = b.invoice(c, b.day(-150), b.day(-120), 88300.0)
    b.contact(b.day(-20), c, cases["tercero"], "Asignar a tercero",
              comment="Sin respuesta tras cuatro avisos; se turna al despacho")
    c = cases["cliente_castigo"] = b.case()
    cases["castigo"] = b.invoice(c, b.day(-250), b.day(-220), 5600.0)
    b.contact(b.day(-30), c, cases["castigo"], "Castigo", comment="Empresa en concurso mercantil")
    c = cases["cliente_pago_informado"] = b.case()
    cases["pago_informado_viejo"] = b.invoice(c, b.day(-48), b.day(-18), 31000.0)
    cases["pago_informado_reciente"] = b.invoice(c, b.day(-38), b.day(-8), 14250.0)
    b.contact(b.day(-10), c, cases["pago_informado_viejo"], "Pago informado",
              comment="Envía comprobante SPEI por correo")
    b.contact(b.day(-2), c, cases["pago_informado_reciente"], "Pago informado",
              comment="Indica que ya pagó; pide validar")


def _payment_cases(b: _Builder) -> None:
    cases, c = b.data.cases, b.case()
    cases["cliente_pagos"] = c
    cases["dos_parciales"] = b.invoice(c, b.day(-70), b.day(-40), 10000.0)
    cases["parcial"] = b.invoice(c, b.day(-55), b.day(-25), 20000.0)
    cases["pagada"] = b.invoice(c, b.day(-40), b.day(-10), 8750.0)
    b.pay(b.day(-30), c, cases["dos_parciales"], 4000.0, "SPEI 1000001")
    b.pay(b.day(-12), c, cases["dos_parciales"], 6000.0, "SPEI 1000002")
    b.pay(b.day(-20), c, cases["parcial"], 5000.0, "Transferencia 1000003")
    b.pay(b.day(-12), None, cases["pagada"], 8750.0, "Depósito 1000004")
    b.contact(b.day(-12), c, cases["dos_parciales"], "Pago recibido",
              comment="Liquida con segundo pago")


def _customer_cases(b: _Builder) -> None:
    """Credit, large invoice, no gestión, no notices, no email, VIP, follow-ups, countries."""
    cases = b.data.cases
    c = cases["credito_95"] = b.case(limit=100000.0, segment="PyME")
    cases["factura_credito_95"] = b.invoice(c, b.day(-10), b.day(20), 95000.0)
    c = cases["credito_120"] = b.case(limit=50000.0, segment="PyME")
    cases["factura_credito_120"] = b.invoice(c, b.day(-40), b.day(-10), 60000.0)
    c = cases["cliente_llamada_previa"] = b.case(segment="Corporativo")
    cases["llamada_previa"] = b.invoice(c, b.day(-28), b.day(2), 250000.0)
    c = cases["sin_gestion"] = b.case()
    cases["sin_gestion_40"] = b.invoice(c, b.day(-70), b.day(-40), 23900.0)
    cases["sin_gestion_22"] = b.invoice(c, b.day(-52), b.day(-22), 11200.0)
    c = cases["sin_avisos"] = b.case(notices="No")
    cases["factura_sin_avisos"] = b.invoice(c, b.day(-45), b.day(-15), 19800.0)
    c = cases["sin_email"] = b.case(email="cuentasporpagar.cliente-demo.mx", cc=None)
    cases["factura_sin_email"] = b.invoice(c, b.day(-31), b.day(-1), 7640.0)
    c = cases["vip"] = b.case(segment="VIP", limit=3000000.0)
    cases["factura_vip"] = b.invoice(c, b.day(-60), b.day(-30), 412000.0)
    c = cases["cliente_seguimiento"] = b.case()
    cases["seguimiento_hoy"] = b.invoice(c, b.day(-58), b.day(-28), 16780.0)
    b.contact(b.day(-7), c, cases["seguimiento_hoy"], "Sin compromiso",
              comment="Indica que revisará con su tesorería", follow_up=b.day(0))
    b.contact(b.day(-2), c, None, "Sin contacto", comment="No contestan; llamar de nuevo",
              follow_up=b.day(1))
    # An importer in Argentina: País AR has no legal profile of its own (`ninguno`) and
    # Argentina's holidays are its non-business days. Drawn like an MX case and then
    # renamed, so every later random draw of the demo stays the same.
    c = cases["cliente_usd"] = cases["cliente_ar"] = b.case(
        code="30-71456982-5", name="Importadora Río de la Plata S.A.",
        email="pagos.importadora-rio-de-la-plata@cliente-demo.ar", cc=None,
        phone="+54 11 4321 5678", zone="America/Argentina/Buenos_Aires", pais="AR")
    cases["usd"] = b.invoice(c, b.day(-45), b.day(-15), 12400.0, "USD")
    for country, due in (("CO", -1), ("CL", -15), ("PE", -30)):
        c = cases[f"cliente_{country.lower()}"] = b.case(country)
        cases[f"factura_{country.lower()}"] = b.invoice(c, b.day(due - 30), b.day(due),
                                                        8300.0, "USD")


def _bad_rows(b: _Builder) -> None:
    """One bad row of each kind the validator must report (valid rows keep working)."""
    cases = b.data.cases
    c = cases["cliente_duplicada"] = b.case()
    dup = cases["duplicada"] = b.invoice(c, b.day(-20), b.day(10), 5400.0)
    cases["fecha_invalida"] = b.invoice(c, b.day(-10), "31/02/2026", 3200.0)
    cases["importe_negativo"] = b.invoice(c, b.day(-10), b.day(20), -1500.0)
    cases["importe_texto"] = b.invoice(c, b.day(-10), b.day(20), "mil pesos")
    cases["cliente_desconocido"] = b.invoice("ZZZ991231XX9", b.day(-10), b.day(20), 2100.0)
    b.invoice(c, b.day(-5), b.day(25), 5450.0, notes="Captura duplicada", number=dup)
    cases["vencimiento_antes"] = b.invoice(c, b.day(-10), b.day(-40), 4100.0)
    b.pay(b.day(-3), c, "F-999999", 1000.0, "SPEI 1000005")
    b.contact(b.day(-1), c, dup, "Llamar la próxima semana", comment="Resultado fuera de lista")


def _same_day_cases(b: _Builder) -> None:
    """A day with several notices due for one customer: the collector could not reach the
    PREVIO customer today, so its one email carries SIN_CONTACTO and then PREVIO (the
    `seguimiento` customer's, VENCIDA_15 and then SIN_CONTACTO for its call two days ago).
    After the bad rows, so the rows before keep their numbers."""
    cases = b.data.cases
    b.contact(b.day(0), cases["cliente_previo"], cases["previo"], "Sin contacto",
              comment="No contestan; se le envía correo", follow_up=b.day(1))


PLAN_CUSTOMERS, PLAN_INVOICES = 2, 3  # what `_plan_cases` adds


def _plan_cases(b: _Builder, seed: int) -> None:
    """Two payment plans: one current, whose 2nd instalment is due in 3 days (CUOTA_PREVIA
    today), and one that breaks today (its 2nd instalment, due 6 days ago, is still
    unpaid after the 5 days of grace): Convenio incumplido, its alert and digest line, and
    the invoice's regular reminder again."""
    cases, rng = b.data.cases, b.rng
    b.rng = random.Random(seed + 1)
    c = cases["cliente_convenio"] = b.case()
    first = cases["convenio_factura_1"] = b.invoice(c, b.day(-100), b.day(-70), 60000.0)
    second = cases["convenio_factura_2"] = b.invoice(c, b.day(-80), b.day(-50), 30000.0)
    plan = cases["convenio"] = "CV-0001"
    for n, due in enumerate((-10, 3, 34), start=1):
        b.data.plans.append((plan, c, f"{first};{second}", b.day(-20), n, b.day(due), 30000.0,
                             "Activo"))
    b.pay(b.day(-9), c, first, 30000.0, "SPEI 1000010")
    c = cases["cliente_convenio_incumplido"] = b.case()
    cases["convenio_incumplido_factura"] = b.invoice(c, b.day(-110), b.day(-80), 45000.0)
    plan = cases["convenio_incumplido"] = "CV-0002"
    for n, due in enumerate((-30, -6, 24), start=1):
        b.data.plans.append((plan, c, None, b.day(-40), n, b.day(due), 15000.0, None))
    b.pay(b.day(-29), c, cases["convenio_incumplido_factura"], 15000.0, "SPEI 1000011")
    b.rng = rng
def _kept_promise_cases(b: _Builder) -> None:
    """A promise kept on its date (the bulk gestiones are drawn for invoices that stay
    open, so without it Tablero's Promesas cumplidas would be 0 %). After the bad rows,
    so the rows before keep their numbers."""
    cases = b.data.cases
    b.contact(b.day(-15), cases["cliente_pagos"], cases["pagada"], "Promesa de pago",
              b.day(-12), comment="Promete pago total por depósito")


def _bulk_customers(b: _Builder, count: int) -> list[str]:
    countries = (("MX", 90), ("CO", 4), ("CL", 3), ("PE", 3))
    codes = []
    for _ in range(count):
        country = _weighted(b.rng, countries)
        if not b._names[country]:
            country = "MX"
        codes.append(b.customer(country))
    return codes


def _bulk_invoices(b: _Builder, customers: list[str], count: int) -> list[Row]:
    r = b.rng
    weights = [r.uniform(0.3, 3.0) for _ in customers]
    # Foreign customers are billed in USD, and one Mexican customer in twenty.
    usd = {c for c in customers if r.random() < 0.05 or b.country[c] != "MX"}
    picks = r.choices(customers, weights=weights, k=count)
    issued = sorted(b.day(-r.randrange(0, 181)) for _ in range(count))
    start = len(b.data.invoices)
    for customer, when in zip(picks, issued, strict=True):
        currency = "USD" if customer in usd else "MXN"
        amount = min(max(r.lognormvariate(10.0, 0.9), 800.0), 900000.0)
        amount = round(amount / 18.0 if currency == "USD" else amount, 2)
        notes = f"OC-{r.randrange(10000, 99999)}" if r.random() < 0.15 else None
        due = when + timedelta(days=b.terms[customer])
        b.invoice(customer, when, due, amount, currency, notes)
    return b.data.invoices[start:]


# Days after Vencimiento a customer usually pays: most on time or nearly, a few late
# payers (the Riesgo benchmark needs customers who differ, as real ones do).
HABITS = (-8, -5, -3, 0, 2, 5, 12, 25)


def _habit(customer: str) -> int:
    """The customer's habit, fixed by its code (no random draw: the demo's other rows stay
    as they were)."""
    return HABITS[zlib.crc32(customer.encode()) % len(HABITS)]


def _bulk_payments(b: _Builder, invoices: list[Row]) -> list[Row]:
    """Pay most old invoices (some partially, some in two parts); return the open ones."""
    r, still_open = b.rng, []
    for number, customer, issued, due, _cur, amount, _notes in invoices:
        late = (b.today - due).days
        chance = 0.93 if late > 120 else 0.72 if late > 3 else 0.12
        roll = r.random()
        if issued >= b.today or roll > chance + 0.08:
            still_open.append((number, customer, due))
            continue
        lo = max((issued - b.today).days + 1, -400)
        # each customer's habit (days after Vencimiento it usually pays), +-5 days
        late_by = _habit(customer) + (r.randint(-10, 20) - 5) // 3
        when = b.day(min(max((due - b.today).days + late_by, lo), -1))
        who = customer if r.random() < 0.9 else None
        if roll > chance:  # partial payment: the invoice stays open
            b.pay(when, who, number, round(amount * r.choice((0.3, 0.5, 0.6)), 2))
            still_open.append((number, customer, due))
        elif r.random() < 0.05:
            first = round(amount * 0.4, 2)
            b.pay(when, who, number, first)
            b.pay(min(when + timedelta(days=7), b.day(-1)), who, number,
                  round(amount - first, 2))
        else:
            b.pay(when, who, number, amount)
    return still_open


def _bulk_contacts(b: _Builder, still_open: list[Row]) -> None:
    r, rows = b.rng, []
    for number, customer, due in still_open:
        late = (b.today - due).days
        if late < 2 or r.random() > 0.45:
            continue
        when = b.day(-r.randint(1, min(late - 1, 30)))
        result = _weighted(r, _BULK_RESULTS)
        promise = when + timedelta(days=r.randint(2, 15)) if result == "Promesa de pago" else None
        area = r.choice(AREAS)[0] if result == "Disputa" else None
        follow = (when + timedelta(days=r.randint(1, 7))
                  if result in ("Sin contacto", "Sin compromiso") else None)
        rows.append((when, customer, number, result, promise, area,
                     r.choice(_COMMENTS[result]), follow))
    for when, customer, number, result, promise, area, comment, follow in sorted(
        rows, key=lambda x: (x[0], x[2])
    ):
        b.contact(when, customer, number, result, promise, area, comment, follow)


def generate(as_of: date, *, seed: int = 7, invoices: int = 2000,
             customers: int | None = None, plans: bool = True) -> DemoData:
    """Demo rows relative to `as_of`: exactly `invoices` Facturas rows and `customers`
    Clientes rows (default: 7.5% of `invoices`, at least the hand-made cases), then, with
    `plans`, the payment-plan cases (`_plan_cases`: 2 more customers, 3 more invoices,
    added last with draws of their own, so every row before them stays as it was).
    """
    b = _Builder(as_of, seed)
    for make in (_stage_cases, _promise_cases, _status_cases, _payment_cases,
                 _customer_cases, _bad_rows, _same_day_cases, _kept_promise_cases):
        make(b)
    wanted = customers if customers is not None else round(invoices * 0.075)
    n_bulk = max(invoices - len(b.data.invoices), 0)
    n_customers = max(wanted - len(b.data.customers), 1 if n_bulk else 0)
    bulk = _bulk_invoices(b, _bulk_customers(b, n_customers), n_bulk)
    _bulk_contacts(b, _bulk_payments(b, bulk))
    if plans:
        _plan_cases(b, seed)
    return b.data
