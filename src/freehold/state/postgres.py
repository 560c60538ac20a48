"""The PostgreSQL backend: a psycopg 3 connection pool shared by the nodes of a cluster.

Connections come from a psycopg_pool.ConnectionPool (min 1, max 10) and run in autocommit
mode, so a one-shot read is a single round trip; `transaction()` issues BEGIN ... COMMIT
itself. Statements are translated from the portable dialect (freehold.state.dialect) and
psycopg prepares the ones a connection runs repeatedly (its prepare_threshold).

Every connection is configured so that values round-trip as on SQLite: Python bools are sent
as 0/1 integers (BOOLEAN-as-INTEGER columns), NUMERIC results come back as int or float
instead of Decimal, BYTEA comes back as bytes.

Durability: 'fsync' keeps synchronous_commit on (COMMIT returns after the WAL is flushed
to disk). 'process' sets synchronous_commit off for freehold's sessions: COMMIT returns
once the PostgreSQL server has the change in its WAL buffers, so a kill -9 of a freehold
node loses nothing; only a crash of the PostgreSQL server itself may lose the last few
hundred milliseconds of commits (never corrupting anything).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from freehold.state.database import (
    Database,
    IntegrityError,
    IntegrityKind,
    Row,
    SqlParams,
    StateError,
    Transaction,
)
from freehold.state.dialect import postgres_ddl, postgres_statement
from freehold.state.migrations import MIGRATIONS_TABLE

POOL_MIN_SIZE = 1
POOL_MAX_SIZE = 10
CONNECT_TIMEOUT_SECONDS = 15.0
ACQUIRE_TIMEOUT_SECONDS = 30.0

# One advisory lock key for "migrations are running", the same on every node.
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"freehold.state.migrations").digest()[:8], "big", signed=True
)

# SQLSTATE class 23 (integrity constraint violation) codes.
_INTEGRITY_KINDS: dict[str, IntegrityKind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23502": "not_null",
    "23514": "check",
}


class _BoolAsIntDumper(Dumper):
    """Python bool -> 0/1 bigint: BOOLEAN-as-INTEGER columns, as SQLite stores bools."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: Any) -> Buffer:
        return b"1" if obj else b"0"


class _NumericLoader(Loader):
    """NUMERIC -> int when integral, else float (SQLite never returns Decimal)."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data)
        if text.lstrip(b"-").isdigit():
            return int(text)
        return float(text)  # also 'NaN', 'Infinity'


def _state_error(error: psycopg.Error) -> StateError:
    if isinstance(error, psycopg.IntegrityError):
        kind = _INTEGRITY_KINDS.get(error.sqlstate or "", "other")
        return IntegrityError(str(error).strip(), kind)
    return StateError(f"PostgreSQL: {str(error).strip()}")


def _describe(url: str) -> str:
    """host:port/database of a URL, without the password, for error messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparseable URL)"
    return f"{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


class _PostgresTransaction(Transaction):
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        super().__init__()
        self._conn = conn

    def _execute(self, sql: str, params: SqlParams) -> int:
        try:
            with self._conn.cursor() as cursor:
                cursor.execute(postgres_statement(sql), tuple(params))
                return cursor.rowcount
        except psycopg.Error as error:
            raise _state_error(error) from error

    def _executemany(self, sql: str, seq_of_params: Iterable[SqlParams]) -> int:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(postgres_statement(sql), [tuple(p) for p in seq_of_params])
                return cursor.rowcount
        except psycopg.Error as error:
            raise _state_error(error) from error

    def _query(self, sql: str, params: SqlParams) -> list[Row]:
        return _query_all(self._conn, sql, params)

    def _query_one(self, sql: str, params: SqlParams) -> Row | None:
        return _query_first(self._conn, sql, params)

    def _control(self, sql: str) -> None:
        try:
            self._conn.execute(sql)
        except psycopg.Error as error:
            raise _state_error(error) from error

    def _begin(self) -> None:
        self._control("BEGIN")


def _query_all(conn: psycopg.Connection[Any], sql: str, params: SqlParams) -> list[Row]:
    try:
        with conn.cursor() as cursor:
            cursor.execute(postgres_statement(sql), tuple(params))
            return cursor.fetchall()
    except psycopg.Error as error:
        raise _state_error(error) from error


def _query_first(conn: psycopg.Connection[Any], sql: str, params: SqlParams) -> Row | None:
    try:
        with conn.cursor() as cursor:
            cursor.execute(postgres_statement(sql), tuple(params))
            return cursor.fetchone()
    except psycopg.Error as error:
        raise _state_error(error) from error


class PostgresDatabase(Database):
    """PostgreSQL at `url` (postgresql://user:password@host:port/database)."""

    dialect = "postgresql"

    def __init__(
        self, url: str, fsync: bool = False, min_size: int = POOL_MIN_SIZE, max_size: int = POOL_MAX_SIZE
    ) -> None:
        super().__init__()
        self._synchronous_commit = "on" if fsync else "off"
        self.where = _describe(url)
        # One direct connection first: it reports the real reason (bad password, no such
        # database, refused) where the pool would only time out.
        try:
            psycopg.connect(url, connect_timeout=int(CONNECT_TIMEOUT_SECONDS)).close()
        except psycopg.Error as error:
            raise StateError(f"cannot connect to PostgreSQL at {self.where}: {error}") from error
        self._pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            kwargs={"autocommit": True},
            configure=self._configure,
            timeout=ACQUIRE_TIMEOUT_SECONDS,
            name="freehold-state",
            open=False,
        )
        try:
            self._pool.open(wait=True, timeout=CONNECT_TIMEOUT_SECONDS)
        except PoolTimeout as error:
            self._pool.close()
            raise StateError(f"cannot connect to PostgreSQL at {self.where}: {error}") from error

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.adapters.register_dumper(bool, _BoolAsIntDumper)
        conn.adapters.register_loader("numeric", _NumericLoader)
        conn.execute(f"SET synchronous_commit = {self._synchronous_commit}")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as error:
            raise StateError(f"no PostgreSQL connection available at {self.where}: {error}") from error
        except psycopg.Error as error:
            raise _state_error(error) from error

    @contextmanager
    def _connect_transaction(self) -> Iterator[Transaction]:
        with self._connection() as conn:
            yield _PostgresTransaction(conn)

    def _query_once(self, sql: str, params: SqlParams) -> list[Row]:
        with self._connection() as conn:
            return _query_all(conn, sql, params)

    def _query_one_once(self, sql: str, params: SqlParams) -> Row | None:
        with self._connection() as conn:
            return _query_first(conn, sql, params)

    def _execute_once(self, sql: str, params: SqlParams) -> int:
        # An autocommit statement is its own transaction: one round trip, not BEGIN/.../COMMIT.
        with self._connection() as conn:
            try:
                with conn.cursor() as cursor:
                    cursor.execute(postgres_statement(sql), tuple(params))
                    return cursor.rowcount
            except psycopg.Error as error:
                raise _state_error(error) from error

    def translate_ddl(self, sql: str) -> str:
        return postgres_ddl(sql)

    def lock_migrations(self, tx: Transaction) -> None:
        # Transaction-scoped: released by COMMIT or ROLLBACK, even if the node dies.
        tx.query("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK_KEY,))

    def reset(self) -> None:
        with self.transaction() as tx:
            tables = [
                str(row[0])
                for row in tx.query(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> ? ORDER BY tablename",
                    (MIGRATIONS_TABLE,),
                )
            ]
            if tables:
                quoted = ", ".join('"' + table.replace('"', '""') + '"' for table in tables)
                tx.execute(f"TRUNCATE {quoted} RESTART IDENTITY")

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.where!r})"
