"""The record sets read from the workbook, as pandas frames with fixed column names.

Each frame is the bulk form of one immutable record per row (STYLE.md #2). Every frame
has a `row` column: the Excel row the record came from, so any error can point at a cell.
Dates are `datetime64[ns]` at midnight (NaT when blank). Money is exact: `int64` minor
units of the row's currency (see `cobranza.book.money`). Text is `str` ("" when blank).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from cobranza.book.columns import (  # noqa: F401 - the column specs, re-exported
    AREA_COLUMNS,
    COLLECTOR_COLUMNS,
    CONTACT_COLUMNS,
    CUSTOMER_COLUMNS,
    INVOICE_COLUMNS,
    INVOICE_FORMULA_HEADERS,
    NOTICE_COLUMNS,
    PAYMENT_COLUMNS,
    PLAN_COLUMNS,
    TEMPLATE_COLUMNS,
)
from cobranza.book.config import Config
from cobranza.book.lookups import (
    Contact,
    Template,
    collector_contacts,
    names_by_code,
    templates_by_code,
)
from cobranza.book.positions import first_positions, first_rows, key_codes, sorted_codes
from cobranza.rules.paid import Paid
from cobranza.vocabulary import Bucket, Result, Status

PLAN_STATES = ("Activo", "Cancelado")

RESULTS = tuple(Result)  # the Resultado choices, in this order
STATUSES = tuple(Status)
BUCKETS = tuple(Bucket)


def empty_plans() -> pd.DataFrame:
    """The plans frame of a workbook without a Convenios sheet."""
    return pd.DataFrame({
        "plan": pd.Series(dtype="str"), "customer": pd.Series(dtype="str"),
        "invoices": pd.Series(dtype="str"), "date": pd.Series(dtype="datetime64[ns]"),
        "instalment": pd.Series(dtype="int64"), "due": pd.Series(dtype="datetime64[ns]"),
        "amount": pd.Series(dtype="int64"), "state": pd.Series(dtype="str"),
        "currency": pd.Series(dtype="str"), "row": pd.Series(dtype="int64"),
    })


@dataclass(frozen=True)
class InputError:
    """One bad cell (or row) of the workbook; becomes one Errores row."""

    sheet: str  # "Facturas"
    row: int | None  # Excel row number, None for a sheet-level problem
    column: str  # header as the user wrote it, "" for a whole-row problem
    value: str  # the offending value as text
    problem: str  # plain Spanish, names the valid choice

    def message(self) -> str:
        where = self.sheet + (f", fila {self.row}" if self.row else "")
        where += f", {self.column}" if self.column else ""
        shown = f' "{self.value}"' if self.value != "" else ""
        return f"{where}:{shown} {self.problem}"


@dataclass(frozen=True)
class KeyRows:
    """Row positions of the codes one frame names in another, as the validation matched
    them (the named frame's codes are unique there)."""

    payment_invoice: np.ndarray  # per Pagos row, the invoices row of its Factura
    contact_invoice: np.ndarray  # per Gestiones row, that of its Factura; -1 when blank
    invoice_customer: np.ndarray  # per Facturas row, the customers row of its Cliente


@dataclass
class Book:
    """Everything one sync reads from a workbook, already validated.

    Invalid rows are not in the frames; they are in `errors`. Frames never contain
    NaN in text columns (blank = "").
    """

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    contacts: pd.DataFrame
    collectors: pd.DataFrame
    areas: pd.DataFrame
    notices: pd.DataFrame
    templates: pd.DataFrame
    config: Config = field(default_factory=Config)
    errors: list[InputError] = field(default_factory=list)
    # Convenios (optional sheet): PLAN_COLUMNS plus `currency`, that of its invoices
    plans: pd.DataFrame = field(default_factory=lambda: empty_plans())
    # The rows the validation matched codes to (`cobranza.book.validate`): the Book then
    # hashes no Factura or Cliente again (2.6 million texts at 1 000 000 invoices). None
    # (a Book built otherwise): hashed on first use.
    key_rows: KeyRows | None = field(default=None, compare=False, repr=False)

    # Computed on first use and kept with this Book (its frames are never edited in
    # place): every message of a run looks its customer and template up.
    @cached_property
    def customer_names(self) -> dict[str, str]:
        """Cliente -> Nombre (first row wins)."""
        return names_by_code(self.customers)

    @cached_property
    def templates_by_code(self) -> dict[str, Template]:
        """Plantillas Código (stripped, upper case) -> (Asunto, Cuerpo, Aprobada)."""
        return templates_by_code(self.templates)

    @cached_property
    def collector_contacts(self) -> dict[str, Contact]:
        """Cliente -> (name, email, phone) of its collector (`collector_contacts`)."""
        return collector_contacts(self.customers, self.collectors)

    @cached_property
    def invoice_customers(self) -> tuple[np.ndarray, pd.Index]:
        """Per Facturas row: its Cliente numbered 0..k-1 in text order, and the k Clientes.
        One hash pass shared by every rule that groups these invoices by customer."""
        if self.key_rows is not None:
            return sorted_codes(self.customers["customer"], self.key_rows.invoice_customer)
        # An object ndarray factorizes about 3x faster than the str extension array.
        codes, uniques = pd.factorize(self.invoices["customer"].to_numpy(dtype=object),
                                      sort=True)
        return codes, pd.Index(uniques, dtype="str")

    @cached_property
    def customer_rows(self) -> np.ndarray:
        """Per Facturas row: the customers row of its Cliente (the first, -1: none), from
        `key_rows` when the validation matched them."""
        if self.key_rows is not None:
            return self.key_rows.invoice_customer
        codes, names = self.invoice_customers  # hashes the few distinct Clientes only
        return first_positions(self.customers["customer"], pd.Series(names))[0][codes]

    @cached_property
    def _facturas(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The Facturas of invoices, payments and gestiones as numbers, in one hash pass
        (`key_codes`), or from `key_rows`: a validated Book's Facturas are unique, so each
        invoices row is its own number."""
        if self.key_rows is not None:
            rows = self.key_rows
            return np.arange(len(self.invoices)), [rows.payment_invoice, rows.contact_invoice]
        return key_codes(self.invoices["invoice"], self.payments["invoice"],
                         self.contacts["invoice"])

    @cached_property
    def factura_codes(self) -> tuple[np.ndarray, np.ndarray]:
        """The Facturas as numbers (`key_codes`): per invoices row, and per Gestiones row
        (-1: blank or no invoice has it); equal numbers, equal Facturas."""
        codes, (_, named) = self._facturas
        return codes, named

    @cached_property
    def paid(self) -> Paid:
        """Pagos indexed by the rows of `invoices` (`cobranza.rules.paid`): every rule's
        "paid by day t" of these invoices, and each payment's invoice row."""
        codes, (paid_to, _) = self._facturas
        return Paid(codes, paid_to, self.payments)

    @cached_property
    def contact_rows(self) -> np.ndarray:
        """Per Gestiones row: the row in `invoices` of its Factura (-1: blank or unknown)."""
        codes, (_, named) = self._facturas
        return first_rows(codes, named)
