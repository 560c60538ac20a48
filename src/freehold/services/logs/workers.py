"""The retention worker: deletes events older than their log group's retention period.

AWS deletes expired events within days, not at the instant they expire; here a sweep runs
when the provider starts, every `interval` seconds after, and soon after a PutRetentionPolicy.
The work is idempotent and reads everything from SQL, so it resumes after any restart, and
several nodes sweeping the same PostgreSQL database at once only repeat each other's deletes.
"""

from __future__ import annotations

import logging
import threading
import time

from freehold.services.logs.models import DAY_MS
from freehold.services.logs.store import LogsStore
from freehold.state.database import StateError

log = logging.getLogger("freehold.logs")


class RetentionWorker:
    def __init__(self, store: LogsStore, interval: float = 60.0) -> None:
        self.store = store
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="freehold-logs-retention", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sweep()
            except StateError:
                if self._stopping.is_set():
                    return  # the database closed under us at shutdown
                log.exception("log retention sweep failed; retrying in %.0f s", self.interval)
            except Exception:  # noqa: BLE001 - a bug must not kill the worker for good
                log.exception("log retention sweep failed; retrying in %.0f s", self.interval)
            self._wake.wait(self.interval)
            self._wake.clear()

    def sweep(self, now_ms: int | None = None) -> int:
        """Delete every expired event now; return how many were deleted."""
        now = now_ms if now_ms is not None else int(time.time() * 1000)
        deleted = 0
        for group_id, days in self.store.groups_with_retention():
            if self._stopping.is_set():
                break
            deleted += self.store.expire_events(group_id, now - days * DAY_MS)
        return deleted
