"""`cobranza init`: a new workbook from the template, optionally full of demo data."""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import date
from pathlib import Path

from addin import build_template
from addin.paths import template_path
from cobranza.book.config import WORKBOOK_ID
from sync.errors import WorkbookError
from sync.progress import progress
from sync.workbook import demo as demo_data  # the `demo` flag below shadows the name
from sync.xlsx import fileops
from sync.xlsx.config_sheet import set_parameter
from sync.xlsx.package import Package


def create_workbook(
    path: Path,
    *,
    demo: bool = False,
    as_of: date | None = None,
    seed: int = 7,
    invoices: int = 2000,
) -> Path:
    """Write a new workbook at `path` and return it; never overwrites an existing file.

    Without `demo` it is a copy of the committed template. With `demo`, the same builder
    that makes the template writes the demo rows into the input tables (then adds the
    ribbon and VBA), so the workbook is the template plus data. `as_of` defaults to today.
    Either way it gets its own Configuración `Id del libro`, the key of its send history.
    """
    path = Path(path)
    if path.exists():
        raise WorkbookError(
            f'Ya existe el archivo "{path}"; no se sobrescribe. '
            "Elija otro nombre o mueva el archivo existente."
        )
    if path.suffix.lower() != ".xlsm":
        raise WorkbookError(
            f'El libro debe tener extensión .xlsm (con macros): "{path.name}" no la tiene.'
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    fileops.remove_leftovers(path.parent)  # of an init or a write killed here before
    with tempfile.TemporaryDirectory(prefix="cobranza-init-") as work:
        if demo:
            label = f"Creando {path.name} con {invoices:,} facturas de demostración"
            with progress(2, label) as bar:
                as_of = as_of or date.today()
                data = _demo_rows(as_of, seed, invoices)
                bar.advance()
                tables = {**data.tables(), build_template.CUTOFF_KEY: as_of}
                source = build_template.build(Path(work) / path.name, tables)
                bar.advance()
        else:
            source = _template(Path(work) / path.name)
        with Package(source) as package:  # the one file written beside the workbook
            set_parameter(package, WORKBOOK_ID, str(uuid.uuid4()))
            temp = fileops.write_temp(path, package.write)
    try:
        os.chmod(temp, 0o666 & ~_umask())  # a new file's usual permissions, not mkstemp's
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _demo_rows(as_of: date, seed: int, invoices: int) -> demo_data.DemoData:
    return demo_data.generate(as_of, seed=seed, invoices=invoices)


def _template(fallback: Path) -> Path:
    """The committed template, or one built at `fallback` in a tree without it."""
    try:
        return template_path()
    except FileNotFoundError:
        return build_template.build(fallback)
