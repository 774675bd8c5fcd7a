"""The .xlsm file: reading input sheets, writing output sheets, the zip package."""
