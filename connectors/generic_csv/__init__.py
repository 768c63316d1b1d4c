"""Any broker's CSV, read through a small column-mapping file (docs/imports.md)."""
