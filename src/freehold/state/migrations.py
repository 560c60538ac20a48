"""Schema migrations: versioned per owner, applied once, in order, each in its own transaction.

A service declares its schema as a sequence of migrations and applies them at start:

    MIGRATIONS = (
        Migration(1, "users", ("CREATE TABLE iam_users (...)", "CREATE INDEX ...")),
        Migration(2, "user tags", ("ALTER TABLE iam_users ADD COLUMN tags TEXT",)),
    )
    db.migrate("iam", MIGRATIONS)

Each applied migration is recorded in `schema_migrations(owner, version, name, applied_at)`.
Rules: versions are positive and unique per owner; a version once applied keeps its name
(a different name means the history diverged, which is an error, not silently skipped); a new
migration must have a higher version than every applied one. Concurrent nodes serialize
through the backend's migration lock (PostgreSQL: a transaction-scoped advisory lock; SQLite:
its write lock), and each migration re-checks under the lock whether another node applied it.
Statements are written in the portable dialect (freehold.state.dialect) and translated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from freehold.state.database import Database

MIGRATIONS_TABLE = "schema_migrations"

_CREATE_TABLE = f"""
CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (
    owner TEXT NOT NULL,
    version BIGINT NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (owner, version)
)
"""


@dataclass(frozen=True)
class Migration:
    """One step of an owner's schema: DDL/DML statements applied together, atomically."""

    version: int
    name: str
    statements: tuple[str, ...]

    def __post_init__(self) -> None:
        if isinstance(self.version, bool) or not isinstance(self.version, int):
            raise TypeError(f"migration version must be an int, got {self.version!r}")
        if self.version < 1:
            raise ValueError(f"migration version must be positive, got {self.version}")
        if not self.name:
            raise ValueError(f"migration {self.version} needs a name")
        if isinstance(self.statements, str):
            raise TypeError(f"migration {self.version}: statements must be a tuple of strings")
        object.__setattr__(self, "statements", tuple(self.statements))


def apply_migrations(db: Database, owner: str, migrations: Sequence[Migration]) -> None:
    """Apply `owner`'s pending migrations (see the module docstring); no-op when up to date."""
    from freehold.state.database import StateError

    if not owner:
        raise ValueError("migrations need an owner")
    ordered = sorted(migrations, key=lambda m: m.version)
    for previous, current in pairwise(ordered):
        if previous.version == current.version:
            raise ValueError(f"{owner}: migration version {current.version} appears twice")

    with db.transaction() as tx:
        db.lock_migrations(tx)
        tx.execute(db.translate_ddl(_CREATE_TABLE))
        applied = {
            int(version): str(name)
            for version, name in tx.query(
                f"SELECT version, name FROM {MIGRATIONS_TABLE} WHERE owner = ?", (owner,)
            )
        }

    for migration in ordered:
        recorded = applied.get(migration.version)
        if recorded is not None and recorded != migration.name:
            raise StateError(
                f"{owner}: migration {migration.version} was applied as {recorded!r} "
                f"but is now named {migration.name!r}; the schema history diverged"
            )
    pending = [m for m in ordered if m.version not in applied]
    if pending and applied and pending[0].version < max(applied):
        raise StateError(
            f"{owner}: migration {pending[0].version} ({pending[0].name!r}) is older than "
            f"the applied version {max(applied)}; new migrations need higher versions"
        )

    for migration in pending:
        with db.transaction() as tx:
            db.lock_migrations(tx)
            done = tx.query_one(
                f"SELECT 1 FROM {MIGRATIONS_TABLE} WHERE owner = ? AND version = ?",
                (owner, migration.version),
            )
            if done is not None:
                continue  # another node applied it while we waited for the lock
            for statement in migration.statements:
                tx.execute(db.translate_ddl(statement))
            tx.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (owner, version, name, applied_at) VALUES (?, ?, ?, ?)",
                (owner, migration.version, migration.name, _now()),
            )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
