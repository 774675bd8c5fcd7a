"""Layout of an output sheet, independent of how it is written (file or live Excel).

The rules produce frames; `cobranza.layout.reports` turns them into `Sheet` values; the writer in
`sync/` (zip parts of a file) or the ribbon (live book through xlwings) puts them on
disk or screen. Values are plain Python: str, int, float, Decimal, date, datetime, None.
Strings are always written as text, never as formulas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from copy import copy
from dataclasses import dataclass, field
from typing import Any, Literal, overload

import numpy as np

Format = Literal["text", "int", "money", "percent", "date", "datetime", "number"]


class CodedColumn(Sequence[Any]):
    """A column of few distinct values kept as their numbers: row i is
    `values[codes[i]]` (a numpy take: code -1 is the last value). For the texts the rules
    already number (a customer's Cliente, Nombre and Cobrador by `Book.customer_rows`, a
    categorical's codes): the file writer escapes each distinct text once and never
    reads a million scattered row objects. A slice is a CodedColumn of the same values."""

    __slots__ = ("values", "codes", "_array")

    def __init__(self, values: Sequence[Any], codes: np.ndarray) -> None:
        """`values`: scalars (text, None...); `codes`: integers indexing them."""
        self.values = list(values)
        self.codes = codes
        self._array = np.array(self.values, dtype=object)

    def _part(self, codes: np.ndarray) -> CodedColumn:
        part = copy(self)  # the same values and their array, other codes
        part.codes = codes
        return part

    def __len__(self) -> int:
        return len(self.codes)

    @overload
    def __getitem__(self, index: int) -> Any: ...

    @overload
    def __getitem__(self, index: slice) -> CodedColumn: ...

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return self._part(self.codes[index])
        return self.values[self.codes[index]]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.tolist())

    def tolist(self) -> list[Any]:
        return self._array[self.codes].tolist()

    def __eq__(self, other: object) -> bool:  # equal to the same values in a list
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return self.tolist() == list(other)

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"CodedColumn({self.tolist()!r})"


class ColumnRows(Sequence[tuple[Any, ...]]):
    """A table body kept as its columns (lists or `CodedColumn`s of equal length), read as
    row tuples by whoever wants rows. The layouts build their big tables column by column
    (`cobranza.layout.reports`) and the file writer encodes them column by column
    (`sync.xlsx.sheet_xml`): zipping 100 000 invoices' columns into row tuples and picking
    the columns back out of them cost ~0.08 s for nothing."""

    __slots__ = ("columns", "_length")

    def __init__(self, columns: Sequence[Sequence[Any]]) -> None:
        lengths = set(map(len, columns))
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        self.columns = list(columns)
        self._length = lengths.pop() if lengths else 0

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return list(zip(*(c[index] for c in self.columns), strict=True))
        return tuple(c[index] for c in self.columns)

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return zip(*self.columns, strict=True)

    def __eq__(self, other: object) -> bool:  # equal to the same rows in a list
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]  # like a list

    def __repr__(self) -> str:
        return f"ColumnRows({list(self)!r})"


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
    rows: Sequence[tuple[Any, ...]]  # a list, or `ColumnRows` (kept by column)
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
