"""Broker statement imports: the shared shape every statement format fills in.

A format turns the bytes of one exported file into a :class:`ParsedStatement` (contract
trades, cash movements, row errors); the importer validates, deduplicates, publishes and
stores it. See docs/imports.md.
"""
