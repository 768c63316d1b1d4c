"""Data quality with great-expectations 1.x: suites for trades and balance ticks.

- ``suites``: the checks (prices > 0, exit after entry, known sides, finite equity, no
  duplicate broker ids, timestamps not in the future, ...).
- ``validate``: run a suite over rows; which rows fail and why.
- ``imports``: the import path -- validate every batch, dead-letter failures, store
  the rest, write a sync log.
- ``stored``: ``aetheris db check`` over stored data, with a report.

great_expectations (and pandas) are imported only when a suite runs; nothing here is
on the tick path.
"""
