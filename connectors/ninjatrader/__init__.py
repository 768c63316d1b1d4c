"""NinjaTrader 8: the Executions and Trades grids exported as CSV."""
