"""A customer's statement of account, ready to attach or save: its .pdf and its .xlsx.

One entry point for the ESTADO_MENSUAL email (and any email listing more invoices than a
body may: `sync.mail.sending`) and the ribbon's "Estado de cuenta": both get the same
`Statement`, computed by the domain (`cobranza.notices.statement.build_statement`) and
laid out twice (`sync.pdf.statement`, `sync.xlsx.statement_file`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import pandas as pd

from cobranza.book.records import Book
from cobranza.notices.messages import Line
from cobranza.notices.statement import (
    Received,
    Statement,
    build_statement,
    statement_lines,
)
from cobranza.rendering.render import customer_name, statement_reference
from sync.xlsx.statement_file import statement_filename


def customer_statement(book: Book, invoices: pd.DataFrame, customer: str, as_of: date,
                       lines: Sequence[Line] | None = None,
                       paid: Mapping[str, tuple[Received, ...]] | None = None) -> Statement:
    """The statement of `customer` at `as_of`: `lines` (an ESTADO_MENSUAL notice's
    invoices) or else every invoice it still owes (`statement_lines` of `invoices`, the
    computed frame); `paid`: the run's `recent_payments`, shared by its statements."""
    lines = tuple(statement_lines(invoices, customer) if lines is None else lines)
    reference = statement_reference(book, customer, lines, as_of)
    return build_statement(customer, customer_name(book, customer), lines, book, as_of,
                           reference, paid)


def statement_files(statement: Statement) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the statement's PDF and .xlsx, in that order."""
    # Imported here: fpdf and xlsxwriter cost ~0.3 s to import and most cycles (every dry
    # run) attach no statement.
    from sync.pdf.statement import statement_pdf
    from sync.xlsx.statement_file import statement_xlsx

    customer, as_of = statement.customer, statement.as_of
    return [(statement_filename(customer, as_of, ".pdf"), statement_pdf(statement)),
            (statement_filename(customer, as_of), statement_xlsx(statement))]
