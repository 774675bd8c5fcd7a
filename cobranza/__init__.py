"""Cobranza XL domain: pure rules over workbook records and an as-of date.

Nothing in this package touches Excel, SMTP, the clock or the disk; `addin/` and `sync/`
call the same functions, so a UDF and the headless sync can never disagree.
"""
