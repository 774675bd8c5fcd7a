"""New workbooks: `cobranza init` and the demo data."""
