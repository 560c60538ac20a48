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
    """A queue drained by one thread; gives up quietly while Logs is not available.

    The queue is a SimpleQueue (a put is one C call, with no lock of its own to take: this
    runs once per invocation on the gateway's loop), bounded by its size when putting."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self._queue: queue.SimpleQueue[LogBatch | threading.Event | None] = queue.SimpleQueue()
        self._known: set[tuple[str, str, str, str]] = set()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def ship(self, batch: LogBatch) -> None:
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="freehold-lambda-logs", daemon=True)
                    self._thread.start()
        if self._queue.qsize() >= MAX_QUEUED:
            log.warning("function logs dropped: the log queue is full")
            return
        self._queue.put(batch)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until what was shipped before this call has been handed to Logs."""
        if self._thread is None:
            return
        reached = threading.Event()
        self._queue.put(reached)
        reached.wait(timeout)

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(5)
            self._thread = None

    def forget(self) -> None:
        self._known.clear()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            items = [first]
            # What arrives within LINGER is shipped together: one PutLogEvents (one transaction)
            # per stream instead of one per invocation. CloudWatch Logs shows a function's
            # output after a moment on AWS too. The thread sleeps through LINGER rather than
            # waiting on the queue: woken by every put, it would cost two context switches
            # per invocation (and the gateway's loop a wake-up call in each put).
            if first is not None and self._queue.qsize() < MERGE_MAX:
                time.sleep(LINGER)
            while items[-1] is not None and len(items) < MERGE_MAX:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                for merged in _merged([item for item in items if isinstance(item, LogBatch)]):
                    try:
                        self._put(merged)
                    except ServiceError as error:
                        log.debug("function logs not shipped: %s", error)
                    except Exception:
                        log.exception("function logs not shipped")
                if items[-1] is None:
                    return
            finally:
                for item in items:
                    if isinstance(item, threading.Event):
                        item.set()

    def _put(self, batch: LogBatch | list[LogBatch]) -> None:
        batches = batch if isinstance(batch, list) else [batch]
        head = batches[0]
        ctx = service_context(head.account_id, head.region)
        key = (head.account_id, head.region, head.group, head.stream)
        if key not in self._known:
            for operation, params in (
                ("CreateLogGroup", {"logGroupName": head.group}),
                ("CreateLogStream", {"logGroupName": head.group, "logStreamName": head.stream}),
            ):
                try:
                    self._call("logs", ctx, operation, params)
                except ServiceError as error:
                    if error.code != "ResourceAlreadyExistsException":
                        raise
            self._known.add(key)
        events = [event for each in batches for event in log_events(each.text, each.timestamp_ms)]
        if len(batches) > 1 and any(b.timestamp_ms < a.timestamp_ms for a, b in zip(batches, batches[1:])):
            # Shipped from several threads out of order: PutLogEvents wants time order.
            events.sort(key=_timestamp)
        for part in _put_batches(events):
            try:
                self._call("logs", ctx, "PutLogEvents", {
                    "logGroupName": head.group, "logStreamName": head.stream, "logEvents": part})
            except ServiceError as error:
                if error.code == "ResourceNotFoundException":  # deleted meanwhile: make it again
                    self._known.discard(key)
                raise


def _timestamp(event: dict[str, object]) -> int:
    return int(str(event["timestamp"]))


def _put_batches(events: list[dict[str, object]]) -> list[list[dict[str, object]]]:
    """`events` in order, cut into PutLogEvents calls within its limits: a call over one is
    refused whole. Many invocations merged (or one printing many short lines) pass 10,000
    events; text merged by characters passes 1 MB once encoded (with 26 bytes per event)."""
    parts: list[list[dict[str, object]]] = []
    part: list[dict[str, object]] = []
    size = 0
    for event in events:
        event_size = len(str(event["message"]).encode("utf-8")) + PUT_EVENT_OVERHEAD
        if part and (len(part) >= PUT_MAX_EVENTS or size + event_size > PUT_MAX_BYTES):
            parts.append(part)
            part, size = [], 0
        part.append(event)
        size += event_size
    if part:
        parts.append(part)
    return parts


MAX_QUEUED = 10000  # invocations' logs waiting at most (more are dropped, with a warning)
LINGER = 0.05  # seconds a shipment waits for more
MERGE_MAX = 200  # invocations' logs shipped in one go at most
MERGE_BYTES = 512 * 1024  # well under PutLogEvents' 1 MB batch limit
PUT_MAX_EVENTS = 10_000  # PutLogEvents' limits: events per call,
PUT_MAX_BYTES = 1_048_576  # bytes per call (UTF-8 messages and 26 bytes per event)
PUT_EVENT_OVERHEAD = 26


def _merged(batches: list[LogBatch]) -> list[list[LogBatch]]:
    """Consecutive batches of one stream grouped (in order, so events stay chronological),
    each group within PutLogEvents' limits."""
    groups: dict[tuple[str, str, str, str], list[list[LogBatch]]] = {}
    sizes: dict[tuple[str, str, str, str], int] = {}  # text in each stream's last group
    order: list[list[LogBatch]] = []
    for batch in batches:
        key = (batch.account_id, batch.region, batch.group, batch.stream)
        runs = groups.setdefault(key, [])
        if not runs or sizes[key] + len(batch.text) > MERGE_BYTES:
            runs.append([])
            order.append(runs[-1])
            sizes[key] = 0
        runs[-1].append(batch)
        sizes[key] += len(batch.text)
    return order
