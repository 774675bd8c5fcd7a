"""Benchmarks: a realistic workbook generator and a runner (see benchmarks/README.md)."""
