"""Failures of the outside world, each carrying one Spanish sentence for the user."""

from __future__ import annotations

import errno
from pathlib import Path

# What a guard never swallows, although it catches BaseException (a Rust panic in a
# reader library is one): Ctrl+C, a second SIGINT/SIGTERM (SystemExit), generator close.
NEVER_SWALLOWED = (KeyboardInterrupt, SystemExit, GeneratorExit)


class CobranzaError(Exception):
    """Base: the message is the Spanish sentence shown to the user."""


class WorkbookError(CobranzaError):
    """The workbook cannot be used at all (missing, not a workbook, sheet/column missing)."""


class WorkbookBusy(CobranzaError):
    """The workbook is being saved (truncated zip); try again on the next cycle."""


class WorkbookOpen(CobranzaError):
    """The workbook is open in Excel (owner file ~$name); outputs are not written."""


_WRITE_ERRNO = {
    errno.ENOSPC: "disco lleno",
    errno.EDQUOT: "cuota de disco agotada",
    errno.EFBIG: "el archivo supera el tamaño máximo permitido",
    errno.EROFS: "el disco es de solo lectura",
    errno.EACCES: "sin permiso de escritura en la carpeta",
    errno.EPERM: "sin permiso de escritura en la carpeta",
    errno.ENOTDIR: "en la ruta hay un archivo donde debería haber una carpeta",
}


def write_problem(exc: OSError) -> str:
    """Why the disk refused a write, in Spanish ("disco lleno")."""
    return _WRITE_ERRNO.get(exc.errno or 0, exc.strerror or str(exc))


def write_failure(path: Path, exc: OSError) -> str:
    """The Spanish sentence for an OSError while writing the workbook back."""
    return f"no se pudo escribir {path}: {write_problem(exc)}; el libro no se modificó"
