"""Text helpers shared by readers and rules: header matching, Sí/No, Spanish labels."""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"\s+")


def normalize(text: object) -> str:
    """Key for matching headers and list values: no accents, lower case, single spaces."""
    if text is None:
        return ""
    s = unicodedata.normalize("NFKD", str(text))
    s = "".join(c for c in s if not unicodedata.combining(c))
    return _SPACES.sub(" ", s).strip().lower()


def header_positions(headers: list) -> dict[str, int]:
    """Normalized header -> position of its first occurrence (how a sheet's columns are
    found by name, by the validation and by the reader picking the columns it reads)."""
    out: dict[str, int] = {}
    for pos, header in enumerate(headers):
        out.setdefault(normalize(header), pos)
    return out


def match_names(names: list[str], wanted: tuple[str, ...]) -> dict[str, str]:
    """Each wanted name -> the first of `names` equal to it ignoring case, accents and
    spaces (a sheet named "facturas " is Facturas); the wanted ones not found left out."""
    found = {normalize(n): n for n in reversed(names)}
    return {w: found[normalize(w)] for w in wanted if normalize(w) in found}


_YES = {"si", "s", "yes", "y", "true", "verdadero", "1", "x"}
_NO = {"no", "n", "false", "falso", "0"}


def parse_yes_no(value: object, default: bool | None = None) -> bool | None:
    """Sí/No cell to bool; blank gives `default`; anything else gives None (bad input)."""
    key = normalize(value)
    if key in ("", "nan", "none"):
        return default
    if key in _YES:
        return True
    if key in _NO:
        return False
    return None
