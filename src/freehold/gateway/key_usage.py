"""Recording when IAM access keys are used, cheaply, for GetAccessKeyLastUsed.

Writing "last used" on every authenticated request would turn each read into a SQL write
on the request path. AWS's own report is approximate (the IAM user guide says last-used
information can lag by hours), so freehold records each key's use at most once per
`interval` (a minute) per node, and the write runs on the node's worker threads, never on
the event loop: `note()` itself only reads a clock and a dict.

The use recorded is the first one in each interval (its service and region).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from datetime import UTC, datetime

log = logging.getLogger("freehold.key_usage")

DEFAULT_INTERVAL_SECONDS = 60.0
# Beyond this many remembered keys, entries older than the interval are forgotten.
MAX_TRACKED_KEYS = 10_000

# record(access_key_id, service, region, when) - IssuedCredentials.note_used's shape.
Recorder = Callable[[str, str, str, datetime], None]


class KeyUsage:
    """Throttles key-use records and hands them to an executor. Call `note` from one thread
    (the event loop): it is not locked."""

    def __init__(
        self,
        record: Recorder,
        executor: Executor,
        *,
        prefixes: tuple[str, ...] = ("AKIA",),
        interval: float = DEFAULT_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._record = record
        self._executor = executor
        self._prefixes = prefixes
        self._interval = interval
        self._clock = clock
        self._last: dict[str, float] = {}

    def note(self, access_key_id: str, service: str, region: str) -> bool:
        """A successful authentication with this key; True when a write was scheduled."""
        if not access_key_id.startswith(self._prefixes):
            return False  # temporary (ASIA...) credentials have no last-used record
        now = self._clock()
        last = self._last.get(access_key_id)
        if last is not None and now - last < self._interval:
            return False
        self._last[access_key_id] = now
        if len(self._last) > MAX_TRACKED_KEYS:
            self._forget_older_than(now - self._interval)
        try:
            self._executor.submit(self._write, access_key_id, service, region, datetime.now(UTC))
        except RuntimeError:  # the executor is shutting down with the node: the use is lost
            return False
        return True

    def forget(self) -> None:
        """Forget what was recorded (after a reset deleted the keys' rows)."""
        self._last.clear()

    def _forget_older_than(self, moment: float) -> None:
        self._last = {key: when for key, when in self._last.items() if when >= moment}

    def _write(self, access_key_id: str, service: str, region: str, when: datetime) -> None:
        try:
            self._record(access_key_id, service, region, when)
        except Exception:
            # Losing a last-used record must not fail anything; it is reported, not raised.
            log.exception("could not record the use of access key %s", access_key_id)
