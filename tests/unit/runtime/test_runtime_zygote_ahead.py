"""Blanks handed ahead: the zygote gives freehold each blank's channel as soon as it forks it, so
that taking one is no round trip; freehold tells it which it took, and it forks the next."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from freehold.runtime import isolation
from freehold.runtime.launch import profile
from freehold.runtime.zygotes import BLANKS, Zygote


def _held(zygote: Zygote) -> list[int]:
    with zygote._lock:
        return [pid for pid, _, _ in zygote._held]


def _wait_for(condition: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.01)
    raise AssertionError(f"not within {timeout} s: {what}")


def _successor_of(zygote: Zygote, taken: int) -> Callable[[], bool]:
    return lambda: len(_held(zygote)) == BLANKS and taken not in _held(zygote)


def _spawn(zygote: Zygote, cwd: str, command: str) -> tuple[int, int, str]:
    """(the sandbox's pid, its wait status, its output)."""
    read_fd, write_fd = os.pipe()
    ended = threading.Event()
    status: list[int] = []

    def exited(value: int) -> None:
        status.append(value)
        ended.set()

    request = {"id": 0, "env": {"PATH": "/usr/bin:/bin"}, "cwd": cwd, "argv": ["/bin/sh", "-c", command],
               "rlimits": {}, "cgroup": None}
    try:
        pid, _ = zygote.spawn(request, write_fd, exited)
    finally:
        os.close(write_fd)
    assert ended.wait(20), "the sandbox did not end"
    output = b""
    while chunk := os.read(read_fd, 65536):
        output += chunk
    os.close(read_fd)
    return pid, status[0], output.decode()


def test_blanks_are_held_ahead_and_taken_without_asking(tmp_path: Path) -> None:
    plain = isolation.Isolation(True, True, False, False, False, "", "", "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    try:
        _wait_for(lambda: len(_held(zygote)) == BLANKS, "the zygote hands its blanks over")
        for round_ in range(3):
            ahead = _held(zygote)
            pid, status, output = _spawn(zygote, str(tmp_path), f"echo taken {round_}")
            assert pid == ahead[0]  # the oldest held blank, not one forked on demand
            assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
            assert output.split() == ["taken", str(round_)]
            # Told which was taken, the zygote forks and hands over its successor.
            _wait_for(_successor_of(zygote, pid), "a successor")
    finally:
        zygote.close()


def test_a_held_blank_that_dies_is_dropped_and_replaced(tmp_path: Path) -> None:
    plain = isolation.Isolation(True, True, False, False, False, "", "", "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    try:
        _wait_for(lambda: len(_held(zygote)) == BLANKS, "the zygote hands its blanks over")
        victim = _held(zygote)[0]
        os.kill(victim, signal.SIGKILL)
        _wait_for(lambda: victim not in _held(zygote), "the dead blank is dropped")
        with zygote._lock:
            assert victim not in zygote._early_exits  # nothing kept about it
        _wait_for(lambda: len(_held(zygote)) == BLANKS, "a replacement is handed over")
        pid, status, output = _spawn(zygote, str(tmp_path), "echo alive")
        assert pid != victim and output.strip() == "alive" and os.WIFEXITED(status)
    finally:
        zygote.close()


def test_takes_beyond_the_held_blanks_are_forked_on_demand(tmp_path: Path) -> None:
    """More sandboxes at once than blanks held: the rest come from takes the zygote answers."""
    plain = isolation.Isolation(True, True, False, False, False, "", "", "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    try:
        _wait_for(lambda: len(_held(zygote)) == BLANKS, "the zygote hands its blanks over")
        results: list[tuple[int, int, str]] = []
        lock = threading.Lock()

        def one(index: int) -> None:
            result = _spawn(zygote, str(tmp_path), f"sleep 0.3; echo {index}")
            with lock:
                results.append(result)

        threads = [threading.Thread(target=one, args=(index,)) for index in range(BLANKS + 2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(int(output) for _, _, output in results) == list(range(BLANKS + 2))
        assert len({pid for pid, _, _ in results}) == BLANKS + 2
    finally:
        zygote.close()


@pytest.mark.skipif(isolation.detect().memory_cgroup != "v1", reason="needs root and the v1 memory controller")
def test_closing_removes_the_held_blanks_cgroups() -> None:
    """Held blanks die with their zygote: once they have, their memory cgroups are removed."""
    rungs = isolation.detect()
    parent = Path(rungs.cgroup_parent)
    made = not parent.is_dir()
    parent.mkdir(parents=True, exist_ok=True)
    plain = isolation.Isolation(True, True, False, False, False, "v1", str(parent), "")
    zygote = Zygote(sys.executable, "", profile(plain, sys.executable, ""))
    try:
        _wait_for(lambda: len(_held(zygote)) == BLANKS, "the zygote hands its blanks over")
        with zygote._lock:
            cgroups = [cgroup for _, _, cgroup in zygote._held]
        assert all(cgroups) and all(os.path.isdir(cgroup) for cgroup in cgroups)
    finally:
        zygote.close()
    try:
        assert not [cgroup for cgroup in cgroups if os.path.isdir(cgroup)]
    finally:
        if made:
            parent.rmdir()
