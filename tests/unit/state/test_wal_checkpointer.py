"""The background WAL checkpointer: idle without writes, bounded WAL under steady writes,
stopped with the database, nothing lost."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path

from freehold.state.sqlite import SqliteDatabase
from freehold.state.wal_checkpointer import WalCheckpointer

ROW = b"x" * 3000  # about one WAL page per commit


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def _wal_frames(path: Path) -> int:
    """Frames in the WAL (since it last started over), read without checkpointing anything."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        # A checkpoint of nothing reports the WAL's size; wal_autocheckpoint 0 keeps it passive.
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        row = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(row[1])
    finally:
        conn.close()


def test_idle_without_writes_and_a_round_soon_after_one(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    try:
        time.sleep(0.2)
        assert db.checkpointer.rounds == 0  # nothing written: it sleeps
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        assert _wait_until(lambda: db.checkpointer.rounds >= 1, timeout=5)
        rounds = db.checkpointer.rounds
        time.sleep(1.3)  # more than an interval, without writes: no further round
        assert db.checkpointer.rounds == rounds
    finally:
        db.close()


def test_wal_stays_bounded_under_many_commits(tmp_path: Path) -> None:
    # Without checkpoints (autocheckpoint is off on the pool), 4000 commits of ~3 KB would
    # leave about 8000 frames (a leaf and its parent per commit: 33 MB) in the WAL; the
    # checkpointer lets it start over every round, so it never holds more than a few rounds.
    db = SqliteDatabase(tmp_path / "state.db")
    try:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
        for n in range(4000):
            with db.transaction() as tx:
                tx.execute("INSERT INTO t (id, body) VALUES (?, ?)", (n, ROW))
        checkpointer = db.checkpointer
        assert _wait_until(lambda: checkpointer.caught_up)
        db.execute("INSERT INTO t (id, body) VALUES (?, ?)", (-1, ROW))  # starts the WAL over
        assert _wal_frames(db.path) < 100
        wal = db.path.with_name(db.path.name + "-wal")
        assert wal.stat().st_size < 4000 * 4120  # frames of 4 KB pages plus their headers
        assert db.query("SELECT COUNT(*) FROM t") == [(4001,)]
    finally:
        db.close()


def test_the_locked_pass_lets_the_wal_start_over_while_writers_keep_writing(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    db.checkpointer.stop()  # replaced by one that checks often and completes above 50 frames
    db.checkpointer = WalCheckpointer(db.path, db._write_lock, interval=0.05, commits_per_round=20, reset_frames=50)
    stop = threading.Event()
    written = [0]

    def write() -> None:
        while not stop.is_set() and written[0] < 20000:
            with db.transaction() as tx:
                tx.execute("INSERT INTO t (id, body) VALUES (?, ?)", (written[0], ROW))
            written[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert _wait_until(lambda: db.checkpointer.locked_rounds >= 3, timeout=20)
        stop.set()
        writer.join(20)
        # Steady writes never left a gap for the WAL to start over by itself; the locked
        # passes did, so the WAL holds far fewer frames than were written.
        assert _wal_frames(db.path) < written[0]
    finally:
        stop.set()
        writer.join(20)
        db.close()
    assert not db.checkpointer.running


def test_close_stops_the_thread_and_nothing_is_lost(tmp_path: Path) -> None:
    db = SqliteDatabase(tmp_path / "state.db")
    db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body BLOB)")
    for n in range(300):
        db.execute("INSERT INTO t (id, body) VALUES (?, ?)", (n, ROW))
    db.close()
    assert not db.checkpointer.running
    again = SqliteDatabase(tmp_path / "state.db")
    try:
        assert again.query("SELECT COUNT(*) FROM t") == [(300,)]
    finally:
        again.close()
