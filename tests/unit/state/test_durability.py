"""Every acknowledged write survives kill -9 of the writing process, on both backends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from freehold.config import Settings
from freehold.state.database import open_database

# The child: two threads committing rows; after each COMMIT returns it prints the row's id
# (the acknowledgment). It stops by itself after a bounded number of writes or seconds.
WRITER = r"""
import sys, threading, time
from pathlib import Path
from freehold.config import Settings
from freehold.state import Migration, open_database

data_dir, state_url, durability = sys.argv[1:4]
db = open_database(Settings(data_dir=Path(data_dir), state_url=state_url, durability=durability))
db.migrate("durability", [Migration(1, "acks", (
    "CREATE TABLE acks (id TEXT PRIMARY KEY, n BIGINT NOT NULL, payload BLOB NOT NULL)",
))])
print("ready", flush=True)
out = threading.Lock()
deadline = time.monotonic() + 60

def write(worker):
    for n in range(20000):
        if time.monotonic() > deadline:
            return
        key = f"{worker}-{n}"
        with db.transaction() as tx:
            tx.execute("INSERT INTO acks (id, n, payload) VALUES (?, ?, ?)", (key, n, key.encode() * 10))
            tx.execute("UPDATE acks SET n = n + 1 WHERE id = ?", (key,))
        with out:
            print(key, flush=True)

threads = [threading.Thread(target=write, args=(w,)) for w in range(2)]
for t in threads: t.start()
for t in threads: t.join()
"""

ACKS_BEFORE_KILL = 300


class _LineReader:
    """Collects the child's stdout lines in a thread, so waiting never blocks on a pipe."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._child = child
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._child.stdout is not None
        for line in self._child.stdout:
            self.lines.append(line.strip())

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.lines) < count:
            assert self._child.poll() is None, f"child exited early: {self.lines[-3:]}"
            assert time.monotonic() < deadline, f"child acknowledged only {len(self.lines)} lines"
            time.sleep(0.02)

    def finish(self) -> list[str]:
        self._thread.join(timeout=30)
        assert not self._thread.is_alive()
        return list(self.lines)


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["process", "fsync"])
def test_acknowledged_writes_survive_sigkill(state_settings: Settings, durability: str) -> None:
    settings = state_settings.with_overrides(durability=durability)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(settings.data_dir), settings.state_url, durability],
        stdout=subprocess.PIPE,
        text=True,
    )
    reader = _LineReader(child)
    try:
        reader.wait_for(1 + ACKS_BEFORE_KILL, timeout=120)
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: the writers are still committing
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    # Every line the child printed, including those still in the pipe when it died.
    lines = reader.finish()
    assert lines[0] == "ready"
    acked = lines[1:]
    assert child.stdout is not None
    child.stdout.close()

    db = open_database(settings)
    try:
        stored = {
            str(key): (int(n), bytes(payload))
            for key, n, payload in db.query("SELECT id, n, payload FROM acks")
        }
    finally:
        db.close()
    missing = [key for key in acked if key not in stored]
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"
    for key in acked:  # whole transactions: both statements of each are there
        assert stored[key] == (int(key.split("-")[1]) + 1, key.encode() * 10)
    assert len(stored) >= len(acked)
