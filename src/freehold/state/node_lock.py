"""One node per SQLite state: a node serving <data_dir>/state.db holds an exclusive lock on
<data_dir>/node.lock for as long as it runs (the kernel drops it when the process ends, kill -9
included). A second node started on the same directory, or `freehold reset --data-dir` while a
node runs, is refused: SQLite has no way to tell another process's node what changed, and the
node caches what only it writes (cluster mode, N nodes on one state, is PostgreSQL).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from freehold.state.database import StateError

LOCK_NAME = "node.lock"


def claim(data_dir: Path) -> int:
    """Take the directory's node lock; the descriptor holds it (see `release`)."""
    path = data_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateError(
            f"another freehold node is serving the state in {data_dir} (its lock {path} is held); "
            "stop it first, or give this node another --data-dir (or --state for a cluster on PostgreSQL)"
        ) from None
    return fd


def release(fd: int) -> None:
    os.close(fd)  # closing the descriptor drops the lock

