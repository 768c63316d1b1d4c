"""cTrader: the account statement exported as CSV (Deals and Transactions blocks)."""
