"""The isolation ladder: which rungs this host allows, found once and reported by
/_freehold/health.

Always: a separate process per sandbox, a clean environment, rlimits, its own working
directory. As root: an unprivileged uid per sandbox (its Runtime API serves only that uid's
sockets, so not even another sandbox of the same function gets in) with a gid per function
(its code is root-owned, readable by that group only), mount and pid namespaces with a
pivot_root into a minimal tree (runtime/sandbox_root.py: system directories read-only, code
read-only at /var/task, a private /tmp of the ephemeral size, private /dev/shm and /run; the
host's /work, /home, /root, freehold's data directory and other functions' code are simply not
there), and a memory cgroup (v1 `memory` controller) for MemorySize where writable.
"""

from __future__ import annotations

import collections
import fcntl
import hashlib
import os
import subprocess
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
UID_BASE = 200000  # function gids (and the owners of their code trees)
UID_SPAN = 50000
SANDBOX_UID_BASE = 300000  # sandbox uids, one per live sandbox
SANDBOX_UID_SPAN = 50000


@dataclass(frozen=True)
class Isolation:
    process: bool
    rlimits: bool
    uid_per_function: bool
    mount_namespace: bool
    pid_namespace: bool
    memory_cgroup: str  # "v1", "v2" or "" (none writable)
    cgroup_parent: str  # where sandbox cgroups are made ('' if none)
    holder: str  # a directory whose mount point is free for staging bind mounts

    def report(self) -> dict[str, object]:
        rungs = asdict(self)
        rungs.pop("holder")
        rungs.pop("cgroup_parent")
        # The Runtime API of a sandbox admits only its own uid's sockets (found in
        # /proc/net/tcp), which needs a uid per function.
        rungs["runtime_api_peer_check"] = self.uid_per_function
        rungs["uid_per_sandbox"] = self.uid_per_function
        rungs["pivot_root"] = self.mount_namespace
        rungs["limitations"] = self.limitations()
        return rungs

    def limitations(self) -> list[str]:
        """What a function can do to others on this host, said plainly."""
        notes: list[str] = []
        if not self.uid_per_function:
            notes.append("Sandboxes run as freehold's own uid: every function can reach every other sandbox's "
                         "Runtime API on loopback (take or answer its invocations) and signal its processes.")
        if not self.mount_namespace:
            notes.append("No mount namespace: functions see and share the host's filesystem, /tmp, /dev/shm and "
                         "/run/lock, and may write wherever freehold's uid may.")
        notes.append("freehold's gateway is reachable from functions on loopback, by design (their SDK calls go "
                     "there).")
        return notes


def function_owner(account_id: str, region: str, name: str) -> tuple[int, int]:
    """A stable unprivileged uid/gid per function (no /etc/passwd entry is needed): its gid
    owns the function's code trees; each sandbox runs as a uid of its own with this gid."""
    digest = hashlib.sha256(f"{account_id}:{region}:{name}".encode()).digest()
    uid = UID_BASE + int.from_bytes(digest[:4], "big") % UID_SPAN
    return uid, uid


UID_BLOCKS = 16  # nodes on one host that get sandbox uids of their own
LOCK_DIR = "/run/freehold"
_held_locks: list[int] = []  # lock files kept open (so locked) for the life of the process


def claim_uid_block(directory: str = LOCK_DIR) -> tuple[int, int]:
    """(base, span) of sandbox uids no other freehold node on this host uses: the block whose
    lock file this process could lock (the kernel drops the lock when the process ends, even
    killed). Without it two nodes would give their sandboxes the same uids, and each node's
    Runtime API check (by uid) could not tell them apart."""
    span = SANDBOX_UID_SPAN // UID_BLOCKS
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
    except OSError:
        return SANDBOX_UID_BASE, SANDBOX_UID_SPAN
    for block in range(UID_BLOCKS):
        try:
            fd = os.open(os.path.join(directory, f"sandbox-uids-{block}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        _held_locks.append(fd)
        return SANDBOX_UID_BASE + block * span, span
    return SANDBOX_UID_BASE, SANDBOX_UID_SPAN  # every block taken: shared, as before


class SandboxUids:
    """Unprivileged uids handed to sandboxes, one per live sandbox, reused once it ended."""

    def __init__(self, base: int = SANDBOX_UID_BASE, span: int = SANDBOX_UID_SPAN) -> None:
        # Oldest-freed first: a uid comes back as late as possible.
        self._free = collections.deque(range(base, base + span))
        self._taken: set[int] = set()

    def take(self) -> int:
        if not self._free:
            raise RuntimeError("no free sandbox uid")
        uid = self._free.popleft()
        self._taken.add(uid)
        return uid

    def give_back(self, uid: int) -> None:
        if uid in self._taken:
            self._taken.discard(uid)
            self._free.append(uid)


def _namespaces_work() -> bool:
    try:
        result = subprocess.run(
            ["unshare", "--mount", "--pid", "--fork", "true"], capture_output=True, timeout=5, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _own_cgroup_v1(controller: str) -> Path | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return CGROUP_ROOT / controller / path.lstrip("/")
    return None


def _writable_cgroup() -> tuple[str, str]:
    v1 = _own_cgroup_v1("memory")
    if v1 is not None and (v1 / "memory.limit_in_bytes").exists():
        # The executor makes this directory when it starts, and removes it when it stops.
        if os.access(v1, os.W_OK):
            return "v1", str(v1 / f"freehold-{os.getpid()}")
    unified = CGROUP_ROOT / "cgroup.controllers"
    if unified.exists() and "memory" in unified.read_text().split():
        # cgroup v2 needs delegation of the memory controller to our subtree; not attempted
        # here (this host family uses v1), so no memory rung.
        return "", ""
    return "", ""


@lru_cache(maxsize=1)
def detect() -> Isolation:
    root = os.geteuid() == 0
    namespaces = root and _namespaces_work()
    cgroup, parent = _writable_cgroup() if root else ("", "")
    holder = next((d for d in ("/mnt", "/media", "/srv") if os.path.isdir(d)), "")
    return Isolation(
        process=True, rlimits=True, uid_per_function=root and namespaces,
        mount_namespace=namespaces and bool(holder), pid_namespace=namespaces,
        memory_cgroup=cgroup, cgroup_parent=parent, holder=holder,
    )
