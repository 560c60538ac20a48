"""Facts read straight from /proc: a process tree, its resident memory, and the machine itself.

No psutil: /proc/<pid>/stat gives the parent of every process and /proc/<pid>/status its
VmRSS, which is all the harness needs on Linux.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

PROC = Path("/proc")


def _parent_of(pid: int) -> int | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may itself hold spaces or ')':
    # everything after the last ')' is "state ppid ...".
    fields = stat[stat.rfind(")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 else None


def process_tree(root: int) -> list[int]:
    """The pid `root` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            parent = _parent_of(int(entry.name))
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    tree, pending = [], [root]
    while pending:
        pid = pending.pop()
        tree.append(pid)
        pending.extend(children.get(pid, []))
    return tree


def rss_kib(pid: int) -> int:
    """VmRSS of one process in KiB (0 for a process that is gone or a kernel thread)."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_bytes(root: int) -> int:
    """Resident memory summed over a process and all its descendants.

    Shared pages (the interpreter, shared libraries) are counted once per process, as
    `ps` and `top` do; for a one-process server that is exactly its RSS.
    """
    return sum(rss_kib(pid) for pid in process_tree(root)) * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time one process has used so far (0 for a process that is gone)."""
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return 0.0
    # After the ')' closing the command name: field 3 (state) is index 0, so utime (field 14)
    # and stime (field 15) are indexes 11 and 12, in clock ticks (proc(5)).
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """CPU time used so far by a process and its live descendants."""
    return sum(cpu_seconds(pid) for pid in process_tree(root))


def cpu_model() -> str:
    try:
        for line in (PROC / "cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_total_gib() -> float:
    try:
        for line in (PROC / "meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    except OSError:
        pass
    return 0.0


def machine_summary() -> dict[str, str]:
    """What a reader needs to compare these numbers with theirs."""
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "memory": f"{memory_total_gib():.1f} GiB",
        "kernel": platform.release(),
        "python": platform.python_version(),
        # Other work on the machine skews every number; say how busy it was when the run began.
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
