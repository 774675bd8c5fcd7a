"""The agency hand-off on disk: `terceros/<Tercero>-<AAAA-MM-DD>.xlsx` per agency.

One entry point for `cobranza terceros` and the ribbon's "Enviar a terceros": the
domain picks each agency's customers, open invoices, gestiones and notices
(`cobranza.layout.handoff`), `sync.xlsx.handoff_file` lays the sheets out, and this
module reads what was sent and writes the files (temp file + replace, like every file
we write).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from cobranza.book.records import Book
from cobranza.book.text import normalize
from cobranza.layout.handoff import Handoff, build_handoffs, handoff_filenames, handoff_sheets
from cobranza.layout.sends import SentRow
from cobranza.plural import count
from cobranza.rules.invoices import compute_invoices
from cobranza.vocabulary import Kind, SendState
from sync.errors import CobranzaError, write_problem
from sync.ledger.identity import sent_messages
from sync.xlsx.handoff_file import sheets_xlsx

FOLDER = "terceros"


class NothingToHandOff(CobranzaError):
    """No customer names a Tercero: there is no file to write (exit 1, not a failure)."""


@dataclass(frozen=True)
class Written:
    """One hand-off file written."""

    agency: str
    path: Path
    customers: int
    invoices: int

    def line(self) -> str:
        """ "Despacho X: 2 clientes, 3 facturas abiertas -> terceros/Despacho X-2026-12-01.xlsx" """
        return (f"{self.agency}: {count(self.customers, 'cliente')}, "
                f"{count(self.invoices, 'factura abierta', 'facturas abiertas')} -> {self.path}")


def handoff_folder(workbook: Path, folder: Path | None = None) -> Path:
    """`folder`, or `terceros` beside the workbook."""
    return Path(folder) if folder is not None else Path(workbook).parent / FOLDER


def notices_sent(workbook: Path, book: Book, envios: Callable[[], pd.DataFrame]) -> list[SentRow]:
    """The workbook's messages: its ledger's when the ledger knows the workbook (every
    message, also those sent while the workbook was open and Envíos not rewritten); else
    the workbook's own Envíos rows (`envios()`: a copy on a PC whose ledger never saw
    it), the same fallback the sync seeds a new ledger from."""
    rows = sent_messages(workbook, book)
    return rows if rows is not None else envios_sent_rows(envios(), book)


def envios_sent_rows(sent: pd.DataFrame, book: Book) -> list[SentRow]:
    """Envíos rows (`sync.xlsx.sent_reader.read_sent`) as `SentRow`s; rows whose Tipo,
    Estado or Fecha cannot be read are left out."""
    kinds = {normalize(label): kind for kind, label in
             {Kind.NOTICE: "Aviso", Kind.DIGEST: "Resumen"}.items()}
    states = {normalize(s): s for s in SendState}
    out = []
    for row in sent.itertuples(index=False):
        kind, state = kinds.get(normalize(str(row.kind))), states.get(normalize(str(row.state)))
        if kind is None or state is None or pd.isna(row.when) or not str(row.when).strip():
            continue
        when = pd.Timestamp(row.when).to_pydatetime().replace(tzinfo=book.config.zone)
        out.append(SentRow(when=when, kind=kind, code=str(row.code),
                           recipient=str(row.recipient).strip(), to=str(row.to),
                           invoices=str(row.invoices), subject=str(row.subject), state=state,
                           reason=str(row.reason)))
    return out


def write_handoffs(workbook: Path, book: Book, now: datetime, sent: list[SentRow],
                   folder: Path | None = None) -> list[Written]:
    """One file per agency in `folder` (default `terceros` beside the workbook);
    `now`: aware, company zone. Raises NothingToHandOff, or CobranzaError when the
    folder or a file cannot be written."""
    handoffs = build_handoffs(book, compute_invoices(book, now.date()), sent, now)
    if not handoffs:
        raise NothingToHandOff(
            f'Ningún cliente de "{Path(workbook).name}" tiene un Tercero asignado (columna '
            "Tercero de la hoja Clientes); no se generó ningún archivo.")
    target = handoff_folder(workbook, folder)
    _make_folder(target)
    names = handoff_filenames([h.agency for h in handoffs], now.date())
    return [_write(h, target / name, book.config.default_currency)
            for h, name in zip(handoffs, names, strict=True)]


def _make_folder(target: Path) -> None:
    try:
        target.mkdir(parents=True, exist_ok=True)
        if not os.access(target, os.W_OK | os.X_OK):
            raise PermissionError(13, "sin permiso")
    except OSError as exc:
        raise CobranzaError(
            f"No se puede escribir en la carpeta {target}: {write_problem(exc)}; elija otra "
            "con --carpeta.") from None


def _write(h: Handoff, path: Path, default_currency: str) -> Written:
    data = sheets_xlsx(handoff_sheets(h, default_currency))
    temp: str | None = None
    try:
        fd, temp = tempfile.mkstemp(prefix=".terceros-", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
    except OSError as exc:
        if temp is not None:
            Path(temp).unlink(missing_ok=True)
        raise CobranzaError(
            f"No se pudo escribir {path}: {write_problem(exc)} (¿está abierto en Excel? "
            "Ciérrelo y repita).") from None
    return Written(h.agency, path, len(h.customers), len(h.invoices))
