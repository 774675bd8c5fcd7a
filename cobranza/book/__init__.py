"""The workbook as records: reading rules for cells, validation into a Book, configuration."""
