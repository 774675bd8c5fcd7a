"""The send ledger and the workbook identity it is keyed by."""
