"""Render one page of a customer's statement PDF to PNG, to look at it.

    python scripts/statement_png.py WORKBOOK OUT.png [--customer CODE] [--as-of AAAA-MM-DD]
                                    [--page N]

The statement is the one the email attaches and the ribbon writes (`sync.statement`),
for CODE (default: the customer with the most open invoices) at the cut-off date (default
today). Needs the test extras (pypdfium2).
"""

from __future__ import annotations

import argparse
import io
from datetime import date
from pathlib import Path

import pypdfium2

from cobranza.notices.statement import statement_lines
from cobranza.rules.invoices import compute_invoices
from sync.pdf.statement import statement_pdf
from sync.statement import customer_statement
from sync.xlsx.reader import read_book


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workbook", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--customer")
    parser.add_argument("--as-of", type=date.fromisoformat, default=date.today())
    parser.add_argument("--page", type=int, default=1)
    args = parser.parse_args()
    book = read_book(args.workbook)
    invoices = compute_invoices(book, args.as_of)
    customer = args.customer or max(
        book.customers["customer"], key=lambda c: len(statement_lines(invoices, c)))
    data = statement_pdf(customer_statement(book, invoices, customer, args.as_of))
    document = pypdfium2.PdfDocument(io.BytesIO(data))
    page = document[args.page - 1]
    page.render(scale=150 / 72).to_pil().save(args.out)  # 150 dpi
    print(f"{args.out}: {customer}, página {args.page} de {len(document)}")


if __name__ == "__main__":
    main()
