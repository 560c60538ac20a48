"""Durable state: the SQL engine (SQLite or PostgreSQL), schema migrations and the blob store.

    from freehold.state import open_database, BlobStore, Migration, IntegrityError

See database.py for the Database/Transaction contract, dialect.py for the portable SQL and its
type mapping, migrations.py for versioned schemas, blobs.py for large bodies.
"""

from freehold.state.blobs import BlobInfo, BlobNotFound, BlobStore
from freehold.state.database import (
    Database,
    DatabaseClosed,
    IntegrityError,
    StateError,
    Transaction,
    TransactionAborted,
    open_database,
)
from freehold.state.migrations import Migration

__all__ = [
    "BlobInfo",
    "BlobNotFound",
    "BlobStore",
    "Database",
    "DatabaseClosed",
    "IntegrityError",
    "Migration",
    "StateError",
    "Transaction",
    "TransactionAborted",
    "open_database",
]
