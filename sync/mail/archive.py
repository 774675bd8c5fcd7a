"""The archive of every message sent: `<workbook folder>/.cobranza/archivo/<AAAA-MM>/*.eml`.

Each message the deliver step hands to the SMTP server (or writes to the outbox) is kept
as the very bytes the transport delivered (`Transport.serialize`), in the folder of its
month of sending in the company's time zone, so anyone can show later what a customer
was told. Envíos names the file (column Archivo); the ledger keeps that name.

Names are built only from safe characters (`archive_name`): whatever a customer code
holds ("/", "..", ":", hundreds of characters), the file stays inside its month folder.
Files are written atomically (`stage`: a fsynced temp file, before the ledger claim;
`place`: `os.replace` to its name, right after it). `prune` keeps
`Meses de archivo` whole months and deletes only what it wrote: `.eml` files inside
folders named AAAA-MM.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from cobranza.plural import agree, count
from sync.xlsx.fileops import remove_leftovers, replace_file, write_temp

log = logging.getLogger("cobranza")

ARCHIVE_DIR = ".cobranza/archivo"  # relative to the workbook's folder ("/" on every OS)
SUFFIX = ".eml"
_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
RECIPIENT_CHARS = 40  # a customer code or digest address, cut to this many characters
CODE_CHARS = 24  # the notice code in the message id
DIGEST_CHARS = 10  # hex characters of the message id's digest


# ---------------------------------------------------------------- pure rules
def safe_part(text: str, limit: int) -> str:
    """`text` as a bounded file-name part: accents dropped, anything but ASCII letters,
    digits and "-" becomes "_" (so no "/", "\\", ":", "." or control character)."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    part = _UNSAFE.sub("_", plain).strip("_-")[:limit].strip("_-")
    return part or "x"


def archive_name(when: datetime, recipient: str, message_id: str) -> str:
    """Where a message sent at `when` (company time) is kept, relative to the workbook's
    folder: ".cobranza/archivo/2026-12/20261201-103000_C-0042_vencida_1-3f2a9c1b7d.eml".
    Sorts by time, reads by customer (or digest recipient) and notice, and is unique:
    the ledger's message id goes in (its code and the start of its digest)."""
    code, _, digest = message_id.rpartition("-")
    short = (f"{safe_part(code, CODE_CHARS)}-{safe_part(digest, DIGEST_CHARS)}" if code
             else safe_part(message_id, CODE_CHARS + DIGEST_CHARS))
    stamp = when.strftime("%Y%m%d-%H%M%S")
    return (f"{ARCHIVE_DIR}/{when:%Y-%m}/"
            f"{stamp}_{safe_part(recipient, RECIPIENT_CHARS)}_{short}{SUFFIX}")


def first_kept_month(as_of: date, months: int) -> tuple[int, int]:
    """(year, month) of the oldest month folder kept with `months` Meses de archivo.

    Whole months, and every message at least `months` months: a month goes only once its
    last day is more than `months` months ago. On 2026-12-04 with 24, 2024-12 is kept
    (its 31st is 24 months ago on 2026-12-31) and 2024-11 goes."""
    index = as_of.year * 12 + as_of.month - 1 - months
    return index // 12, index % 12 + 1


def expired(folder: str, as_of: date, months: int) -> bool:
    """The folder name is a month (AAAA-MM) older than the months kept."""
    found = _MONTH.match(folder)
    if found is None:
        return False
    return (int(found[1]), int(found[2])) < first_kept_month(as_of, months)


# ---------------------------------------------------------------- the folder
@dataclass(frozen=True)
class Archive:
    """The archive of the workbooks of one folder."""

    base: Path  # the workbook's folder: archive names are relative to it

    @classmethod
    def of(cls, workbook: Path) -> Archive:
        return cls(Path(workbook).parent)

    @property
    def root(self) -> Path:
        return self.base / ARCHIVE_DIR

    def path(self, name: str) -> Path:
        return self.base / name

    def stage(self, name: str, data: bytes) -> Path:
        """Write `data` whole (fsynced) to a temp file beside the file `name` (an
        `archive_name`); `place` then gives it that name. OSError when the disk refuses
        (full, no permission)."""
        target = self.path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_temp(target, lambda f: f.write(data))

    def place(self, staged: Path, name: str) -> None:
        """Give a `stage`d file its name, atomically (OSError: the temp is removed)."""
        replace_file(staged, self.path(name))

    def discard(self, name: str) -> None:
        """Remove a message that was archived before sending and did not go."""
        try:
            self.path(name).unlink(missing_ok=True)
        except OSError as exc:
            log.warning("No se pudo borrar del archivo de correos %s, un mensaje que no se "
                        "envió (%s).", name, exc.strerror or exc)


def prune(archive: Archive, as_of: date, months: int) -> list[str]:
    """Delete the messages of the month folders older than `months` months (see
    `first_kept_month`); returns those months. Only `.eml` files directly inside folders
    named AAAA-MM go (and temp files of writes that died); a folder is removed once
    empty; any other file or folder is left alone. A refusal of the disk is logged and
    the cycle goes on."""
    try:
        folders = sorted(e.name for e in os.scandir(archive.root)
                         if e.is_dir(follow_symlinks=False))
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("No se pudo revisar el archivo de correos %s (%s).", archive.root,
                    exc.strerror or exc)
        return []
    old = [name for name in folders if expired(name, as_of, months)]
    for name in old:
        _empty(archive.root / name, months)
    for name in folders[-2:]:  # where a write killed lately may have left its temp file
        if name not in old:
            remove_leftovers(archive.root / name)
    return old


def _empty(folder: Path, months: int) -> None:
    """Delete the messages of one expired month folder, then the folder if empty."""
    remove_leftovers(folder)
    removed, refused = 0, ""
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.lower().endswith(SUFFIX) and entry.is_file(follow_symlinks=False):
                    os.unlink(entry.path)
                    removed += 1
        folder.rmdir()
    except OSError as exc:
        refused = exc.strerror or str(exc)
    log.info("Archivo de correos: %s %s de %s (Meses de archivo: %d).",
             agree(removed, "se borró", "se borraron"), count(removed, "mensaje"), folder.name,
             months)
    if any(p.suffix.lower() == SUFFIX for p in _listing(folder)):
        log.warning("Archivo de correos: no se pudieron borrar todos los mensajes de %s (%s); "
                    "se reintentará en el próximo ciclo.", folder, refused)
    elif folder.exists():
        log.info("La carpeta %s se conserva: guarda archivos que no son mensajes del archivo.",
                 folder)


def _listing(folder: Path) -> list[Path]:
    try:
        return list(folder.iterdir())
    except OSError:
        return []
