"""WAL checkpoints of a SQLite database in a background thread, never inside a commit.

SQLite's automatic checkpoint (every 1000 WAL pages) runs inside whichever COMMIT crosses the
threshold: it copies the WAL's pages into the database and fsyncs both files. Commits now often
run on the gateway's event loop (short writes under `Database.no_wait`), so that commit - and
every request waiting on the loop - would pay several milliseconds. Pool connections therefore
turn it off (`PRAGMA wal_autocheckpoint = 0`) and this thread checkpoints instead: about once a
second while writes happen (sooner after COMMITS_PER_ROUND commits), idle otherwise.

A PASSIVE checkpoint takes no write lock, so it runs beside writers; but SQLite only restarts
the WAL from its beginning (keeping its size bounded) when a writer starts after a checkpoint
that backfilled *every* frame - which never happens while writers keep appending. So when the
WAL holds more than RESET_FRAMES frames, a second PASSIVE checkpoint runs while holding this
process's write lock: it copies only the few frames written meanwhile, and completes, so the
next writer starts the WAL over. Writers on the event loop then find the lock taken and run in
a worker thread (WriteLockBusy) instead of waiting on the loop.

Durability is unchanged: a commit is in the WAL before COMMIT returns (and fsynced by group
commit in `fsync` mode); a checkpoint only copies committed pages, fsyncing the WAL before and
the database after (synchronous=NORMAL in WAL mode), and kill -9 in the middle of one loses
nothing (the WAL is replayed on open).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

COMMITS_PER_ROUND = 256  # commits that wake the checkpointer before its interval is over
INTERVAL_SECONDS = 1.0  # longest time a commit waits to be checkpointed while writes happen
RESET_FRAMES = 1000  # WAL frames above which the checkpoint completes under the write lock
LOCK_TIMEOUT_SECONDS = 5.0  # a checkpoint gives up the locked pass rather than wait longer
STOP_TIMEOUT_SECONDS = 10.0

_log = logging.getLogger("freehold.state")


class WalCheckpointer:
    """Checkpoints the WAL of the database at `database_path` from its own thread."""

    def __init__(
        self,
        database_path: Path,
        write_lock: threading.Lock,
        *,
        interval: float = INTERVAL_SECONDS,
        commits_per_round: int = COMMITS_PER_ROUND,
        reset_frames: int = RESET_FRAMES,
    ) -> None:
        self._path = database_path
        self._write_lock = write_lock
        self._interval = interval
        self._commits_per_round = commits_per_round
        self._reset_frames = reset_frames
        self._cond = threading.Condition()
        self._commits = 0  # commits that wrote (counted under the write lock)
        self._done = 0  # commits the last checkpoint round started after
        self._stopping = False
        self.rounds = 0  # checkpoint rounds run (for tests)
        self.locked_rounds = 0  # rounds that completed the checkpoint under the write lock
        self._thread = threading.Thread(
            target=self._run, name=f"freehold-wal-checkpoint-{database_path.name}", daemon=True
        )
        self._thread.start()

    def note_commit(self) -> None:
        """Call after a COMMIT that wrote, while still holding the write lock (cheap: it wakes
        the thread only for the first commit of a round and when a round's count is reached)."""
        self._commits += 1
        pending = self._commits - self._done
        if pending == 1 or pending == self._commits_per_round:
            with self._cond:
                self._cond.notify()

    @property
    def caught_up(self) -> bool:
        """Whether the last round started after the last commit (for tests)."""
        return self._done == self._commits

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop the thread (bounded); SQLite checkpoints the rest when the last connection closes."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(STOP_TIMEOUT_SECONDS)

    # -- the thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            while True:
                with self._cond:
                    while not self._stopping and self._commits == self._done:
                        self._cond.wait()  # idle: no write since the last round
                    # Let a round's worth of commits gather, or the interval pass.
                    self._cond.wait_for(
                        lambda: self._stopping or self._commits - self._done >= self._commits_per_round,
                        timeout=self._interval,
                    )
                    if self._stopping:
                        return
                    target = self._commits
                try:
                    if conn is None:
                        conn = self._open()
                    self._checkpoint(conn)
                except sqlite3.Error as error:
                    # e.g. the file went away under a closing database: try again next round.
                    _log.warning("WAL checkpoint of %s failed: %s", self._path, error)
                    if conn is not None:
                        conn.close()
                        conn = None
                self._done = target
                self.rounds += 1
        finally:
            if conn is not None:
                conn.close()

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(str(self._path), timeout=0, isolation_level=None, check_same_thread=False)
        # The checkpoint's fsyncs follow the connection's setting: NORMAL syncs the WAL before
        # copying and the database after, as the pool's connections would have.
        conn.execute("PRAGMA synchronous = NORMAL").close()
        conn.execute("PRAGMA wal_autocheckpoint = 0").close()
        return conn

    def _checkpoint(self, conn: sqlite3.Connection) -> None:
        frames = _passive_checkpoint(conn)
        if frames <= self._reset_frames:
            return
        # Writers kept appending while it ran, so the WAL could not start over: finish it
        # while no writer of this process can append (other processes may still; then the
        # next round tries again).
        if not self._write_lock.acquire(timeout=LOCK_TIMEOUT_SECONDS):
            return
        try:
            _passive_checkpoint(conn)
        finally:
            self._write_lock.release()
        self.locked_rounds += 1


def _passive_checkpoint(conn: sqlite3.Connection) -> int:
    """Run a PASSIVE checkpoint; return the number of frames in the WAL."""
    cursor = conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
    try:
        row = cursor.fetchone()
    finally:
        cursor.close()
    # (busy, frames in the WAL, frames checkpointed); -1 frames when not in WAL mode.
    return int(row[1]) if row is not None else 0
