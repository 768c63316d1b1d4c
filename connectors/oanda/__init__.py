"""OANDA v20 REST polling: account summary → balance ticks, transactions → trades.

``wire.py`` is OANDA's own response shapes, ``parse.py`` turns transactions into
contract events (pure), ``client.py`` is the HTTP client with its error classes and
``connector.py`` the polling loop with backoff.
"""
