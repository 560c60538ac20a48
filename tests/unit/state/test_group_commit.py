"""Group commit (SQLite, fsync durability): every commit waits for an fsync that began after
it, and concurrent commits share fsyncs."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from freehold.state.group_commit import GroupCommit
from freehold.state.migrations import Migration
from freehold.state.sqlite import SqliteDatabase

MIGRATION = Migration(1, "rows", ("CREATE TABLE rows (id INTEGER PRIMARY KEY, value TEXT NOT NULL)",))


def test_concurrent_commits_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = SqliteDatabase(tmp_path / "state.db", fsync=True)
    db.migrate("test", [MIGRATION])
    assert db.group_commit is not None
    synced: list[int] = []
    real_fsync = os.fsync

    def slow_fsync(fd: int) -> None:  # a disk that takes a while: commits pile up behind it
        threading.Event().wait(0.005)
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", slow_fsync)
    before = db.group_commit.flushes
    writers, per_writer = 8, 25

    def write(number: int) -> None:
        for i in range(per_writer):
            with db.transaction() as tx:
                tx.execute("INSERT INTO rows (id, value) VALUES (?, ?)", (number * 1000 + i, "x"))

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    flushes = db.group_commit.flushes - before
    commits = writers * per_writer
    assert db.query_one("SELECT COUNT(*) FROM rows") == (commits,)
    assert 0 < flushes < commits / 2, (flushes, commits)
    db.close()


def test_read_only_transactions_do_not_flush(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db", fsync=True)
    db.migrate("test", [MIGRATION])
    assert db.group_commit is not None
    before = db.group_commit.flushes
    with db.transaction() as tx:
        tx.query("SELECT COUNT(*) FROM rows")
    assert db.group_commit.flushes == before
    with db.transaction() as tx:
        tx.query("INSERT INTO rows (id, value) VALUES (1, 'a') RETURNING id")
    assert db.group_commit.flushes == before + 1
    db.execute("UPDATE rows SET value = 'b' WHERE id = 1")
    assert db.group_commit.flushes == before + 2
    db.close()


def test_a_commit_waits_for_a_flush_that_began_after_it(tmp_path: Path) -> None:
    group = GroupCommit(tmp_path / "state.db")
    (tmp_path / "state.db-wal").write_bytes(b"wal")
    order: list[str] = []
    flush = group._flush

    def recording_flush() -> None:
        order.append("flush")
        flush()

    group._flush = recording_flush  # type: ignore[method-assign]
    group.wait_durable()
    order.append("acknowledged")
    group.wait_durable()
    order.append("acknowledged")
    assert order == ["flush", "acknowledged", "flush", "acknowledged"]


def test_process_mode_has_no_group_commit(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db", fsync=False)
    assert db.group_commit is None
    db.close()
