"""The asynchronous invocation queue's worker: Event invocations are rows in SQL (recorded
before the 202 is returned), run here with Lambda's retry policy, and sent to the
dead-letter queue or on-failure destination when retries are exhausted or the event is too
old. Leases make a row run once at a time; a row leased by a node that died runs again when
its lease expires, and rows left by a restart run after it.

https://docs.aws.amazon.com/lambda/latest/dg/invocation-async.html
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from freehold.services.lambda_.store import LambdaStore, QueuedInvocation

log = logging.getLogger("freehold.lambda")

# AWS waits one minute before the first retry and two before the second; tests and local
# development shorten this with FREEHOLD_LAMBDA_RETRY_BASE_SECONDS.
RETRY_BASE_SECONDS = float(os.environ.get("FREEHOLD_LAMBDA_RETRY_BASE_SECONDS", "60"))
THROTTLE_DELAY = 1.0
# A running invocation's lease is renewed while it runs; when its node dies, the lease runs
# out and another node (or this one, restarted) runs the invocation again.
LEASE_SECONDS = 10.0
RENEW_SECONDS = 3.0
POLL_SECONDS = 1.0
CONCURRENCY = 4


def retry_delay(attempt: int) -> float:
    """Delay before retry number `attempt` (1, 2): 1x then 2x the base."""
    return RETRY_BASE_SECONDS * attempt


class AsyncInvoker:
    """Claims due invocations and hands each to `run(item) -> None` on a small thread pool."""

    def __init__(self, store: LambdaStore, run: Callable[[QueuedInvocation], None]) -> None:
        self.store = store
        self.run = run
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._workers = ThreadPoolExecutor(max_workers=CONCURRENCY, thread_name_prefix="freehold-lambda-async")
        self._busy = threading.Semaphore(CONCURRENCY)
        self._running: set[str] = set()
        self._running_lock = threading.Lock()
        self._renewed = 0.0

    def start(self) -> None:
        if self.store.db.dialect == "sqlite":
            # One node owns a SQLite database: leases left in it belong to a previous run.
            self.store.release_all_leases()
        self._thread = threading.Thread(target=self._loop, name="freehold-lambda-queue", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
        self._workers.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        import time

        while not self._stop.is_set():
            try:
                if time.monotonic() - self._renewed > RENEW_SECONDS:
                    with self._running_lock:
                        running = list(self._running)
                    self.store.renew_leases(running, LEASE_SECONDS)
                    self._renewed = time.monotonic()
                claimed = self._claim()
            except Exception:
                log.exception("the async invocation queue could not be read")
                claimed = 0
            if claimed == 0:
                self._wake.wait(min(POLL_SECONDS, RENEW_SECONDS))
                self._wake.clear()

    def _claim(self) -> int:
        free = 0
        while self._busy.acquire(blocking=False):
            free += 1
        if free == 0:
            self._wake.wait(0.05)
            return 0
        items = self.store.claim_due(free, LEASE_SECONDS)
        for _ in range(free - len(items)):
            self._busy.release()
        for item in items:
            with self._running_lock:
                self._running.add(item.id)
            self._workers.submit(self._run_one, item)
        return len(items)

    def _run_one(self, item: QueuedInvocation) -> None:
        try:
            self.run(item)
        except Exception:
            log.exception("async invocation %s failed in freehold", item.id)
            self.store.release(item.id, THROTTLE_DELAY)
        finally:
            with self._running_lock:
                self._running.discard(item.id)
            self._busy.release()
            self._wake.set()
