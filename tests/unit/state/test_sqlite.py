"""What is particular to the SQLite backend: file location, pragmas, the shared write lock."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from freehold.config import Settings
from freehold.state.database import StateError, WriteLockBusy, open_database
from freehold.state.sqlite import SqliteDatabase


def test_default_location_is_state_db_in_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "not" / "yet" / "there"
    db = open_database(Settings(data_dir=data_dir))
    try:
        assert isinstance(db, SqliteDatabase)
        assert db.path == data_dir / "state.db"
        assert (data_dir / "state.db").is_file()
    finally:
        db.close()


def test_sqlite_url_names_the_file(tmp_path: Path) -> None:
    db = open_database(Settings(state_url=f"sqlite:///{tmp_path}/custom.db"))
    try:
        assert isinstance(db, SqliteDatabase) and db.path == tmp_path / "custom.db"
    finally:
        db.close()


@pytest.mark.parametrize(("durability", "grouped"), [("process", False), ("fsync", True)])
def test_wal_and_synchronous_follow_durability(tmp_path: Path, durability: str, grouped: bool) -> None:
    # Both modes commit with synchronous=NORMAL (1); fsync mode adds group commit, which
    # fsyncs the WAL before a commit is acknowledged (test_group_commit.py).
    synchronous = 1
    db = open_database(Settings(data_dir=tmp_path, durability=durability))  # type: ignore[arg-type]
    try:
        assert (getattr(db, "group_commit", None) is not None) == grouped
        assert db.query("PRAGMA journal_mode") == [("wal",)]
        assert db.query("PRAGMA synchronous") == [(synchronous,)]
        assert db.query("PRAGMA foreign_keys") == [(1,)]
        with db.transaction() as tx:  # pragmas hold on every pooled connection
            assert tx.query("PRAGMA synchronous") == [(synchronous,)]
    finally:
        db.close()


def test_two_databases_on_one_file_share_the_write_lock(tmp_path: Path) -> None:
    # Without the shared process-wide lock, writers on separate connections would meet
    # SQLITE_BUSY inside their transactions; with it they queue.
    first = SqliteDatabase(tmp_path / "shared.db")
    second = SqliteDatabase(tmp_path / "shared.db")
    first.execute("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
    errors: list[BaseException] = []

    def write(db: SqliteDatabase, prefix: str) -> None:
        try:
            for n in range(40):
                with db.transaction() as tx:
                    tx.execute("INSERT INTO t VALUES (?, ?)", (f"{prefix}{n}", n))
                    tx.query("SELECT COUNT(*) FROM t")
        except Exception as error:  # noqa: BLE001 - reported by the test's thread
            errors.append(error)

    threads = [
        threading.Thread(target=write, args=(db, f"{name}{t}-"))
        for db, name in ((first, "a"), (second, "b"))
        for t in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not errors, errors
        assert first.query("SELECT COUNT(*) FROM t") == [(240,)]
    finally:
        first.close()
        second.close()


def test_unopenable_file_is_a_state_error(tmp_path: Path) -> None:
    (tmp_path / "state.db").mkdir()  # a directory where the database file should be
    with pytest.raises(StateError):
        open_database(Settings(data_dir=tmp_path))


@pytest.mark.parametrize(("durability", "inline"), [("process", True), ("fsync", False)])
def test_inline_writes_only_without_fsync_waits(tmp_path: Path, durability: str, inline: bool) -> None:
    db = open_database(Settings(data_dir=tmp_path, durability=durability))  # type: ignore[arg-type]
    try:
        assert db.inline_writes is inline
    finally:
        db.close()


def test_no_wait_refuses_a_taken_write_lock_before_any_statement(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    inside, release = threading.Event(), threading.Event()

    def hold() -> None:
        with db.transaction() as tx:
            tx.execute("INSERT INTO t (id) VALUES ('held')")
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert inside.wait(10)
        with db.no_wait():
            with pytest.raises(WriteLockBusy):
                with db.transaction() as tx:
                    tx.execute("INSERT INTO t (id) VALUES ('never')")
            with pytest.raises(WriteLockBusy):
                db.execute("INSERT INTO t (id) VALUES ('never')")
            # Reads take no write lock: they go on.
            assert db.query("SELECT id FROM t WHERE id = 'never'") == []
    finally:
        release.set()
        holder.join(10)
    with db.no_wait():  # free again: no wait needed
        with db.transaction() as tx:
            tx.execute("INSERT INTO t (id) VALUES ('later')")
    # Outside no_wait, a transaction waits for the lock as before.
    assert sorted(row[0] for row in db.query("SELECT id FROM t")) == ["held", "later"]
    db.close()


def _lock_from_outside(path: Path) -> sqlite3.Connection:
    """A connection outside the pool (as another process would have) holding the write lock."""
    other = sqlite3.connect(str(path), isolation_level=None, timeout=0)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_no_wait_does_not_wait_for_a_lock_held_outside_this_process(tmp_path: Path) -> None:
    # The process-wide lock is free, but another connection (e.g. `freehold reset`, a sqlite3
    # shell, a second node) holds SQLite's: the BEGIN must not sit in the busy handler.
    db = SqliteDatabase(tmp_path / "state.db")
    db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
    other = _lock_from_outside(db.path)
    try:
        with db.no_wait():
            started = time.monotonic()
            with pytest.raises(WriteLockBusy):
                with db.transaction() as tx:
                    tx.execute("INSERT INTO t (id) VALUES ('never')")
            assert time.monotonic() - started < 1.0  # at once: the busy handler would wait 30 s
            started = time.monotonic()
            with pytest.raises(WriteLockBusy):
                db.execute("INSERT INTO t (id) VALUES ('never')")
            assert time.monotonic() - started < 1.0  # at once: the busy handler would wait 30 s
            assert db.query("SELECT id FROM t") == []  # reads go on
        # The fallback (a worker thread, allowed to wait) commits once the lock is free, on
        # the same pooled connection whose busy timeout was 0.
        done = threading.Event()
        errors: list[BaseException] = []

        def write() -> None:
            try:
                with db.transaction() as tx:
                    tx.execute("INSERT INTO t (id) VALUES ('waited')")
                db.execute("INSERT INTO t (id) VALUES ('waited too')")
            except BaseException as error:  # noqa: BLE001 - reported by the test
                errors.append(error)
            done.set()

        worker = threading.Thread(target=write)
        worker.start()
        assert not done.wait(0.3)  # waiting for the other connection, not failing
        other.execute("ROLLBACK")
        assert done.wait(10)
        worker.join(10)
        assert not errors, errors
        assert sorted(row[0] for row in db.query("SELECT id FROM t")) == ["waited", "waited too"]
        with db.no_wait():  # free again: the loop's path writes directly
            with db.transaction() as tx:
                tx.execute("INSERT INTO t (id) VALUES ('inline')")
        assert db.query("SELECT COUNT(*) FROM t") == [(3,)]
    finally:
        other.close()
        db.close()


def test_a_waiting_write_gets_the_busy_timeout_back(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    try:
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY)")
        with db.no_wait():
            with db.transaction() as tx:
                assert tx.query("PRAGMA busy_timeout") == [(0,)]
        with db.transaction() as tx:
            assert tx.query("PRAGMA busy_timeout") == [(30000,)]
        assert db.query("PRAGMA busy_timeout") == [(30000,)]
    finally:
        db.close()


def test_commits_never_checkpoint_the_wal_themselves(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    try:
        with db.transaction() as tx:  # every pooled connection: the checkpointer thread does it
            assert tx.query("PRAGMA wal_autocheckpoint") == [(0,)]
    finally:
        db.close()
