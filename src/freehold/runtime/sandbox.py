"""One sandbox: a function process forked by a zygote, its Runtime API endpoint, its output,
and the life of the invocations it runs (one at a time, as on AWS).

All methods run on the runtime event loop (see executor.py) except where noted.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import signal
import time
import uuid
from datetime import UTC, datetime
from collections.abc import Callable
from typing import TYPE_CHECKING

from freehold.runtime import api_server
from freehold.runtime.api_server import ACCEPTED, MAX_RESPONSE, MAX_STREAMED_RESPONSE, TOO_LARGE, ApiResponse, json_response
from freehold.runtime.seam import FunctionSpec, Invocation, InvocationResult

if TYPE_CHECKING:
    from freehold.runtime.cgroups import MemoryCgroup
    from freehold.runtime.response_stream import ResponseStream

INIT_TIMEOUT = 10.0  # Lambda's limit on the init phase of on-demand functions
OUTPUT_LIMIT = 1024 * 1024  # function output kept per invocation (the rest is dropped)


def lambda_clock(moment: float | None = None) -> str:
    value = datetime.fromtimestamp(moment if moment is not None else time.time(), UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def error_payload(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class Sandbox:
    """A sandbox of one function version. `ready` resolves once its runtime asked for work
    (or failed to start); `invoke` runs one invocation."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.spec = spec
        self.id = uuid.uuid4().hex
        self.created = time.time()
        self.stream = f"{datetime.now(UTC):%Y/%m/%d}/[{spec.version}]{self.id}"
        self.pid: int | None = None
        self.cgroup: MemoryCgroup | None = None
        self.server: asyncio.base_events.Server | None = None
        self.port = 0
        self.output = bytearray()
        self.output_fd: int | None = None
        self.last_used = time.monotonic()
        self.invocations = 0
        self.init_started = time.perf_counter()
        self.init_duration_ms: float | None = None
        self.init_failure: tuple[str, bytes] | None = None
        self.exit_status: int | None = None
        self.killed_by_us = False
        self.warnings: list[str] = []
        self.on_close: list[Callable[[], None]] = []  # run once the process is gone
        self._loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[None] = self._loop.create_future()
        self.exited: asyncio.Future[int] = self._loop.create_future()
        self._next: asyncio.Future[ApiResponse] | None = None
        self._queued: Invocation | None = None
        self._current: Invocation | None = None
        self._result: asyncio.Future[tuple[str, bytes, str]] | None = None
        self.exited.add_done_callback(self._exited_during_invocation)

    # -- the Runtime API (RuntimeApiHandler) ------------------------------------------------
    def next_invocation(self) -> ApiResponse | asyncio.Future[ApiResponse]:
        if self.init_duration_ms is None:
            self.init_duration_ms = (time.perf_counter() - self.init_started) * 1000
        if not self.ready.done():
            self.ready.set_result(None)
        if self._queued is not None:
            invocation, self._queued = self._queued, None
            return self._deliver(invocation)
        # Answered by `invoke` (the future's callback writes the answer: no task in between).
        self._next = self._loop.create_future()
        return self._next

    def _deliver(self, invocation: Invocation) -> ApiResponse:
        """The answer to /next that hands the runtime `invocation`."""
        self._current = invocation
        deadline_ms = int((time.time() + self.spec.timeout_s) * 1000)
        headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": invocation.invoked_arn,
            "Lambda-Runtime-Trace-Id": invocation.trace_id,
        }
        if invocation.client_context:
            headers["Lambda-Runtime-Client-Context"] = invocation.client_context
        if invocation.cognito_identity:
            headers["Lambda-Runtime-Cognito-Identity"] = invocation.cognito_identity
        return ApiResponse(200, invocation.payload, headers)

    def _finish(self, request_id: str, outcome: tuple[str, bytes, str]) -> ApiResponse:
        if self._current is None or self._current.request_id != request_id:
            return json_response(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
        if self._result is not None and not self._result.done():
            self._result.set_result(outcome)
        self._current = None
        return ACCEPTED

    def invocation_response(self, request_id: str, body: bytes) -> ApiResponse:
        return self._finish(request_id, ("ok", body, ""))

    def invocation_error(self, request_id: str, body: bytes, error_type: str) -> ApiResponse:
        return self._finish(request_id, ("error", body, error_type))

    def stream_response(self, request_id: str, content_type: str) -> StreamedResponse | ApiResponse:
        """A streamed response begins: its chunks go on to the caller as they come when the
        invocation is streamed (InvokeWithResponseStream, a RESPONSE_STREAM URL); otherwise
        they are gathered and answered buffered, within the 6 MB limit (as AWS does)."""
        if self._current is None or self._current.request_id != request_id:
            return json_response(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
        sink = self._current.stream
        if sink is not None:
            sink.open(content_type)
        return StreamedResponse(self, request_id, sink)

    def init_error(self, body: bytes, error_type: str) -> ApiResponse:
        self.init_failure = (error_type, body)
        if not self.ready.done():
            self.ready.set_result(None)
        return ACCEPTED

    # -- process ---------------------------------------------------------------------------------
    async def listen(self, peer_uid: int | None = None) -> str:
        """Open the Runtime API; with `peer_uid`, only sockets of that uid are served."""
        self.server = await api_server.listen(self, "127.0.0.1", 0, peer_uid)
        self.port = self.server.sockets[0].getsockname()[1]
        return f"127.0.0.1:{self.port}"

    def attach_output(self, read_fd: int) -> None:
        os.set_blocking(read_fd, False)
        self.output_fd = read_fd
        self._loop.add_reader(read_fd, self.drain_output)

    def drain_output(self) -> None:
        fd = self.output_fd
        if fd is None:
            return
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._loop.remove_reader(fd)
                os.close(fd)
                self.output_fd = None
                return
            if len(self.output) < OUTPUT_LIMIT:
                self.output += chunk[: OUTPUT_LIMIT - len(self.output)]

    def take_output(self, drain: bool = True) -> str:
        if drain:
            self.drain_output()
        text = self.output.decode("utf-8", "replace")
        self.output.clear()
        return text

    def on_exit(self, status: int) -> None:
        """Called on the loop when the sandbox process ended."""
        self.exit_status = status
        self.drain_output()
        if not self.exited.done():
            self.exited.set_result(status)
        if not self.ready.done():
            self.ready.set_result(None)

    @property
    def alive(self) -> bool:
        return self.exit_status is None and not self.killed_by_us

    def kill(self) -> None:
        self.killed_by_us = True
        if self.pid is not None and self.exit_status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.cgroup is not None:
            self.cgroup.kill_all()

    async def close(self) -> None:
        self.kill()
        if self.pid is not None and not self.exited.done():
            try:
                await asyncio.wait_for(asyncio.shield(self.exited), 2.0)
            except TimeoutError:
                pass
        self.close_now()

    def close_now(self) -> None:
        """Release what the sandbox holds (killing it first if needed), without waiting."""
        self.kill()
        if self.server is not None:
            self.server.close()
        self.drain_output()
        if self.output_fd is not None:
            self._loop.remove_reader(self.output_fd)
            os.close(self.output_fd)
            self.output_fd = None
        if self.cgroup is not None:
            self.cgroup.remove()
        for callback in self.on_close:
            callback()
        self.on_close.clear()

    # -- one invocation ---------------------------------------------------------------------------
    def _exit_reason(self) -> tuple[str, str]:
        status = self.exit_status or 0
        if self.cgroup is not None and self.cgroup.oom_killed():
            return "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"
        if os.WIFSIGNALED(status):
            name = "killed" if os.WTERMSIG(status) == signal.SIGKILL else signal.Signals(os.WTERMSIG(status)).name.lower()
            return "Runtime.ExitError", f"Runtime exited with error: signal: {name}"
        return "Runtime.ExitError", f"Runtime exited with error: exit status {os.WEXITSTATUS(status)}"

    def max_memory_mb(self) -> int:
        if self.cgroup is not None:
            return self.cgroup.max_used_mb()
        try:  # read on every invocation: no text layer
            fd = os.open(f"/proc/{self.pid}/status", os.O_RDONLY)
            try:
                status = os.read(fd, 8192)
            finally:
                os.close(fd)
            start = status.index(b"VmHWM:") + 6
            return int(status[start:status.index(b"kB", start)]) // 1024
        except (OSError, ValueError):
            return 0

    async def invoke(self, invocation: Invocation) -> InvocationResult:
        cold = self.invocations == 0
        self.invocations += 1
        request_id = invocation.request_id
        init_log = ""
        if cold:
            try:
                await asyncio.wait_for(asyncio.shield(self.ready), INIT_TIMEOUT)
            except TimeoutError:
                self.kill()
                return self._report(invocation, "error", error_payload(
                    "Runtime.Unknown", f"RequestId: {request_id} Error: Init phase timed out after {INIT_TIMEOUT:.2f} seconds"),
                    "Runtime.Unknown", self.take_output(), "", 0.0, cold, "")
            init_log = "".join(line + "\n" for line in self.warnings) + self.take_output()
            if self.init_failure is not None or self.exit_status is not None:
                return self._failed_init(invocation, init_log)
        else:
            # Output between invocations is nobody's (the loop reads the pipe as it fills).
            self.output.clear()
        started = time.perf_counter()
        result = self._result = self._loop.create_future()
        if self.exited.done():
            _resolve(result, EXITED)
        waiting, self._next = self._next, None
        if waiting is not None and not waiting.done():
            waiting.set_result(self._deliver(invocation))
        else:
            self._queued = invocation
        # One future, resolved by the runtime's answer, by the process's exit (see
        # `_exited_during_invocation`) or by the timeout: no asyncio.wait machinery per call.
        timer = self._loop.call_later(self.spec.timeout_s, _resolve, result, TIMED_OUT)
        try:
            outcome = await result
        finally:
            timer.cancel()
            self._result = None
        duration = (time.perf_counter() - started) * 1000
        if outcome is not EXITED and outcome is not TIMED_OUT:
            status, body, error_type = outcome
            if status == "error":
                # The runtime's error document goes back as it is (errorType/errorMessage/stackTrace).
                error_type = error_type or _error_type_of(body)
            self.last_used = time.monotonic()
            # No read of the pipe here: the runtime wrote its output before posting the answer,
            # so the pipe was ready in the same poll as the answer's socket, and its reader ran
            # in that I/O phase, before this coroutine resumed (a future's callbacks run after).
            return self._report(invocation, "ok" if status == "ok" else "error", body, error_type,
                                init_log, self.take_output(drain=False), duration, cold, "")
        if outcome is EXITED:
            error_type, reason = self._exit_reason()
            message = f"RequestId: {request_id} Error: {reason}"
            extra = f"{message}\n{error_type}\n"
            return self._report(invocation, "error", error_payload(error_type, message), error_type,
                                init_log, self.take_output() + extra, duration, cold, "")
        # Timed out: the sandbox is killed, as Lambda does, and the next invocation starts fresh.
        self.kill()
        seconds = f"{self.spec.timeout_s:.2f}"
        line = f"{lambda_clock()} {request_id} Task timed out after {seconds} seconds\n"
        return self._report(invocation, "error", error_payload(
            "Sandbox.Timedout", f"RequestId: {request_id} Error: Task timed out after {seconds} seconds"),
            "Sandbox.Timedout", init_log, self.take_output() + line, duration, cold, "timeout")

    def _exited_during_invocation(self, exited: asyncio.Future[int]) -> None:
        if self._result is not None:
            # An answer the runtime posted just before exiting may still be unread on its
            # socket: one more poll first, so that an answer given wins over the exit.
            self._loop.call_later(EXIT_GRACE, _resolve, self._result, EXITED)

    def _failed_init(self, invocation: Invocation, init_log: str) -> InvocationResult:
        if self.init_failure is not None:
            error_type, body = self.init_failure
            error_type = error_type or _error_type_of(body)
        else:
            error_type, reason = self._exit_reason()
            body = error_payload(error_type, f"RequestId: {invocation.request_id} Error: {reason}")
            init_log += f"RequestId: {invocation.request_id} Error: {reason}\n{error_type}\n"
        self.kill()
        return self._report(invocation, "error", body, error_type or "Runtime.Unknown", init_log, "", 0.0, True, "")

    def _report(self, invocation: Invocation, status: str, payload: bytes, error_type: str, init_log: str,
                output: str, duration: float, cold: bool, outcome: str) -> InvocationResult:
        spec = self.spec
        memory = self.max_memory_mb()
        report = (f"REPORT RequestId: {invocation.request_id}\tDuration: {duration:.2f} ms\t"
                  f"Billed Duration: {max(1, math.ceil(duration))} ms\tMemory Size: {spec.memory_mb} MB\t"
                  f"Max Memory Used: {memory} MB\t")
        if cold and self.init_duration_ms is not None:
            report += f"Init Duration: {self.init_duration_ms:.2f} ms\t"
        if outcome:
            report += f"Status: {outcome}\t"
        # Init output comes before START, as in the function's log stream on AWS.
        log = (init_log + f"START RequestId: {invocation.request_id} Version: {spec.version}\n"
               + output + f"END RequestId: {invocation.request_id}\n" + report + "\n")
        return InvocationResult(
            status="ok" if status == "ok" else "error", payload=payload, log=log, stream=self.stream,
            duration_ms=duration, init_duration_ms=self.init_duration_ms if cold else None,
            max_memory_mb=memory, error_type=error_type,
        )


class StreamedResponse:
    """The chunks of one streamed response (api_server.StreamTarget), to the invocation's
    ResponseStream or gathered for a buffered answer."""

    def __init__(self, sandbox: Sandbox, request_id: str, sink: ResponseStream | None) -> None:
        self.sandbox = sandbox
        self.request_id = request_id
        self.sink = sink
        self.size = 0
        self.gathered = bytearray()

    def write(self, data: bytes, resume: Callable[[], None]) -> str:
        self.size += len(data)
        if self.size > (MAX_STREAMED_RESPONSE if self.sink is not None else MAX_RESPONSE):
            self.sandbox._finish(self.request_id, ("error", TOO_LARGE, "Function.ResponseSizeTooLarge"))
            return "too large"
        if self.sink is None:
            self.gathered += data
            return "ok"
        loop = self.sandbox._loop

        def resume_here() -> None:  # the reader calls it on its own loop: resumed on this one
            loop.call_soon_threadsafe(resume)

        return "ok" if self.sink.write(data, resume_here) else "pause"

    def finish(self, error_type: str, error_body: bytes) -> ApiResponse:
        if error_type:
            # An error met mid-stream (the runtime's trailers): what was streamed stays sent.
            body = error_body or error_payload(error_type, "")
            return self.sandbox._finish(self.request_id, ("error", body, error_type))
        return self.sandbox._finish(self.request_id, ("ok", bytes(self.gathered), ""))


# What an invocation's future holds when no answer came: the process ended, or time ran out.
EXITED: tuple[str, bytes, str] = ("exited", b"", "")
EXIT_GRACE = 0.005  # seconds an exit waits before it ends an invocation (see above)
TIMED_OUT: tuple[str, bytes, str] = ("timed out", b"", "")


def _resolve(future: asyncio.Future[tuple[str, bytes, str]], outcome: tuple[str, bytes, str]) -> None:
    if not future.done():
        future.set_result(outcome)


def _error_type_of(body: bytes) -> str:
    try:
        document = json.loads(body)
        return str(document.get("errorType") or "") if isinstance(document, dict) else ""
    except ValueError:
        return ""
