"""Configuración parameters for payment details, the early-payment discount and the archive."""

from decimal import Decimal

import pytest

from cobranza.book.config import Config, parse_config


def test_blank_payment_details_are_left_out_and_the_reference_is_the_customer_code():
    config, issues = parse_config({"Banco": "", "Cuenta": "  "})
    assert issues == []
    assert (config.bank, config.account, config.payment_link) == ("", "", "")
    assert config.payment_reference == "{{ cliente.codigo }}"
    assert (config.early_discount, config.early_days, config.archive_months) == (0, 10, 24)


@pytest.mark.parametrize(("text", "percent"), [
    ("2%", Decimal(2)), ("2", Decimal(2)), ("2,5 %", Decimal("2.5")), ("0.5", Decimal("0.5")),
])
def test_the_discount_is_an_exact_percent(text, percent):
    config, issues = parse_config({"Descuento pronto pago": text})
    assert issues == [] and config.early_discount == percent


@pytest.mark.parametrize(("label", "text", "problem"), [
    ("Descuento pronto pago", "dos", "use un porcentaje, por ejemplo 2%"),
    ("Descuento pronto pago", "150%", "debe ser un porcentaje entre 0% y 100%, por ejemplo 2%"),
    ("Meses de archivo", "0", "debe ser al menos 1 mes"),
    ("Enlace de pago", "pagos.miempresa.com/{cliente}",
     "debe ser una dirección web que empiece con https://, por ejemplo "
     "https://pagos.miempresa.com/?cliente={cliente}"),
    ("Enlace de pago", "https://pagos.miempresa.com/?c={cliente}&t={total}",
     "{total} no es un dato que se pueda poner en el enlace "
     "(use {cliente}, {factura}, {importe}, {moneda})"),
])
def test_a_bad_value_is_reported_and_the_default_kept(label, text, problem):
    config, issues = parse_config({label: text})
    assert [(i.parameter, i.value, i.problem) for i in issues] == [(label, text, problem)]
    assert config == Config()


def test_a_link_with_known_placeholders_is_kept_as_written():
    url = "https://pagos.miempresa.com/pagar?cliente={cliente}&factura={factura}&monto={importe}"
    config, issues = parse_config({"Enlace de pago": url, "Meses de archivo": "36"})
    assert issues == [] and config.payment_link == url and config.archive_months == 36
