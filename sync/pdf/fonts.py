"""The font of our PDFs: a Unicode TrueType font when the computer has one, else the
PDF's built-in Helvetica.

A TrueType font (DejaVu Sans on Debian and Ubuntu, Arial on Windows and macOS) is
embedded (only the letters used), so any name prints as written. Without one, the
built-in Helvetica still has every Spanish letter (it is written in Windows-1252), and
a character outside it is printed without its accent ("ő" -> "o") or as "?". The same
replacement covers a character the TrueType font itself lacks (a Chinese name in DejaVu
Sans): a PDF never shows an empty box or fails for one letter.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTFont
from fpdf import FPDF

_WINDOWS_FONTS = Path(os.environ.get("WINDIR", r"C:\Windows")) / "Fonts"
_MAC_FONTS = Path("/System/Library/Fonts/Supplemental")
_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# (regular, bold) pairs, the first one present is used.
CANDIDATES: tuple[tuple[Path, Path], ...] = (
    (_DEJAVU / "DejaVuSans.ttf", _DEJAVU / "DejaVuSans-Bold.ttf"),
    (_WINDOWS_FONTS / "arial.ttf", _WINDOWS_FONTS / "arialbd.ttf"),
    (_MAC_FONTS / "Arial.ttf", _MAC_FONTS / "Arial Bold.ttf"),
)
CORE = "helvetica"
CORE_ENCODING = "windows-1252"


@dataclass(frozen=True)
class Fonts:
    """The font family a PDF uses: TrueType files, or None for the core Helvetica."""

    regular: Path | None = None
    bold: Path | None = None

    @property
    def family(self) -> str:
        return "texto" if self.regular else CORE

    def install(self, pdf: FPDF) -> None:
        """Make the family usable in `pdf` (before its first `set_font`)."""
        if self.regular and self.bold:
            pdf.add_font(self.family, "", self.regular)
            pdf.add_font(self.family, "B", self.bold)
        else:
            pdf.core_fonts_encoding = CORE_ENCODING

    def printable(self, text: str) -> str:
        """`text` with what the font cannot draw replaced, and spaces collapsed (a cell
        is one line)."""
        drawable = _drawable(self.regular)
        text = " ".join(str(text).split())
        if all(drawable(ch) for ch in text):
            return text
        return "".join(ch if drawable(ch) else _substitute(ch, drawable) for ch in text)


def choose_fonts(candidates: Sequence[tuple[Path, Path]] = CANDIDATES) -> Fonts:
    """The first pair of TrueType files present, else the core Helvetica."""
    for regular, bold in candidates:
        if regular.is_file() and bold.is_file():
            return Fonts(regular, bold)
    return Fonts()


def _substitute(ch: str, drawable: Callable[[str], bool]) -> str:
    """A letter without its accents when the font has the bare letter, else "?"."""
    bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return bare if bare and all(drawable(c) for c in bare) else "?"


@lru_cache(maxsize=8)
def _drawable(font: Path | None) -> Callable[[str], bool]:
    """Whether the font has a glyph for a character (read once per font file)."""
    if font is None:
        return _in_core_encoding
    with TTFont(font, lazy=True) as ttf:
        codes = frozenset(ttf.getBestCmap())
    return lambda ch: ord(ch) in codes


def _in_core_encoding(ch: str) -> bool:
    try:
        ch.encode(CORE_ENCODING)
    except UnicodeEncodeError:
        return False
    return ch.isprintable()
