"""Output sheet Respuestas: the customers' messages read back by IMAP, newest first.

Every text cell (De, Asunto, Extracto...) comes from someone else's message: the writer
stores it as text (inline string), never as a formula, whatever it starts with.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from cobranza.book.records import Book
from cobranza.inbound.records import Reply
from cobranza.layout.reports import TABLE_ROW, sheet_header
from cobranza.layout.sends import local_time
from cobranza.layout.sheets import Cell, Sheet, Table
from cobranza.plural import count
from cobranza.vocabulary import ReplyType

RESPUESTAS_COLUMNS = ("Fecha", "Cliente", "Nombre", "Cobrador", "De", "Asunto", "Extracto",
                      "Aviso", "Tipo")


def reply_type(reply: Reply) -> ReplyType:
    return ReplyType.AUTOMATIC if reply.automatic else ReplyType.REPLY


def respuestas_sheet(book: Book, replies: Sequence[Reply], as_of: date | datetime) -> Sheet:
    """Respuestas (tblRespuestas): one row per reply of a known customer, newest first;
    Nombre and Cobrador as Clientes has them now."""
    collectors = dict(zip(book.customers["customer"], book.customers["collector"],
                          strict=True))
    names = book.customer_names
    ordered = sorted((r for r in replies if r.customer), key=lambda r: r.received,
                     reverse=True)
    table = Table(
        name="tblRespuestas",
        columns=RESPUESTAS_COLUMNS,
        rows=[
            (local_time(r.received, as_of), r.customer, names.get(r.customer, ""),
             str(collectors.get(r.customer, "")), r.sender, r.subject, r.excerpt, r.notice,
             reply_type(r).value)
            for r in ordered
        ],
        row=TABLE_ROW,
        formats={"Fecha": "datetime"},
        widths={"Fecha": 17, "Nombre": 30, "De": 30, "Asunto": 45, "Extracto": 90,
                "Tipo": 20},
    )
    cells = sheet_header("Respuestas de clientes", as_of)
    cells.append(Cell(2, 4, count(len(ordered), "respuesta"), style="note"))
    return Sheet("Respuestas", cells=cells, tables=[table], freeze_row=TABLE_ROW + 1)
