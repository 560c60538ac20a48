"""The SQLite backend: one database file in WAL mode, a small connection pool, one writer.

Connections: a pool of connections shared by all threads (a connection is used by one thread
at a time). WAL lets readers run while one transaction writes. Every transaction starts with
BEGIN IMMEDIATE (it takes the write lock up front, so it cannot fail half-way with
SQLITE_BUSY when it first writes) while holding a process-wide lock per database file, so
this process's writers queue in Python instead of spinning in SQLite's busy handler.
busy_timeout still covers other processes (e.g. `freehold reset` beside a running server) -
except under `Database.no_wait()` (transactions run on the gateway's event loop): there the
busy timeout is 0 for the BEGIN, so a lock held by another process raises WriteLockBusy at once
(the gateway then runs the operation in a worker thread, which waits) instead of freezing the
loop in SQLite's busy handler. Once BEGIN IMMEDIATE holds the write lock, the statements and
COMMIT after it never wait (readers never block a WAL writer).

Checkpoints: SQLite's automatic checkpoint would run inside a commit (on the event loop, with
fsyncs); it is off, and a background thread checkpoints instead (see wal_checkpointer.py).

Durability: synchronous=NORMAL in WAL mode writes each commit to the WAL file before COMMIT
returns, so it survives kill -9 of the process (the OS page cache keeps it). In `fsync` mode
each commit also waits, outside the write lock, for a shared fsync of the WAL (group
commit, see group_commit.py), so it survives power loss without one fsync per write.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from freehold.state.database import (
    Database,
    IntegrityError,
    IntegrityKind,
    Row,
    SqlParams,
    StateError,
    Transaction,
    WriteLockBusy,
)
from freehold.state.dialect import sqlite_ddl, sqlite_statement
from freehold.state.group_commit import GroupCommit, fsync_directory
from freehold.state.migrations import MIGRATIONS_TABLE
from freehold.state.wal_checkpointer import WalCheckpointer

BUSY_TIMEOUT_SECONDS = 30.0
_BUSY_TIMEOUT_MS = int(BUSY_TIMEOUT_SECONDS * 1000)
MAX_IDLE_CONNECTIONS = 8

_write_locks: dict[str, threading.Lock] = {}
_write_locks_guard = threading.Lock()


def _write_lock_for(path: Path) -> threading.Lock:
    """One lock per database file for the whole process, shared by every Database on it."""
    key = str(path.resolve())
    with _write_locks_guard:
        return _write_locks.setdefault(key, threading.Lock())


def _integrity_kind(message: str) -> IntegrityKind:
    # SQLite's messages: "UNIQUE constraint failed: t.c", "FOREIGN KEY constraint failed",
    # "NOT NULL constraint failed: t.c", "CHECK constraint failed: name".
    upper = message.upper()
    if upper.startswith("UNIQUE"):
        return "unique"
    if upper.startswith("FOREIGN KEY"):
        return "foreign_key"
    if upper.startswith("NOT NULL"):
        return "not_null"
    if upper.startswith("CHECK"):
        return "check"
    return "other"


def _state_error(error: sqlite3.Error) -> StateError:
    if isinstance(error, sqlite3.IntegrityError):
        return IntegrityError(str(error), _integrity_kind(str(error)))
    return StateError(f"SQLite: {error}")


def _is_busy(error: sqlite3.Error) -> bool:
    # SQLITE_BUSY and its extended codes (BUSY_SNAPSHOT, BUSY_RECOVERY, ...): "database is locked".
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int):
        return code & 0xFF == sqlite3.SQLITE_BUSY
    return "database is locked" in str(error)


class _Connection(sqlite3.Connection):
    """A pooled connection that remembers its busy timeout (changed only when it must be)."""

    busy_timeout_ms = _BUSY_TIMEOUT_MS

    def set_busy_timeout(self, milliseconds: int) -> None:
        # Set lazily: the loop's transactions keep 0 across uses of the connection, so the
        # hot path pays no PRAGMA; a transaction or write that may wait sets it back first.
        if self.busy_timeout_ms != milliseconds:
            self.execute(f"PRAGMA busy_timeout = {int(milliseconds)}").close()
            self.busy_timeout_ms = milliseconds


def _busy_timeout_for(wait: bool) -> int:
    return _BUSY_TIMEOUT_MS if wait else 0


class _SqliteTransaction(Transaction):
    def __init__(self, conn: _Connection, wait: bool = True) -> None:
        super().__init__()
        self._conn = conn
        self._wait = wait
        # Whether the commit must be made durable (fsync mode): rows changed (also by
        # INSERT ... RETURNING through query) or any statement run through execute (DDL).
        self.wrote = False
        self._changes_at_start = conn.total_changes

    def _commit(self) -> None:
        self.wrote = self.wrote or self._conn.total_changes != self._changes_at_start
        super()._commit()

    def _execute(self, sql: str, params: SqlParams) -> int:
        self.wrote = True
        try:
            cursor = self._conn.execute(sqlite_statement(sql), params)
            try:
                return cursor.rowcount
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise _state_error(error) from error

    def _executemany(self, sql: str, seq_of_params: Iterable[SqlParams]) -> int:
        self.wrote = True
        try:
            cursor = self._conn.executemany(sqlite_statement(sql), seq_of_params)
            try:
                return cursor.rowcount
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise _state_error(error) from error

    def _query(self, sql: str, params: SqlParams) -> list[Row]:
        return _query_all(self._conn, sql, params)

    def _query_one(self, sql: str, params: SqlParams) -> Row | None:
        return _query_first(self._conn, sql, params)

    def _control(self, sql: str) -> None:
        try:
            self._conn.execute(sql).close()
        except sqlite3.Error as error:
            raise _state_error(error) from error

    def _begin(self) -> None:
        try:
            self._conn.set_busy_timeout(_busy_timeout_for(self._wait))
            self._conn.execute("BEGIN IMMEDIATE").close()
        except sqlite3.Error as error:
            if not self._wait and _is_busy(error):
                # Another process (or a connection outside this pool) holds the database's
                # write lock: nothing ran yet, so the caller may run it again where it can wait.
                raise WriteLockBusy(f"the database is locked by another connection ({error})") from error
            raise _state_error(error) from error


def _query_all(conn: sqlite3.Connection, sql: str, params: SqlParams) -> list[Row]:
    try:
        cursor = conn.execute(sqlite_statement(sql), params)
        try:
            rows: list[Row] = cursor.fetchall()
            return rows
        finally:
            cursor.close()
    except sqlite3.Error as error:
        raise _state_error(error) from error


def _query_first(conn: sqlite3.Connection, sql: str, params: SqlParams) -> Row | None:
    try:
        cursor = conn.execute(sqlite_statement(sql), params)
        try:
            row: Row | None = cursor.fetchone()
            return row
        finally:
            # Closing finalizes the statement, so an unread rest does not keep a read
            # snapshot open (which would stop WAL checkpoints).
            cursor.close()
    except sqlite3.Error as error:
        raise _state_error(error) from error


class _ConnectionPool:
    """Idle connections kept for reuse; new ones opened on demand, extra ones closed."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self._path = path
        self._synchronous = synchronous
        self._idle: list[_Connection] = []
        self._guard = threading.Lock()
        self._closed = False

    def _open(self) -> _Connection:
        conn = sqlite3.connect(
            str(self._path),
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,  # used by one thread at a time, via the pool
            cached_statements=512,
            factory=_Connection,
        )
        assert isinstance(conn, _Connection)
        for pragma in (
            # Checkpoints run in WalCheckpointer's thread, never inside a COMMIT.
            "PRAGMA wal_autocheckpoint = 0",
            "PRAGMA foreign_keys = ON",
            f"PRAGMA synchronous = {self._synchronous}",
            "PRAGMA case_sensitive_like = ON",
            "PRAGMA temp_store = MEMORY",
            "PRAGMA cache_size = -16000",  # 16 MB of page cache per connection
        ):
            conn.execute(pragma).close()
        return conn

    @contextmanager
    def connection(self) -> Iterator[_Connection]:
        with self._guard:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.Error as error:
                raise _state_error(error) from error
        reusable = True
        try:
            yield conn
        finally:
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK").close()
                except sqlite3.Error:
                    reusable = False
            with self._guard:
                if reusable and not self._closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
                    self._idle.append(conn)
                    conn = None
            if conn is not None:
                conn.close()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class SqliteDatabase(Database):
    """SQLite in WAL mode at `path` (created with its directory if missing)."""

    dialect = "sqlite"
    sole_writer = True  # one node serves a SQLite file (cluster mode is PostgreSQL)

    def __init__(self, path: Path, fsync: bool = False) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = _write_lock_for(self.path)
        self._pool = _ConnectionPool(self.path, "NORMAL")
        self.group_commit = GroupCommit(self.path) if fsync else None
        # In `process` durability a commit is a write to the WAL (no fsync): short enough to
        # run on the event loop when the write lock is free.
        self.inline_writes = not fsync
        with self._pool.connection() as conn:
            try:
                # WAL is a property of the file: set once, it stays for every connection.
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()
            except sqlite3.Error as error:
                raise _state_error(error) from error
            if mode is None or str(mode[0]).lower() != "wal":
                raise StateError(f"SQLite at {self.path} cannot use WAL mode (got {mode!r})")
        if self.group_commit is not None:
            fsync_directory(self.path.parent)  # the database and WAL files themselves
        self.checkpointer = WalCheckpointer(self.path, self._write_lock)

    def _after_commit(self, tx: Transaction | None) -> None:
        # Only commits that wrote need to reach the disk (tx None: a one-shot write).
        if self.group_commit is not None and (tx is None or getattr(tx, "wrote", True)):
            self.group_commit.wait_durable()

    @contextmanager
    def _connect_transaction(self) -> Iterator[Transaction]:
        self._take_write_lock()
        try:
            with self._pool.connection() as conn:
                tx = _SqliteTransaction(conn, wait=self._may_wait())
                yield tx
                if tx.wrote:  # committed (a rollback leaves by an exception)
                    self.checkpointer.note_commit()
        finally:
            self._write_lock.release()

    def _take_write_lock(self) -> None:
        if not self._write_lock.acquire(blocking=self._may_wait()):
            raise WriteLockBusy(f"the write lock of {self.path} is taken")

    def _query_once(self, sql: str, params: SqlParams) -> list[Row]:
        with self._pool.connection() as conn:
            self._fit_read_timeout(conn)
            return _query_all(conn, sql, params)

    def _query_one_once(self, sql: str, params: SqlParams) -> Row | None:
        with self._pool.connection() as conn:
            self._fit_read_timeout(conn)
            return _query_first(conn, sql, params)

    def _fit_read_timeout(self, conn: _Connection) -> None:
        # WAL readers wait only in rare cases (another connection recovering the WAL after a
        # crash): a read that may wait gets the full timeout back; under no_wait it keeps 0.
        if conn.busy_timeout_ms != _BUSY_TIMEOUT_MS and self._may_wait():
            try:
                conn.set_busy_timeout(_BUSY_TIMEOUT_MS)
            except sqlite3.Error as error:
                raise _state_error(error) from error

    def _execute_once(self, sql: str, params: SqlParams) -> int:
        # In autocommit mode one statement is its own transaction; the process-wide lock
        # still queues it behind other writers instead of SQLite's busy handler.
        self._take_write_lock()
        wait = self._may_wait()
        try:
            with self._pool.connection() as conn:
                try:
                    conn.set_busy_timeout(_busy_timeout_for(wait))
                    cursor = conn.execute(sqlite_statement(sql), params)
                    try:
                        rowcount = cursor.rowcount
                    finally:
                        cursor.close()
                except sqlite3.Error as error:
                    if not wait and _is_busy(error):
                        # Locked by another process: the statement did not run (autocommit).
                        raise WriteLockBusy(f"the database is locked by another connection ({error})") from error
                    raise _state_error(error) from error
                self.checkpointer.note_commit()
        finally:
            self._write_lock.release()
        self._after_commit(None)
        return rowcount

    def translate_ddl(self, sql: str) -> str:
        return sqlite_ddl(sql)

    def lock_migrations(self, tx: Transaction) -> None:
        # Every SQLite transaction already holds the database's write lock (BEGIN IMMEDIATE),
        # which serializes migrations of every process using this file.
        return None

    def reset(self) -> None:
        with self.transaction() as tx:
            # Checked at COMMIT, by which time every table is empty: delete in any order.
            tx.execute("PRAGMA defer_foreign_keys = ON")
            tables = [
                str(row[0])
                for row in tx.query(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name <> ?",
                    (MIGRATIONS_TABLE,),
                )
            ]
            for table in tables:
                tx.execute(f'DELETE FROM "{table}"')
            if tx.query_one("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'"):
                tx.execute("DELETE FROM sqlite_sequence")  # restart AUTOINCREMENT counters

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.checkpointer.stop()
        self._pool.close()

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"
