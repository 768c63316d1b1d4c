"""MetaTrader 4 and 5: the statement and trade-history reports the terminal saves
(HTML, and MT5's XLSX). See docs/imports.md."""
