"""Shipping function logs to CloudWatch Logs (/aws/lambda/<name>, one stream per sandbox),
through the Logs API in process, off the request path.

Each line of an invocation's log text is one log event, as Lambda sends them. Lines a
function prints with embedded carriage returns (tracebacks) stay one event.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params

log = logging.getLogger("freehold.lambda")

Call = Callable[[str, RequestContext, str, Params], Params]


@dataclass(frozen=True)
class LogBatch:
    account_id: str
    region: str
    group: str
    stream: str
    text: str
    timestamp_ms: int


def service_context(account_id: str, region: str) -> RequestContext:
    """The context of a call Lambda makes on its own behalf: lambda.amazonaws.com acts."""
    return RequestContext.for_service("lambda.amazonaws.com", account_id, region)


def log_events(text: str, timestamp_ms: int) -> list[dict[str, object]]:
    return [{"timestamp": timestamp_ms, "message": line} for line in text.split("\n") if line]


class LogShipper:
    """A bounded queue drained by one thread; gives up quietly while Logs is not available."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self._queue: queue.Queue[LogBatch | None] = queue.Queue(maxsize=10000)
        self._known: set[tuple[str, str, str, str]] = set()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ship(self, batch: LogBatch) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="freehold-lambda-logs", daemon=True)
                self._thread.start()
        try:
            self._queue.put_nowait(batch)
        except queue.Full:
            log.warning("function logs dropped: the log queue is full")

    def flush(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def forget(self) -> None:
        self._known.clear()

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            try:
                if batch is None:
                    return
                self._put(batch)
            except ServiceError as error:
                log.debug("function logs not shipped: %s", error)
            except Exception:
                log.exception("function logs not shipped")
            finally:
                self._queue.task_done()

    def _put(self, batch: LogBatch) -> None:
        ctx = service_context(batch.account_id, batch.region)
        key = (batch.account_id, batch.region, batch.group, batch.stream)
        if key not in self._known:
            for operation, params in (
                ("CreateLogGroup", {"logGroupName": batch.group}),
                ("CreateLogStream", {"logGroupName": batch.group, "logStreamName": batch.stream}),
            ):
                try:
                    self._call("logs", ctx, operation, params)
                except ServiceError as error:
                    if error.code != "ResourceAlreadyExistsException":
                        raise
            self._known.add(key)
        events = log_events(batch.text, batch.timestamp_ms)
        if events:
            try:
                self._call("logs", ctx, "PutLogEvents", {
                    "logGroupName": batch.group, "logStreamName": batch.stream, "logEvents": events})
            except ServiceError as error:
                if error.code == "ResourceNotFoundException":  # deleted meanwhile: make it again
                    self._known.discard(key)
                raise
