"""Errors of the storage layer; each message says what failed and what to do."""

from __future__ import annotations


class StorageError(RuntimeError):
    """Base of the storage errors."""


class MigrationError(StorageError):
    """The schema could not be brought up to date (bad file, changed migration, backend)."""


class SinkUnavailableError(StorageError):
    """A batch was not stored after every retry; the caller still owns the batch."""


class EmbeddedDatabaseError(StorageError):
    """The embedded PostgreSQL (pgserver) could not be started or stopped."""
