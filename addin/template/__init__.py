"""Text sources of workbook_template.xlsm: sheet layout, email templates, xlwings.conf."""
