"""Adapters to the outside world: Kafka, PostgreSQL/TimescaleDB, Redis, settings, files."""
