"""One definition of a valid address (cobranza.book.addresses), and validation, the planner
and the mailer agreeing on it (before, `a[1]@x.mx` passed two checks and failed the
third, ending as a final `error` at send time)."""

from __future__ import annotations

import pandas as pd
import pytest

from cobranza.book.addresses import is_valid, needs_smtputf8, split_addresses, wire_form
from cobranza.book.validate import CELL_PARSERS
from cobranza.notices.customers import valid_emails
from sync.mail.transport import PermanentSendError, parse_address

VALID = [
    ("pagos@lopez.mx", "pagos@lopez.mx"),
    ("o'brien+factura@acme.com", "o'brien+factura@acme.com"),
    ("pagos@compañía.mx", "pagos@xn--compaa-7va5a.mx"),
    ("pagos@xn--compaa-7va5a.mx", "pagos@xn--compaa-7va5a.mx"),
    ("josé.pérez@cliente.mx", "josé.pérez@cliente.mx"),
    ("cobros@sub.dominio-largo.com.mx", "cobros@sub.dominio-largo.com.mx"),
]
INVALID = [
    "a[1]@x.mx", "sin-arroba", "a@b", "a@b.c", "a..b@x.mx", ".a@x.mx", "a.@x.mx",
    "a b@x.mx", "a@x_y.mx", "a@-x.mx", "a@x.123", "a@@x.mx", "a@x.mx.", '"a"@x.mx',
    "a@[10.0.0.1]", "Juan <juan@x.mx>", "a\u200b@x.mx", f"{'a' * 65}@x.mx",
    f"a@{'b' * 64}.mx",
]


@pytest.mark.parametrize(("address", "wire"), VALID)
def test_valid_addresses_and_their_wire_form(address: str, wire: str) -> None:
    assert is_valid(address)
    assert wire_form(address) == wire
    assert needs_smtputf8(address) == (address == "josé.pérez@cliente.mx")


@pytest.mark.parametrize("address", INVALID)
def test_invalid_addresses(address: str) -> None:
    assert not is_valid(address)


def test_a_cell_is_split_normalized_and_deduplicated() -> None:
    cell = " Pagos@Lopez.MX; a[1]@x.mx , pagos@lopez.mx;JOSÉ@Cliente.mx;; "
    assert split_addresses(cell) == (("pagos@lopez.mx", "josé@cliente.mx"), ("a[1]@x.mx",))


@pytest.mark.parametrize("address", [a for a, _ in VALID] + INVALID)
def test_validation_planner_and_mailer_agree(address: str) -> None:
    parsed = CELL_PARSERS["emails"](pd.Series([address], dtype=object), None)
    by_validation = not bool(parsed.bad.iloc[0])
    by_planner = valid_emails(address) == (address.lower(),)
    try:
        by_mailer = parse_address(address)[1] == address
    except PermanentSendError:
        by_mailer = False
    assert by_validation == by_planner == by_mailer == is_valid(address)
