"""The headless side: read the workbook, run one cycle, send, write outputs back."""
