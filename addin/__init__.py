"""The Excel side: xlwings UDFs, ribbon handlers, VBA sources and the template builder."""
