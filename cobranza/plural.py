"""Spanish number agreement for counts a person reads: "1 llamada", "2 llamadas",
"0 enviados", "1 error en los datos". The one helper for every summary, sheet note,
log line and detail text (zero takes the plural in Spanish, as in "0 errores").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

_VOWELS = "aeiouáéó"
_UNSTRESSED = str.maketrans("áéíóú", "aeiou")


def plural(word: str) -> str:
    """The regular plural of a noun or adjective: a vowel adds "s" (llamada, pendiente);
    a consonant adds "es" (error, mes), a final stressed syllable losing its written
    accent (acción -> acciones); z becomes "ces". Irregular words pass their plural to
    `agree` or `count` (resumen -> resúmenes)."""
    if not word or word[-1] in _VOWELS:
        return word + "s"
    if word[-1] == "z":
        return word[:-1] + "ces"
    head, last_syllable = word[:-2], word[-2:]
    if word[-1] in "ns" and last_syllable[0] in "áéíóú":
        last_syllable = last_syllable.translate(_UNSTRESSED)
    return head + last_syllable + "es"


def agree(n: int, one: str, many: str | None = None) -> str:
    """`one` for exactly 1, its plural otherwise."""
    return one if n == 1 else many or plural(one)


def count(n: int, one: str, many: str | None = None) -> str:
    """ "1 llamada", "2 llamadas", "0 llamadas"."""
    return f"{n} {agree(n, one, many)}"


def enumeration(items: Sequence[str]) -> str:
    """ "F-1", "F-1 y F-2", "F-1, F-2 y F-3": a Spanish list ("" for none)."""
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " y " + items[-1]


def named(items: Sequence[str], one: str, most: int = 3) -> str:
    """Up to `most` items by name, more by how many: "factura F-1", "facturas F-1 y F-2",
    "5 facturas" (a subject that names the invoices but stays short)."""
    if not items or len(items) > most:
        return count(len(items), one)
    return f"{agree(len(items), one)} {enumeration(items)}"


def counts(n: pd.Series, one: str, many: str | None = None) -> pd.Series:
    """`count` over a whole column of integers (no blanks)."""
    words = np.where(n.to_numpy() == 1, " " + one, " " + (many or plural(one)))
    return n.astype("int64").astype(str) + words
