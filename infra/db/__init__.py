"""PostgreSQL / TimescaleDB storage: migrations, pool, sinks, repositories, embedded server.

Modules (import the one you need; none of them imports great-expectations):

- ``migrate``: versioned SQL migrations in ``migrations/``, TimescaleDB detection.
- ``pool``: connection pools and one-off connections.
- ``sinks``: batched COPY for ticks, idempotent upserts for trades and breaches,
  retried on connection loss without losing a batch.
- ``repositories``: the queries the API makes (daily P&L, breaches, sync logs).
- ``writer``: the pipelines' ``Writer`` over a sink (buffer, store on ``flush``).
- ``embedded``: PostgreSQL from the ``pgserver`` wheel when ``DATABASE_URL`` is unset.
- ``database``: the composition of the above for a process (``open_database``).
- ``scratch``: throw-away databases for tests and benchmarks.

See docs/storage.md.
"""
