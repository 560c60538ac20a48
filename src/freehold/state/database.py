"""The SQL state engine's contract: Database, Transaction, their errors, and open_database.

Providers and the gateway use exactly this surface:

    db = open_database(settings)
        settings.state_url ''                -> SQLite at settings.data_dir / "state.db" (WAL)
        settings.state_url 'sqlite:///path'  -> SQLite at that path (relative; sqlite:////abs)
        settings.state_url 'postgresql://...' -> PostgreSQL (psycopg 3 connection pool)
        settings.durability 'process' (default) survives kill -9 of the server
            (SQLite synchronous=NORMAL in WAL; PostgreSQL synchronous_commit=off, which the
            PostgreSQL server still makes durable on its own unless *it* crashes);
        'fsync' survives power loss (SQLite: WAL fsynced by group commit; PostgreSQL synchronous_commit=on).

    with db.transaction() as tx:      # BEGIN; COMMIT on exit; ROLLBACK if the block raises
        tx.execute(sql, params) -> int        # rowcount
        tx.executemany(sql, seq) -> int
        tx.query(sql, params) -> list[tuple]
        tx.query_one(sql, params) -> tuple | None
    db.query / db.query_one / db.execute      # one-shot, each in its own transaction
    db.migrate(owner, migrations)             # see freehold.state.migrations
    db.reset()                                # delete every row except migration records
    db.close()

SQL is written once in the portable dialect described in freehold.state.dialect
(`?` placeholders, ON CONFLICT upserts, FOR UPDATE, TEXT/BIGINT/INTEGER/DOUBLE PRECISION/BLOB).

Threads: a Database is shared by all threads. A transaction belongs to the thread that opened
it. Inside an open transaction, the same thread's db.query/db.execute run *in* that
transaction, and a nested `with db.transaction()` is a SAVEPOINT: if its block raises, only
its own statements are rolled back and the outer transaction can go on.
Never `await` inside a transaction: coroutines share their event loop's thread, so another
coroutine's statements would join it (and the loop would block on the database's locks).

Errors: every driver error surfaces as StateError; constraint violations (unique, primary key,
foreign key, not null, check) as IntegrityError, on both backends, so providers can turn
them into AWS errors (EntityAlreadyExists, ...). After a failed statement the transaction is
aborted (PostgreSQL's rule, enforced on SQLite too so both behave alike): later statements
raise TransactionAborted, and leaving the block normally rolls back and raises it. To try
a statement that may fail and carry on, wrap it in a nested `with db.transaction():`.
"""

from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

if TYPE_CHECKING:
    from freehold.config import Settings
    from freehold.state.migrations import Migration

Dialect = Literal["sqlite", "postgresql"]
SqlParams = Sequence[Any]
Row = tuple[Any, ...]
IntegrityKind = Literal["unique", "foreign_key", "not_null", "check", "other"]


class StateError(Exception):
    """Any failure of the state engine (the driver's exception is the __cause__)."""


class IntegrityError(StateError):
    """A constraint violation: `kind` is unique, foreign_key, not_null, check or other."""

    def __init__(self, message: str, kind: IntegrityKind = "other") -> None:
        super().__init__(message)
        self.kind: IntegrityKind = kind


class TransactionAborted(StateError):
    """A statement failed earlier in this transaction; it can only be rolled back."""


class DatabaseClosed(StateError):
    """The Database was closed."""


class WriteLockBusy(StateError):
    """A transaction opened under `Database.no_wait()` found the write lock taken."""


class Transaction(ABC):
    """One open transaction on one connection. Use it only in the thread that opened it."""

    def __init__(self) -> None:
        self._failed = False
        self._depth = 0  # number of open savepoints
        self._on_commit: list[Callable[[], None]] = []

    # -- the public surface -------------------------------------------------------------
    def execute(self, sql: str, params: SqlParams = ()) -> int:
        """Run a statement; return its rowcount (-1 when the statement has none)."""
        self._check()
        try:
            return self._execute(sql, params)
        except BaseException:
            self._failed = True
            raise

    def executemany(self, sql: str, seq_of_params: Iterable[SqlParams]) -> int:
        """Run a statement once per parameter tuple; return the total rowcount."""
        self._check()
        try:
            return self._executemany(sql, seq_of_params)
        except BaseException:
            self._failed = True
            raise

    def query(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a statement that returns rows (SELECT, or ... RETURNING); return all rows."""
        self._check()
        try:
            return self._query(sql, params)
        except BaseException:
            self._failed = True
            raise

    def query_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """The first row of a query, or None."""
        self._check()
        try:
            return self._query_one(sql, params)
        except BaseException:
            self._failed = True
            raise

    @property
    def failed(self) -> bool:
        """True once a statement failed: the transaction can only be rolled back."""
        return self._failed

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` once this transaction has committed (after the outermost COMMIT,
        and after it is durable); dropped if the transaction, or the savepoint it was
        registered in, rolls back. For wake-ups that must not run before the data is visible."""
        self._on_commit.append(callback)

    # -- what a backend implements ----------------------------------------------------------
    @abstractmethod
    def _execute(self, sql: str, params: SqlParams) -> int: ...

    @abstractmethod
    def _executemany(self, sql: str, seq_of_params: Iterable[SqlParams]) -> int: ...

    @abstractmethod
    def _query(self, sql: str, params: SqlParams) -> list[Row]: ...

    @abstractmethod
    def _query_one(self, sql: str, params: SqlParams) -> Row | None: ...

    @abstractmethod
    def _control(self, sql: str) -> None:
        """Run BEGIN/COMMIT/ROLLBACK/SAVEPOINT; raise StateError on failure."""

    @abstractmethod
    def _begin(self) -> None: ...

    # -- lifecycle, driven by Database.transaction ---------------------------------------
    def _check(self) -> None:
        if self._failed:
            raise TransactionAborted(
                "current transaction is aborted after an earlier error; "
                "wrap statements that may fail in a nested db.transaction()"
            )

    def _commit(self) -> None:
        self._control("COMMIT")

    def _rollback(self) -> None:
        self._control("ROLLBACK")

    @contextmanager
    def _savepoint(self) -> Iterator[Transaction]:
        self._check()
        self._depth += 1
        name = f"freehold_sp_{self._depth}"
        self._control(f"SAVEPOINT {name}")
        callbacks = len(self._on_commit)
        try:
            yield self
        except BaseException:
            del self._on_commit[callbacks:]
            self._undo_savepoint(name)
            raise
        else:
            if self._failed:
                # The block swallowed a failed statement's error: undo its work and say so.
                del self._on_commit[callbacks:]
                self._undo_savepoint(name)
                raise TransactionAborted(
                    "a statement failed inside this savepoint; its changes were rolled back"
                )
            self._control(f"RELEASE SAVEPOINT {name}")
        finally:
            self._depth -= 1

    def _undo_savepoint(self, name: str) -> None:
        try:
            self._control(f"ROLLBACK TO SAVEPOINT {name}")
            self._control(f"RELEASE SAVEPOINT {name}")
            self._failed = False
        except StateError:
            self._failed = True


class Database(ABC):
    """A SQL database shared by all threads of the process (see the module docstring)."""

    dialect: ClassVar[Dialect]
    # Whether a short write may run on the event loop's thread (see `no_wait`): true only
    # where a commit costs no network round trip and no fsync wait (SQLite in `process`).
    inline_writes: bool = False
    # Whether this process is the database's only writer (SQLite: one node owns its file; on
    # PostgreSQL other nodes write too). Caches validated by in-process change counters are
    # only sound where it is true.
    sole_writer: ClassVar[bool] = False

    def __init__(self) -> None:
        self._local = threading.local()
        self._closed = False

    @contextmanager
    def no_wait(self) -> Iterator[None]:
        """Inside this block, this thread's transactions do not wait for the write lock:
        one that would wait raises WriteLockBusy before running any statement. The gateway
        runs short operations on the event loop this way and, on WriteLockBusy, runs them
        again in a worker thread (so an operation run so must open at most one write
        transaction, or be safe to run again)."""
        previous = getattr(self._local, "no_wait", False)
        self._local.no_wait = True
        try:
            yield
        finally:
            self._local.no_wait = previous

    def _may_wait(self) -> bool:
        return not getattr(self._local, "no_wait", False)

    # -- transactions -----------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Transaction]:
        """A transaction: committed when the block exits, rolled back if it raises.

        Nested in another transaction of the same thread, it is a SAVEPOINT instead.
        """
        outer: Transaction | None = getattr(self._local, "tx", None)
        if outer is not None:
            with outer._savepoint() as tx:
                yield tx
            return
        self._check_open()
        with self._connect_transaction() as tx:
            tx._begin()
            self._local.tx = tx
            try:
                yield tx
            except BaseException:
                self._local.tx = None
                self._safe_rollback(tx)
                raise
            self._local.tx = None
            if tx.failed:
                self._safe_rollback(tx)
                raise TransactionAborted("a statement failed in this transaction; it was rolled back")
            try:
                tx._commit()
            except BaseException:
                # e.g. a deferred foreign key failing at COMMIT: SQLite keeps the transaction
                # open in that case, PostgreSQL has already ended it; ROLLBACK covers both.
                self._safe_rollback(tx)
                raise
        self._after_commit(tx)
        _run_callbacks(tx._on_commit)

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Run `callback` after this thread's open transaction commits (see
        Transaction.on_commit), or at once when none is open."""
        tx = self.current_transaction()
        if tx is None:
            callback()
        else:
            tx.on_commit(callback)

    def _after_commit(self, tx: Transaction | None) -> None:
        """Runs after a top-level COMMIT, outside the write lock (SQLite's group commit)."""

    @staticmethod
    def _safe_rollback(tx: Transaction) -> None:
        try:
            tx._rollback()
        except StateError:
            pass  # the backend discards the connection; the original error matters more

    def current_transaction(self) -> Transaction | None:
        """The transaction this thread has open on this database, if any."""
        tx: Transaction | None = getattr(self._local, "tx", None)
        return tx

    # -- one-shot statements ---------------------------------------------------------------
    def query(self, sql: str, params: SqlParams = ()) -> list[Row]:
        """Run a read and return all rows (inside this thread's transaction, if one is open)."""
        tx = self.current_transaction()
        if tx is not None:
            return tx.query(sql, params)
        self._check_open()
        return self._query_once(sql, params)

    def query_one(self, sql: str, params: SqlParams = ()) -> Row | None:
        """The first row of a read, or None."""
        tx = self.current_transaction()
        if tx is not None:
            return tx.query_one(sql, params)
        self._check_open()
        return self._query_one_once(sql, params)

    def execute(self, sql: str, params: SqlParams = ()) -> int:
        """Run one write in its own transaction (or in this thread's open one); rowcount."""
        tx = self.current_transaction()
        if tx is not None:
            return tx.execute(sql, params)
        self._check_open()
        return self._execute_once(sql, params)

    # -- schema -----------------------------------------------------------------------------
    def migrate(self, owner: str, migrations: Sequence[Migration]) -> None:
        """Apply `owner`'s migrations not applied yet, in version order, each in a transaction."""
        from freehold.state.migrations import apply_migrations

        self._check_open()
        apply_migrations(self, owner, migrations)

    @abstractmethod
    def translate_ddl(self, sql: str) -> str:
        """A migration statement in this backend's dialect (column type mapping)."""

    @abstractmethod
    def lock_migrations(self, tx: Transaction) -> None:
        """Serialize migrations of concurrent nodes for the rest of `tx`."""

    @abstractmethod
    def reset(self) -> None:
        """Delete all rows of all tables except the migrations table."""

    @abstractmethod
    def close(self) -> None:
        """Release every connection; later use raises DatabaseClosed."""

    # -- what a backend implements ----------------------------------------------------------
    @abstractmethod
    def _connect_transaction(self) -> AbstractContextManager[Transaction]:
        """A Transaction on a connection reserved for it (not yet begun)."""

    @abstractmethod
    def _query_once(self, sql: str, params: SqlParams) -> list[Row]: ...

    @abstractmethod
    def _query_one_once(self, sql: str, params: SqlParams) -> Row | None: ...

    def _execute_once(self, sql: str, params: SqlParams) -> int:
        """One statement, atomically on its own; backends may skip BEGIN/COMMIT round trips."""
        with self.transaction() as tx:
            return tx.execute(sql, params)

    def _check_open(self) -> None:
        if self._closed:
            raise DatabaseClosed("the database is closed")


def _run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    # The transaction is committed: a failing callback must not turn it into an error.
    for callback in callbacks:
        try:
            callback()
        except Exception:
            logging.getLogger("freehold.state").exception("an after-commit callback failed")


def open_database(settings: Settings) -> Database:
    """The Database that `settings.state_url` names (see the module docstring)."""
    url = settings.state_url.strip()
    fsync = settings.durability == "fsync"
    if url.startswith(("postgresql://", "postgres://")):
        from freehold.state.postgres import PostgresDatabase

        return PostgresDatabase(url, fsync=fsync)
    if url == "":
        path = Path(settings.data_dir) / "state.db"
    elif url.startswith("sqlite:///"):
        # As in SQLAlchemy: sqlite:///relative/path, sqlite:////absolute/path.
        path = Path(url[len("sqlite:///") :])
    else:
        raise StateError(
            f"unsupported state URL {url.split('://', 1)[0]!r}: use '' (SQLite in the data "
            "directory), sqlite:///path or postgresql://user:password@host:port/database"
        )
    from freehold.state.sqlite import SqliteDatabase

    return SqliteDatabase(path, fsync=fsync)
