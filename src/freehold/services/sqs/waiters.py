"""Long-poll wake-ups: many ReceiveMessage calls wait at once without holding a thread each.

A waiting receive is an asyncio future on the event loop. Whatever makes messages available
in this process (a send, a visibility change to 0, a dead-letter move, a message move task)
calls `notify(queue_id)` from any thread; each queue has a version counter, read before a
receive looks for messages, so a message that arrives between that look and the wait is
never missed. Messages that become visible by time (delays, visibility timeouts) are found by
the receive's own timed re-checks; sends made by other nodes of a cluster arrive through
PostgreSQL NOTIFY (wakeups.py).
"""

from __future__ import annotations

import asyncio
import threading


class Waiters:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, int] = {}
        self._waiting: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]] = {}

    def version(self, queue_id: str) -> int:
        with self._lock:
            return self._versions.get(queue_id, 0)

    def notify(self, queue_id: str) -> None:
        with self._lock:
            self._versions[queue_id] = self._versions.get(queue_id, 0) + 1
            waiting = self._waiting.pop(queue_id, set())
        for loop, future in waiting:
            try:
                loop.call_soon_threadsafe(_wake, future)
            except RuntimeError:
                pass  # that loop is closed: the server is stopping

    def notify_all(self) -> None:
        """Wake every waiting receive (each looks again)."""
        with self._lock:
            queue_ids = list(self._waiting)
        for queue_id in queue_ids:
            self.notify(queue_id)

    async def wait(self, queue_id: str, seen: int, timeout: float) -> bool:
        """Wait until `queue_id` changes after version `seen`, or `timeout` seconds; True if woken."""
        if timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (loop, future)
        with self._lock:
            if self._versions.get(queue_id, 0) != seen:
                return True
            self._waiting.setdefault(queue_id, set()).add(entry)
        try:
            await asyncio.wait_for(future, timeout)
            return True
        except TimeoutError:
            return False
        finally:
            with self._lock:
                waiting = self._waiting.get(queue_id)
                if waiting is not None:
                    waiting.discard(entry)
                    if not waiting:
                        del self._waiting[queue_id]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
