"""Group commit for SQLite in `fsync` durability: one fsync makes many commits durable.

With `synchronous=FULL` every COMMIT fsyncs the WAL while holding the database's write
lock, so writes/s can never exceed fsyncs/s. Instead, in `fsync` mode commits run with
`synchronous=NORMAL` (written to the WAL, not flushed) and then, outside the write lock,
wait here until an fsync of the WAL that *began after their COMMIT* has completed. One
thread (the leader) flushes while the others wait; every commit that finished before the
flush started rides on it. Nothing is acknowledged before it is on disk.

SQLite's own checkpoints stay safe under `synchronous=NORMAL`: in WAL mode it syncs the WAL
before each checkpoint and the database after it (https://www.sqlite.org/pragma.html#pragma_synchronous).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path


class GroupCommit:
    """Shares WAL fsyncs among concurrent committers of one SQLite database file."""

    def __init__(self, database_path: Path) -> None:
        self.wal_path = database_path.with_name(database_path.name + "-wal")
        self._cond = threading.Condition()
        self._committed = 0  # commits that have finished COMMIT
        self._durable = 0  # commits covered by a completed fsync
        self._flushing = False
        self.flushes = 0  # fsyncs done (for tests and benchmarks)

    def wait_durable(self) -> None:
        """Call right after a COMMIT returned; returns once that commit is on disk."""
        with self._cond:
            self._committed += 1
            ticket = self._committed
            while self._durable < ticket:
                if self._flushing:
                    self._cond.wait()
                    continue
                self._flushing = True
                covered = self._committed  # every commit counted so far ended before this flush
                self._cond.release()
                try:
                    self._flush()
                finally:
                    self._cond.acquire()
                    self._flushing = False
                    self._cond.notify_all()
                self._durable = max(self._durable, covered)
                self.flushes += 1

    def _flush(self) -> None:
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return  # no WAL: everything was checkpointed (and synced) into the database
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def fsync_directory(path: Path) -> None:
    """Make a directory entry (a newly created file) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
