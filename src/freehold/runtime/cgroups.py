"""Memory cgroups (v1) for sandboxes: MemorySize enforced by the kernel, peak usage for the
REPORT line, and whether the kernel's OOM killer ended a sandbox."""

from __future__ import annotations

import os
import signal
from pathlib import Path


class MemoryCgroup:
    def __init__(self, parent: str, name: str, limit_mb: int | None) -> None:
        """The cgroup `name` under `parent`, made if missing; limited when `limit_mb` is given
        (the zygote limits those of its blank sandboxes itself: see runtime/zygote.py)."""
        self.path = Path(parent) / name
        self.path.mkdir(exist_ok=True)
        self._usage_file = str(self.path / "memory.max_usage_in_bytes")
        self._usage_fd: int | None = None
        if limit_mb is not None:
            set_limit(self.path, limit_mb)

    @classmethod
    def adopt(cls, path: str) -> MemoryCgroup:
        return cls(str(Path(path).parent), Path(path).name, None)

    def max_used_mb(self) -> int:
        # Read on every invocation (the REPORT line): one pread of a descriptor kept open.
        try:
            if self._usage_fd is None:
                self._usage_fd = os.open(self._usage_file, os.O_RDONLY | os.O_CLOEXEC)
            return int(os.pread(self._usage_fd, 64, 0)) // (1024 * 1024)
        except (OSError, ValueError):
            return 0

    def oom_killed(self) -> bool:
        try:
            for line in (self.path / "memory.oom_control").read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and int(value) > 0:
                    return True
            return False
        except (OSError, ValueError):
            return False

    def kill_all(self) -> None:
        try:
            pids = (self.path / "cgroup.procs").read_text().split()
        except OSError:
            return
        for pid in pids:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError, PermissionError):
                pass

    def remove(self) -> None:
        if self._usage_fd is not None:
            os.close(self._usage_fd)
            self._usage_fd = None
        try:
            os.rmdir(self.path)
        except OSError:
            pass


def set_limit(path: str | os.PathLike[str], limit_mb: int) -> None:
    """A memory cgroup's limit: MemorySize, swap included where the kernel accounts it
    (otherwise swap would let a sandbox run past its limit). Also used by the zygote, which
    imports this module by itself (stdlib only)."""
    limit = str(limit_mb * 1024 * 1024)
    with open(os.path.join(path, "memory.limit_in_bytes"), "w") as file:
        file.write(limit)
    try:
        with open(os.path.join(path, "memory.memsw.limit_in_bytes"), "w") as file:
            file.write(limit)
    except OSError:
        pass


def remove_tree(parent: str) -> None:
    """Remove the node's cgroup parent (and any sandbox cgroups left in it) at shutdown."""
    root = Path(parent)
    if not root.is_dir():
        return
    for child in root.iterdir():
        if child.is_dir():
            try:
                os.rmdir(child)
            except OSError:
                pass
    try:
        os.rmdir(root)
    except OSError:
        pass


def remove_stale(parent: str) -> None:
    """Remove the cgroup parents left by freehold processes that died without cleaning up
    (kill -9): siblings named freehold-<pid> whose process is gone."""
    own = Path(parent)
    for sibling in own.parent.glob("freehold-*"):
        pid = sibling.name.removeprefix("freehold-")
        if sibling == own or not pid.isdigit() or Path(f"/proc/{pid}").exists():
            continue
        remove_tree(str(sibling))
