"""Where the committed workbook_template.xlsm lives, from source or installed."""

from __future__ import annotations

import site
import sys
import sysconfig
from pathlib import Path

TEMPLATE_NAME = "workbook_template.xlsm"
DATA_DIR = Path("share") / "cobranza-xl"  # pyproject [tool.setuptools.data-files]


def _candidates() -> list[Path]:
    source = Path(__file__).resolve().parent.parent / TEMPLATE_NAME
    prefixes = [sys.prefix, sysconfig.get_path("data"), site.getuserbase()]
    return [source, *(Path(p) / DATA_DIR / TEMPLATE_NAME for p in prefixes if p)]


def template_path() -> Path:
    """The template: repo root when running from source, else the installed data file.

    Raises FileNotFoundError (listing where it looked) when neither exists.
    """
    candidates = _candidates()
    for path in candidates:
        if path.is_file():
            return path
    raise FileNotFoundError(
        f"{TEMPLATE_NAME} not found; looked in: " + ", ".join(str(p) for p in candidates)
    )
