"""Failures of the outside world, each carrying one Spanish sentence for the user."""


class CobranzaError(Exception):
    """Base: the message is the Spanish sentence shown to the user."""


class WorkbookError(CobranzaError):
    """The workbook cannot be used at all (missing, not a workbook, sheet/column missing)."""


class WorkbookBusy(CobranzaError):
    """The workbook is being saved (truncated zip); try again on the next cycle."""


class WorkbookOpen(CobranzaError):
    """The workbook is open in Excel (owner file ~$name); outputs are not written."""
