"""Enlace de pago: placeholders replaced by URL-encoded values of the email's invoices."""

from datetime import date
from urllib.parse import quote

from cobranza.notices.messages import Line
from cobranza.notices.payment import payment_link

URL = "https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}&monto={importe}&m={moneda}"


def line(invoice: str, balance: int, currency: str = "MXN") -> Line:
    return Line(invoice, "C&1", date(2026, 12, 1), 3, balance, currency)


def test_one_invoice_its_number_balance_and_currency_url_encoded():
    link = payment_link(URL, "Ñandú & Cía/01", [line("F-001 #2", 1500050)])
    assert link == ("https://pagos.miempresa.com/pagar?cliente=%C3%91and%C3%BA%20%26%20C%C3%ADa"
                    "%2F01&factura=F-001%20%232&monto=15000.50&m=MXN")


def test_several_invoices_in_one_currency_sum_their_balances():
    link = payment_link(URL, "C1", [line("F-1", 10), line("F-2", 100000)])
    assert link.endswith("cliente=C1&factura=F-1%2CF-2&monto=1000.10&m=MXN")


def test_several_currencies_leave_the_amount_to_the_customer():
    link = payment_link(URL, "C1", [line("F-1", 5000, "CLP"), line("F-2", 100, "USD")])
    assert link.endswith("cliente=C1&factura=F-1%2CF-2&monto=&m=")
    assert payment_link(URL, "C1", [line("F-1", 5000, "CLP")]).endswith("monto=5000&m=CLP")


def test_no_link_configured_is_no_link():
    assert payment_link("", "C1", [line("F-1", 1)]) == ""


def test_several_invoices_encode_as_their_joined_numbers():
    """Each number is encoded alone and joined by %2C: the same as encoding the list."""
    numbers = ("F-1", "", "Ñ 2,3", "€/#", "F_4.~")
    link = payment_link(URL, "C1", [line(n, 1) for n in numbers])
    assert f"factura={quote(','.join(numbers), safe='')}&" in link
    braced = "https://x/{{cliente}}?f={factura}"  # braces of its own: replaced in turn
    assert payment_link(braced, "C1", [line(n, 1) for n in numbers]) == (
        f"https://x/{{C1}}?f={quote(','.join(numbers), safe='')}")
