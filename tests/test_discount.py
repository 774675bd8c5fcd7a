"""Early-payment discount (seed 002): exact in minor units, rounded half up, only inside
the window Emisión + Días pronto pago (inclusive)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cobranza.book.money import format_amount
from cobranza.notices.discount import EarlyPayment, discounted, early_payment, percent_text

ISSUED = date(2026, 12, 1)


@pytest.mark.parametrize(("balance", "currency", "percent", "pays"), [
    (100025, "MXN", "2", "$980.25 MXN"),  # 98024.5 centavos: the tie goes up
    (100000, "MXN", "2", "$980.00 MXN"),
    (1, "MXN", "50", "$0.01 MXN"),  # 0.5 centavo rounds up
    (3, "MXN", "50", "$0.02 MXN"),  # 1.5 -> 2
    (150001, "CLP", "2", "$147,001 CLP"),  # 147000.98 pesos, no decimals
    (150025, "CLP", "2", "$147,025 CLP"),  # 147024.5 -> 147025
    (1999, "USD", "2.5", "$19.49 USD"),  # 1949.025 -> 1949
    (123456789, "MXN", "0.125", "$1,233,024.68 MXN"),  # 123302468.01375 -> ...468
    (10, "MXN", "99.99", "$0.00 MXN"),  # 0.001 centavo rounds down
    (100000000000000000, "MXN", "3.333333333333333333", "$966,666,666,666,666.67 MXN"),
])
def test_exact_discounted_amounts(balance, currency, percent, pays):
    assert format_amount(discounted(balance, Decimal(percent)), currency) == pays


@given(balance=st.integers(0, 10**17),
       percent=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("99.9999"),
                           places=4))
def test_discount_is_the_exact_amount_rounded_half_up(balance, percent):
    with localcontext() as ctx:
        ctx.prec = 60  # enough for every digit of balance * (100 - percent)
        exact = Decimal(balance) * (100 - percent) / 100
        expected = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    result = discounted(balance, percent)
    assert result == expected
    assert 0 <= result <= balance


@pytest.mark.parametrize(("as_of", "issued", "balance", "expected"), [
    (date(2026, 12, 1), ISSUED, 100025, EarlyPayment(98025, date(2026, 12, 11))),
    (date(2026, 12, 11), ISSUED, 100025, EarlyPayment(98025, date(2026, 12, 11))),  # last day
    (date(2026, 12, 12), ISSUED, 100025, None),  # the window has passed
    (date(2026, 12, 5), None, 100025, None),  # no Emisión: no window
    (date(2026, 12, 5), ISSUED, 0, None),  # nothing owed
])
def test_window_is_emision_plus_dias_pronto_pago(as_of, issued, balance, expected):
    assert early_payment(balance, issued, as_of, Decimal(2), 10) == expected


def test_no_discount_configured_means_none():
    assert early_payment(100025, ISSUED, ISSUED, Decimal(0), 10) is None
    assert early_payment(100025, ISSUED, ISSUED, Decimal(2), 0) == EarlyPayment(98025, ISSUED)


@pytest.mark.parametrize(("percent", "text"), [
    ("2", "2%"), ("2.50", "2.5%"), ("10", "10%"), ("0.125", "0.125%"), ("0", "")])
def test_percent_as_the_email_says_it(percent, text):
    assert percent_text(Decimal(percent)) == text
