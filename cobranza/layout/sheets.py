"""Layout of an output sheet, independent of how it is written (file or live Excel).

The rules produce frames; `cobranza.layout.reports` turns them into `Sheet` values; the writer in
`sync/` (zip parts of a file) or the ribbon (live book through xlwings) puts them on
disk or screen. Values are plain Python: str, int, float, Decimal, date, datetime, None.
Strings are always written as text, never as formulas.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Format = Literal["text", "int", "money", "percent", "date", "datetime", "number"]


@dataclass(frozen=True)
class Cell:
    """A free cell outside any table (titles, summary counts)."""

    row: int  # 1-based
    col: int  # 1-based
    value: Any
    style: Literal["title", "label", "value", "note"] = "value"
    format: Format = "text"


@dataclass(frozen=True)
class Table:
    """An Excel table (ListObject): header row at `row`, data below it."""

    name: str  # Excel table name, unique in the workbook, e.g. "tblAlertas"
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    row: int = 1  # header row, 1-based
    col: int = 1
    formats: dict[str, Format] = field(default_factory=dict)  # column -> format
    widths: dict[str, float] = field(default_factory=dict)  # column -> width in chars


@dataclass(frozen=True)
class BarChart:
    """A native Excel clustered bar chart over a table's columns."""

    title: str
    table: str  # name of a Table on the same sheet
    category: str  # column with the category labels
    series: tuple[str, ...]  # columns plotted, one series each
    anchor: tuple[int, int] = (1, 8)  # top-left cell (row, col), 1-based
    size: tuple[int, int] = (15, 8)  # rows, columns covered


@dataclass(frozen=True)
class Sheet:
    name: str
    cells: list[Cell] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[BarChart] = field(default_factory=list)
    freeze_row: int = 0  # rows above this one stay visible (0 = none)
