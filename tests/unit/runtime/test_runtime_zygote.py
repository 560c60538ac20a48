"""The zygote on its own: blank sandboxes forked ahead of demand and given a command, without
isolation (as when freehold is not root) and, where the host allows it, in namespaces with the
minimal root tree."""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from freehold.runtime import isolation
from freehold.runtime.launch import profile
from freehold.runtime.zygotes import Zygote


def _run(zygote: Zygote, request: dict[str, Any]) -> tuple[int, str]:
    """Spawn `request`; (its wait status, its output)."""
    read_fd, write_fd = os.pipe()
    ended = threading.Event()
    status: list[int] = []

    def exited(value: int) -> None:
        status.append(value)
        ended.set()

    try:
        zygote.spawn({"id": 0, **request}, write_fd, exited)
    finally:
        os.close(write_fd)
    assert ended.wait(20), "the sandbox did not end"
    output = b""
    while chunk := os.read(read_fd, 65536):
        output += chunk
    os.close(read_fd)
    return status[0], output.decode()


def _request(argv: list[str], cwd: str, **extra: Any) -> dict[str, Any]:
    return {"env": {"PATH": "/usr/bin:/bin", "MARK": "x1"}, "cwd": cwd, "argv": argv, "rlimits": {},
            "cgroup": None, **extra}


def test_blanks_run_commands_without_isolation(tmp_path: Path) -> None:
    plain = isolation.Isolation(True, True, False, False, False, "", "", "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    try:
        for round_ in range(3):  # more than the blanks kept: new ones are forked as they go
            status, output = _run(zygote, _request(["/bin/sh", "-c", f"echo $MARK {round_}; pwd; exit 3"],
                                                   str(tmp_path)))
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3
            assert output.split() == ["x1", str(round_), str(tmp_path)]
        # Nothing of the zygote's stays open in a sandbox: only 0, 1, 2 (and the listing's own).
        status, output = _run(zygote, _request(["/bin/sh", "-c", "ls /proc/self/fd"], str(tmp_path)))
        assert set(output.split()) <= {"0", "1", "2", "3"}, output
    finally:
        zygote.close()


@pytest.mark.skipif(not isolation.detect().mount_namespace, reason="needs root and namespaces")
def test_blank_in_namespaces_sees_only_its_tree(tmp_path: Path) -> None:
    rungs = isolation.detect()
    rungs = isolation.Isolation(rungs.process, rungs.rlimits, rungs.uid_per_function, True, True, "", "", rungs.holder)
    code = tmp_path / "code"
    code.mkdir()
    (code / "hello.txt").write_text("hi")
    code.chmod(0o755)
    zygote = Zygote(sys.executable, "", profile(rungs, sys.executable, ""))
    try:
        request = _request(["/bin/sh", "-c", "cat /var/task/hello.txt; echo; id -u; ls /proc | grep -c '^[0-9]'; "
                            f"ls {tmp_path} 2>&1; touch /var/task/x 2>&1; grep -c . /etc/passwd"],
                           "/var/task", uid=300999, gid=300999, filesystem={"binds": [[str(code), "/var/task"]],
                                                                           "tmp_mb": 16})
        status, output = _run(zygote, request)
        lines = output.splitlines()
        assert os.WIFEXITED(status), output
        assert lines[0] == "hi" and lines[1] == "300999"
        assert int(lines[2]) <= 3  # its own pid namespace: sh, ls, grep at most
        assert "No such file" in lines[3]  # the host's tree is not there
        assert "Read-only" in lines[4]
        assert lines[5] == "2"  # root and the sandbox's user
    finally:
        zygote.close()


def _memory_holds(pid: int, needle: bytes) -> bool:
    """Whether any readable region of process `pid` holds `needle` (bounded reads)."""
    chunk, found = 1 << 22, False
    with open(f"/proc/{pid}/maps") as maps:
        regions = maps.read().splitlines()
    fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY)
    try:
        for line in regions:
            fields = line.split()
            if not fields[1].startswith("r") or (len(fields) > 5 and fields[5] in ("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            address = start
            while address < min(end, start + (512 << 20)):
                try:
                    data = os.pread(fd, min(chunk, end - address), address)
                except OSError:
                    break  # unreadable (a guard page, a mapping past its file's end)
                if not data:
                    break
                found = found or needle in data
                address += max(len(data) - len(needle), 1)
                if address + len(needle) >= end:
                    break
    finally:
        os.close(fd)
    return found


def _children(pid: int) -> list[int]:
    children = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # ended meanwhile
            if parent == pid:
                children.append(int(entry))
    return children


def test_zygote_and_later_blanks_never_hold_a_functions_part(tmp_path: Path) -> None:
    """The function's part goes straight to its blank: neither the zygote nor any blank it
    forks afterwards holds a byte of an earlier function's environment."""
    plain = isolation.Isolation(True, True, False, False, False, "", "", "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    secret = "FHCANARY" + os.urandom(16).hex()
    try:
        request = _request(["/bin/sh", "-c", 'test "$SECRET" = "$EXPECTED"'], str(tmp_path))
        request["env"].update(SECRET=secret, EXPECTED=secret)
        status, _ = _run(zygote, request)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0  # the blank got its part
        # The blank forked in its place (a moment later), then everything still there.
        deadline = time.monotonic() + 10
        while len(_children(zygote.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            pids = [zygote.process.pid, *_children(zygote.process.pid)]
            leaks = [pid for pid in pids if _memory_holds(pid, secret.encode())]
        except PermissionError:
            pytest.skip("cannot read the zygote's memory here (ptrace restrictions)")
        assert len(pids) >= 2 and not leaks, (pids, leaks)
    finally:
        zygote.close()
