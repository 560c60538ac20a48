"""Talking to zygotes (runtime/zygote.py): one per Python interpreter, started on first use,
asked over a Unix socket for blank sandboxes, and telling us when a sandbox process exits.

A blank comes with its own channel (SCM_RIGHTS); its function's part (environment,
credentials, uid, binds, output pipe) is sent over that channel from here, never through the
zygote: the zygote forks every later blank from its own memory, which must hold nothing of any
function. The zygote hands its blanks over as soon as it forks them, so that taking one is no
round trip to it: we give the blank's memory cgroup its limit ourselves, tell the zygote which
we took (it forks the next), and send the function's part."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import json
import logging
import os
import socket
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from freehold.runtime import cgroups

log = logging.getLogger("freehold.runtime")

ZYGOTE_SCRIPT = Path(__file__).with_name("zygote.py")
PYTHON_CLIENT_DIR = Path(__file__).parent / "runtimes" / "python"
SPAWN_TIMEOUT = 10.0
TAKE_TRIES = 3  # blanks asked for before a spawn fails (one may die before it is given its part)
CLOSE_GRACE = 1.0  # seconds a closing zygote's held blanks get to die before their cgroups go
# Blank sandboxes each zygote keeps forked ahead of demand (~10 MB private each). A blank needs
# ~30 ms of CPU at niceness 10 to get ready: 4 keep every one ready when cold starts come
# every ~60 ms on a busy 2-core machine (2 left a third to half of them still getting ready).
BLANKS = 4

ExitCallback = Callable[[int], None]


class ZygoteError(Exception):
    pass


class Zygote:
    """One zygote process and its control socket."""

    def __init__(self, interpreter: str, sdk_dir: str, profile: dict[str, Any] | None = None) -> None:
        self.interpreter = interpreter
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.socket = ours
        args = [interpreter, "-I", str(ZYGOTE_SCRIPT), str(PYTHON_CLIENT_DIR), sdk_dir, str(theirs.fileno())]
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=None,
            pass_fds=(theirs.fileno(),), close_fds=True, start_new_session=True,
        )
        theirs.close()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()  # spawn requests come from several threads
        self._waiting: dict[int, Callable[[dict[str, Any]], None]] = {}
        self._exits: dict[int, ExitCallback] = {}
        self._early_exits: dict[int, int] = {}
        self._held: deque[tuple[int, int, str]] = deque()  # blanks handed ahead: (pid, channel, cgroup)
        self._lines = _Lines(self.socket)
        ready = self._lines.next()
        if ready is None:
            raise ZygoteError(f"the zygote of {interpreter} did not start")
        self.version = tuple(ready[0]["version"])
        if profile is not None:
            self.socket.sendall((json.dumps({"profile": profile, "blanks": BLANKS}) + "\n").encode())
        self._reader = threading.Thread(target=self._read, name="freehold-zygote", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        try:
            self._read_messages()
        except (OSError, ValueError):
            pass  # the zygote is gone (reset): as at its end of file
        self._gone()

    def _read_messages(self) -> None:
        while (received := self._lines.next()) is not None:
            message, channel = received
            if "blank" in message:
                if channel is not None:
                    with self._lock:
                        self._held.append((int(message["blank"]), channel, str(message.get("cgroup") or "")))
                continue
            if "exited" in message:
                pid, status = int(message["exited"]), int(message["status"])
                with self._lock:
                    held = next((blank for blank in self._held if blank[0] == pid), None)
                    if held is not None:  # a blank we held died untaken
                        self._held.remove(held)
                        callback = None
                    else:
                        callback = self._exits.pop(pid, None)
                        if callback is None:
                            self._early_exits[pid] = status
                if held is not None:
                    os.close(held[1])
                    _remove_cgroup(held[2])
                if callback is not None:
                    _notify(callback, status)
                continue
            request_id = int(message.get("spawned") or message.get("failed") or 0)
            with self._lock:
                waiting = self._waiting.pop(request_id, None)
            if waiting is None:
                if channel is not None:
                    os.close(channel)  # nobody waits (timed out): the blank ends
                continue
            if channel is not None:
                message["channel"] = channel
            waiting(message)

    def _gone(self) -> None:
        # The zygote is gone: every sandbox it forked died with it (PDEATHSIG).
        with self._lock:
            callbacks = list(self._exits.items())
            self._exits.clear()
            waiters = list(self._waiting.values())
            self._waiting.clear()
            held, self._held = list(self._held), deque()
        for _, channel, _ in held:
            os.close(channel)
        for _, callback in callbacks:
            _notify(callback, 9)
        for answered in waiters:
            answered({"failed": True, "error": "zygote exited"})

    def alive(self) -> bool:
        return self.process.poll() is None

    def spawn(self, spec: dict[str, Any], out_fd: int, on_exit: ExitCallback) -> tuple[int, str]:
        """Start a sandbox; its output goes to `out_fd`; `on_exit(waitstatus)` when it ends.
        Returns its pid and its memory cgroup ('' if none). Blocks (call from a thread)."""
        for _ in range(TAKE_TRIES):
            held = self._take_held(spec)
            if held is not None:
                if self._assign(held, spec, out_fd):
                    return self._adopt(held, on_exit)
                continue
            event = threading.Event()
            reply: dict[str, Any] = {}

            def answered(message: dict[str, Any], reply: dict[str, Any] = reply,
                         event: threading.Event = event) -> None:
                reply.update(message)
                event.set()

            request_id = self._take(spec, answered)
            if not event.wait(SPAWN_TIMEOUT):
                with self._lock:
                    unanswered = self._waiting.pop(request_id, None) is not None
                if not unanswered and event.wait(1.0) and "channel" in reply:
                    os.close(reply["channel"])  # answered just now: that blank ends
                raise ZygoteError("the zygote did not answer")
            if self._assign(reply, spec, out_fd):
                return self._adopt(reply, on_exit)
        raise ZygoteError("blank sandboxes died before they were given their function")

    async def spawn_async(self, spec: dict[str, Any], out_fd: int, on_exit: ExitCallback) -> tuple[int, str]:
        """`spawn` from an event loop: the take is written at once, the answer awaited."""
        loop = asyncio.get_running_loop()
        for _ in range(TAKE_TRIES):
            held = self._take_held(spec)
            if held is not None:
                if self._assign(held, spec, out_fd):
                    return self._adopt(held, on_exit)
                continue
            answer: asyncio.Future[dict[str, Any]] = loop.create_future()

            def answered(message: dict[str, Any], answer: asyncio.Future[dict[str, Any]] = answer) -> None:
                def resolve() -> None:
                    if not answer.done():
                        answer.set_result(message)
                    elif "channel" in message:
                        os.close(message["channel"])

                try:
                    loop.call_soon_threadsafe(resolve)
                except RuntimeError:  # the loop closed: nobody takes that blank
                    if "channel" in message:
                        os.close(message["channel"])

            self._take(spec, answered)
            try:
                reply = await asyncio.wait_for(answer, SPAWN_TIMEOUT)
            except TimeoutError:
                raise ZygoteError("the zygote did not answer") from None
            if self._assign(reply, spec, out_fd):
                return self._adopt(reply, on_exit)
        raise ZygoteError("blank sandboxes died before they were given their function")

    def _take_held(self, spec: dict[str, Any]) -> dict[str, Any] | None:
        """The oldest blank handed to us ahead, given its function's memory limit, as the
        zygote's answer to a take would be; None when we hold none."""
        while True:
            with self._lock:
                if not self._held:
                    return None
                pid, channel, cgroup = self._held.popleft()
            try:
                # Told first: its exit notice then always finds the zygote knowing it is ours.
                with self._send_lock:
                    self.socket.sendall((json.dumps({"took": pid}) + "\n").encode())
            except OSError as error:
                os.close(channel)
                raise ZygoteError(f"zygote unreachable: {error}") from None
            try:
                if cgroup and spec.get("memory_mb"):
                    cgroups.set_limit(cgroup, int(spec["memory_mb"]))
            except OSError:
                log.warning("could not limit the memory of cgroup %s", cgroup, exc_info=True)
                os.close(channel)  # that blank ends; the next one is tried
                self._forget(pid, cgroup)
                continue
            return {"pid": pid, "channel": channel, "cgroup": cgroup}

    def _forget(self, pid: int, cgroup: str) -> None:
        """A blank given up on: its exit notice is nobody's, its cgroup goes when it ends."""

        def ended(status: int) -> None:
            _remove_cgroup(cgroup)

        with self._lock:
            if self._early_exits.pop(pid, None) is None:
                self._exits[pid] = ended
                return
        ended(0)

    def _take(self, spec: dict[str, Any], answered: Callable[[dict[str, Any]], None]) -> int:
        """Ask for a blank (only an id and the memory size go to the zygote); the take's id."""
        request_id = next(self._ids)
        with self._lock:
            self._waiting[request_id] = answered
        take = {"take": request_id, "id": request_id, "memory_mb": spec.get("memory_mb")}
        try:
            with self._send_lock:
                self.socket.sendall((json.dumps(take) + "\n").encode())
        except OSError as error:
            with self._lock:
                self._waiting.pop(request_id, None)
            raise ZygoteError(f"zygote unreachable: {error}") from None
        return request_id

    def _assign(self, reply: dict[str, Any], spec: dict[str, Any], out_fd: int) -> bool:
        """Give the blank of `reply` its function's part over its own channel (with the output
        pipe, and the cgroup.procs of `spec["cgroup"]` if any). False if the blank is gone."""
        if "pid" not in reply or "channel" not in reply:
            raise ZygoteError(f"the zygote could not fork: {reply.get('error')}")
        channel = socket.socket(fileno=reply.pop("channel"))
        cgroup_fd: int | None = None
        if spec.get("cgroup"):
            try:
                cgroup_fd = os.open(os.path.join(spec["cgroup"], "cgroup.procs"), os.O_WRONLY)
            except OSError as error:
                channel.close()
                raise ZygoteError(f"cannot join the sandbox's cgroup: {error}") from None
        try:
            fds = [out_fd] + ([cgroup_fd] if cgroup_fd is not None else [])
            socket.send_fds(channel, [json.dumps(spec).encode()], fds)
            return True
        except OSError:
            # That blank died before it got its function: its exit notice is nobody's.
            self._forget(int(reply["pid"]), str(reply.get("cgroup") or ""))
            return False
        finally:
            channel.close()
            if cgroup_fd is not None:
                os.close(cgroup_fd)

    def _adopt(self, reply: dict[str, Any], on_exit: ExitCallback) -> tuple[int, str]:
        pid = int(reply["pid"])
        with self._lock:
            status = self._early_exits.pop(pid, None)
            if status is None:
                self._exits[pid] = on_exit
        if status is not None:
            on_exit(status)
        return pid, str(reply.get("cgroup") or "")

    def close(self) -> None:
        with self._lock:
            held, self._held = list(self._held), deque()
        for _, channel, _ in held:
            os.close(channel)
        try:
            self.socket.close()
        except OSError:
            pass
        if self.process.poll() is None:
            self.process.kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        # The blanks we held die with the zygote (PDEATHSIG), a moment after it: their cgroups
        # go once they have (bounded: what is left is removed as stale at the next start).
        cgroups = [cgroup for _, _, cgroup in held if cgroup]
        deadline = time.monotonic() + CLOSE_GRACE
        while cgroups and time.monotonic() < deadline:
            for cgroup in list(cgroups):
                try:
                    os.rmdir(cgroup)
                except FileNotFoundError:
                    pass
                except OSError:
                    continue  # still has its process
                cgroups.remove(cgroup)
            if cgroups:
                time.sleep(0.01)


class _Lines:
    """JSON lines from a zygote, each `spawned` one with the blank's channel it carried
    (file descriptors arrive in order with the first byte of their line)."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self.buffer = b""
        self.fds: deque[int] = deque()

    def next(self) -> tuple[dict[str, Any], int | None] | None:
        """The next message and its channel, None at the end."""
        while b"\n" not in self.buffer:
            data, fds, _, _ = socket.recv_fds(self.socket, 65536, 4)
            self.fds.extend(fds)
            if not data:
                return None
            self.buffer += data
        line, self.buffer = self.buffer.split(b"\n", 1)
        message = json.loads(line)
        channel = self.fds.popleft() if ("spawned" in message or "blank" in message) and self.fds else None
        return message, channel


def _remove_cgroup(cgroup: str) -> None:
    if cgroup:
        try:
            os.rmdir(cgroup)
        except OSError:
            pass


def _notify(callback: ExitCallback, status: int) -> None:
    try:
        callback(status)
    except Exception:  # a closed loop: nobody waits for that sandbox any more
        log.debug("exit notice not delivered", exc_info=True)


class Zygotes:
    """The zygotes of one node, by interpreter path."""

    def __init__(self, sdk_dir: str, profile_for: Callable[[str], dict[str, Any]] | None = None) -> None:
        self.sdk_dir = sdk_dir
        self.profile_for = profile_for
        # Zygotes die with the *thread* that started them (PR_SET_PDEATHSIG is per thread): all
        # are started from this one, which lives as long as they do.
        self._starter = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="freehold-zygote-start")
        self._zygotes: dict[str, Zygote] = {}
        self._lock = threading.Lock()

    def running(self, interpreter: str) -> Zygote | None:
        """The zygote of `interpreter` if it runs (never starts one: that blocks)."""
        zygote = self._zygotes.get(interpreter)
        return zygote if zygote is not None and zygote.alive() else None

    def get(self, interpreter: str) -> Zygote:
        with self._lock:
            zygote = self._zygotes.get(interpreter)
            if zygote is None or not zygote.alive():
                profile = self.profile_for(interpreter) if self.profile_for is not None else None
                zygote = self._starter.submit(Zygote, interpreter, self.sdk_dir, profile).result()
                self._zygotes[interpreter] = zygote
            return zygote

    def close(self) -> None:
        with self._lock:
            zygotes = list(self._zygotes.values())
            self._zygotes.clear()
        for zygote in zygotes:
            zygote.close()
        self._starter.shutdown(wait=False)
