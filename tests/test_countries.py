"""Each customer under its own country's contact rules (issue 12): Clientes `País`.

Real workbooks (built by the template builder, as `cobranza init` does), real
`cobranza sync` subprocesses on several `--as-of` days, a real aiosmtpd server. The
company is Mexican (Zona horaria America/Mexico_City, País feriados MX, Perfil legal MX)
unless a test says otherwise; every customer gets a new invoice (so a NUEVA notice) on
each day of the run, due far ahead, so nothing else is due.

December 2026: Tuesday 8 is a holiday in CO, CL, PE and AR (not in MX); Saturday 12 and
Sunday 13 are a weekend. Mexico City is UTC-6, Bogotá UTC-5, Santiago and Buenos Aires
UTC-3 (Chilean summer time).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from pathlib import Path

import python_calamine

from addin import build_template
from addin.template import layout
from cobranza.book.config import DEFAULTS
from tests.cli import cobranza
from tests.smtp_server import SmtpTestServer

ZONES = {"MX": "America/Mexico_City", "CO": "America/Bogota", "CL": "America/Santiago",
         "AR": "America/Argentina/Buenos_Aires", "": "America/Mexico_City"}


def email_of(customer: str) -> str:
    return f"pagos.{customer.lower()}@cliente.example"


def row(spec: layout.TableSpec, values: dict[str, object]) -> tuple[object, ...]:
    """A table row in the template's column order, from header -> value."""
    return tuple(values.get(c.header) for c in spec.columns)


def build_book(folder: Path, customers: dict[str, str], days: list[int],
               parameters: dict[str, str] | None = None,
               extra_invoices: list[dict[str, object]] = ()) -> Path:
    """A workbook with `customers` (code -> País as typed) and, per customer and day of
    December 2026 in `days`, an invoice F-<customer>-<day> issued that day."""
    folder.mkdir(parents=True, exist_ok=True)
    clientes = [row(layout.CLIENTES, {
        "Cliente": code, "Nombre": f"Cliente {code}", "Email": email_of(code),
        "Avisos automáticos": "Sí", "Zona horaria": ZONES.get(country.upper(), ZONES[""]),
        "País": country or None,
    }) for code, country in customers.items()]
    facturas = [row(layout.FACTURAS, {
        "Factura": f"F-{code}-{day:02d}", "Cliente": code, "Emisión": datetime(2026, 12, day),
        "Vencimiento": datetime(2027, 3, 31), "Moneda": "MXN", "Importe": 1000 + day,
    }) for code in customers for day in days]
    facturas += [row(layout.FACTURAS, values) for values in extra_invoices]
    settings = {**DEFAULTS, **(parameters or {})}
    return build_template.build(folder / "libro.xlsm", {
        "tblClientes": clientes, "tblFacturas": facturas,
        "tblParametros": list(settings.items()),
    })


class Inbox:
    """What each customer receives, sync by sync."""

    def __init__(self, book: Path, server: SmtpTestServer) -> None:
        self.book, self.server, self.seen = book, server, 0

    def sync(self, at: str) -> dict[str, list[list[str]]]:
        """Run `cobranza sync --as-of at`; customer -> the invoices of each message it got."""
        cobranza("sync", self.book, "--as-of", at, server=self.server)
        new = self.server.received()[self.seen:]
        self.seen += len(new)
        got: dict[str, list[list[str]]] = defaultdict(list)
        for message in new:
            (to,) = message.rcpt_tos
            customer = to.split("@")[0].removeprefix("pagos.").upper()
            got[customer].append(invoices_in(message.body()))
        return dict(got)


def invoices_in(body: str) -> list[str]:
    """Invoice numbers a notice body lists (F-<customer>-<day>)."""
    return sorted({word.strip(",.:") for word in body.split() if word.startswith("F-")})


def sheet_rows(book: Path, sheet: str, first: str) -> list[list]:
    """Data rows of the output table whose header starts with `first`."""
    rows = python_calamine.CalamineWorkbook.from_path(str(book)).get_sheet_by_name(
        sheet).to_python()
    start = next(i for i, r in enumerate(rows) if r and r[0] == first)
    return [r for r in rows[start + 1:] if any(v != "" for v in r)]


def waiting(book: Path) -> dict[str, set[str]]:
    """Customer -> the Motivo of its `pendiente` rows in Envíos (the last sync's)."""
    out: dict[str, set[str]] = defaultdict(set)
    for r in sheet_rows(book, "Envíos", "Fecha"):
        if r[1] == "Aviso" and r[7] == "pendiente":
            out[str(r[3])].add(str(r[8]))
    return dict(out)


def test_a_colombian_and_a_chilean_customer_of_a_mexican_company_follow_their_own_laws(
        tmp_path):
    """MX (CONDUSEF 07-22) holds nothing back inside the Ventana; CO (Ley 2300) never on a
    CO holiday, 07:00-19:00, one contact a day; CL (Ley 21.320) never on a CL holiday
    (its business days), two days apart, two per rolling week; AR has no profile
    (`ninguno`) but Argentina's holidays are its non-business days."""
    customers = {"MX1": "MX", "CO1": "CO", "CL1": "CL", "AR1": "ar"}
    # CO1 also has an invoice due 15/12: its PREVIO is due on the 10th with that day's NUEVA
    previo = {"Factura": "F-CO1-P", "Cliente": "CO1", "Emisión": datetime(2026, 11, 2),
              "Vencimiento": datetime(2026, 12, 15), "Moneda": "MXN", "Importe": 500}
    book = build_book(tmp_path, customers, [8, 9, 10, 11, 14, 15], extra_invoices=[previo])
    with SmtpTestServer() as server:
        inbox = Inbox(book, server)

        # Tuesday 8: a holiday in CO, CL and AR, a business day in Mexico.
        assert inbox.sync("2026-12-08T10:00") == {"MX1": [["F-MX1-08"]]}
        assert waiting(book) == {
            "CO1": {"día feriado en CO"}, "CL1": {"día feriado en CL"},
            "AR1": {"día feriado en AR"}}

        # Wednesday 9: everyone, once.
        assert inbox.sync("2026-12-09T10:00") == {
            "MX1": [["F-MX1-09"]], "CO1": [["F-CO1-08", "F-CO1-09"]],
            "CL1": [["F-CL1-08", "F-CL1-09"]], "AR1": [["F-AR1-08", "F-AR1-09"]]}

        # Thursday 10: CL1 was contacted yesterday (two days apart). CO1 has two notices
        # due (PREVIO and NUEVA) and gets one email: one contact a day, and the preview
        # does not hold the second one back as if a contact had already happened.
        cobranza("sync", book, "--as-of", "2026-12-10T10:00", "--dry-run", server=server)
        assert [(r[0], r[7], r[8]) for r in sheet_rows(book, "Vista previa", "Código")
                if str(r[1]).startswith("CO1")] == [("PREVIO, NUEVA", "listo", "")]
        got = inbox.sync("2026-12-10T10:00")
        assert (got["MX1"], got["AR1"], got["CO1"]) == (
            [["F-MX1-10"]], [["F-AR1-10"]], [["F-CO1-10", "F-CO1-P"]])
        assert "CL1" not in got
        assert waiting(book) == {
            "CL1": {"Perfil legal CL: debe haber al menos dos días entre mensajes"}}

        # Friday 11: CL1 again (the 9th and the 11th are two days apart).
        got = inbox.sync("2026-12-11T10:00")
        assert (got["MX1"], got["CL1"], len(got["CO1"])) == (
            [["F-MX1-11"]], [["F-CL1-10", "F-CL1-11"]], 1)

        # Monday 14: CL1 had two messages in the last seven days (9th and 11th).
        got = inbox.sync("2026-12-14T10:00")
        assert (got["MX1"], got["AR1"], len(got["CO1"])) == ([["F-MX1-14"]], [["F-AR1-14"]], 1)
        assert "CL1" not in got
        assert waiting(book)["CL1"] == {"Perfil legal CL: máximo dos mensajes por semana"}

        # Tuesday 15 at 18:30 in Mexico City: 19:30 in Bogotá, past CO's 19:00.
        assert inbox.sync("2026-12-15T18:30") == {"MX1": [["F-MX1-15"]]}
        assert "Perfil legal CO: fuera del horario permitido 07:00-19:00 (hora del cliente)" \
            in waiting(book)["CO1"]

        # Wednesday 16: the rest go (CL1: only the 11th is within the last seven days).
        got = inbox.sync("2026-12-16T10:00")
        assert (got["CL1"], got["AR1"], len(got["CO1"])) == (
            [["F-CL1-14", "F-CL1-15"]], [["F-AR1-15"]], 1)
        assert "MX1" not in got


def test_blank_pais_follows_perfil_legal_and_a_bad_one_is_an_error(tmp_path):
    """Perfil legal CO, Solo días hábiles No: a blank País and an unknown one ("Colombia",
    an Errores row) follow CO (Saturday 08-15, never Sunday); MX and CL their own."""
    customers = {"MX1": "MX", "BL1": "", "BAD1": "Colombia", "CL1": "CL"}
    book = build_book(tmp_path, customers, [12, 13], parameters={
        "Perfil legal": "CO", "Solo días hábiles": "No"})
    with SmtpTestServer() as server:
        inbox = Inbox(book, server)
        # Saturday 16:30 (Mexico City, where BL1 and BAD1 are): past CO's Saturday 15:00.
        assert inbox.sync("2026-12-12T16:30") == {
            "MX1": [["F-MX1-12"]], "CL1": [["F-CL1-12"]]}
        saturday = "Perfil legal CO: fuera del horario permitido 08:00-15:00 (hora del cliente)"
        assert {c: waiting(book)[c] for c in ("BL1", "BAD1")} == {
            "BL1": {saturday}, "BAD1": {saturday}}

        # Sunday: no contact under CO or CL; MX (07-22 every day) goes.
        assert inbox.sync("2026-12-13T10:00") == {"MX1": [["F-MX1-13"]]}
        assert waiting(book) == {
            "BL1": {"Perfil legal CO: domingo no se permite contacto"},
            "BAD1": {"Perfil legal CO: domingo no se permite contacto"},
            "CL1": {"Perfil legal CL: domingo no se permite contacto"}}

    errors = [r for r in sheet_rows(book, "Errores", "Hoja") if r[0] == "Clientes"]
    assert errors == [[
        "Clientes", 4, "País", "Colombia",
        "no es un código de país (use el código ISO de dos letras, por ejemplo MX, CO, CL, "
        "PE, AR o US); mientras tanto se usan el Perfil legal (CO) y los feriados de País "
        "feriados (MX) de Configuración."]]
