"""Spawning one peer on a free loopback port, timing it until it answers, and stopping it cleanly.

Each server runs in its own session (process group) so that stopping it reaches every process
it started and nothing else; its output goes to a log file under bench/.work/logs/.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from bench.peers import REPO, WORK, Peer
from bench.probe import signed_get_caller_identity, wait_until_ready
from bench.procfs import process_tree

HOST = "127.0.0.1"
LOGS = WORK / "logs"


class ServerFailed(Exception):
    """The server did not come up; the message says why and where its log is."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningServer:
    peer: str
    process: subprocess.Popen[bytes]
    port: int
    scratch: Path
    log_path: Path
    startup_seconds: float

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the server's process group, SIGKILL whatever is left after `grace` seconds."""
        stragglers = process_tree(self.pid) if self.alive() else []
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.process.wait(timeout=grace)
        # A child that left the group (its own setsid) is still ours: end it by pid.
        for pid in stragglers:
            if pid != self.pid and Path(f"/proc/{pid}").exists():
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        shutil.rmtree(self.scratch, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _log_tail(path: Path, lines: int = 6) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def start(peer: Peer, timeout: float = 60.0, label: str = "") -> RunningServer:
    """Start `peer` and return once it has answered STS GetCallerIdentity with a 200.

    startup_seconds is measured from just before the spawn to the first successful answer;
    the signed request is built before the clock starts.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    port = free_port()
    scratch = Path(tempfile.mkdtemp(prefix=f"bench-{peer.name}-"))
    spec = peer.launch(port, scratch)
    request = signed_get_caller_identity(HOST, port)
    log_path = LOGS / f"{peer.name}{'-' + label if label else ''}.log"
    with log_path.open("wb") as log:
        began = time.perf_counter()
        process = subprocess.Popen(
            spec.argv,
            env=spec.env,
            cwd=scratch,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = RunningServer(peer.name, process, port, scratch, log_path, startup_seconds=0.0)
    readiness = wait_until_ready(request, deadline=began + timeout, alive=server.alive)
    if readiness.ready_at is None:
        exit_code = process.poll()
        server.stop()
        if exit_code is not None:
            state = f"exited with code {exit_code}"
        elif readiness.last_answer is not None:
            answer = readiness.last_answer
            snippet = answer.body[:160].decode(errors="replace")
            state = f"kept answering GetCallerIdentity with HTTP {answer.status}: {snippet}"
        else:
            state = f"no answer within {timeout:.0f} s"
        shown = log_path.relative_to(REPO) if log_path.is_relative_to(REPO) else log_path
        raise ServerFailed(f"{peer.name} {state}; end of {shown}:\n{_log_tail(log_path)}")
    server.startup_seconds = readiness.ready_at - began
    return server
