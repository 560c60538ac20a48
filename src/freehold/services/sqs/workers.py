"""SQS's background work: retention expiry, bookkeeping expiry, message move tasks.

One daemon thread per node, woken every `TICK` seconds; each pass reads what to do from SQL,
so work resumes after a restart and several cluster nodes may run it side by side (moves
take rows with SKIP LOCKED; deletes are idempotent). stop() ends it within one tick.
"""

from __future__ import annotations

import logging
import threading
import time

from freehold.services.sqs.message_store import MessageStore
from freehold.services.sqs.move_tasks import MoveTasks
from freehold.services.sqs.queues import Queue
from freehold.services.sqs.store import QueueStore

log = logging.getLogger("freehold.sqs")

TICK = 0.25
EXPIRY_INTERVAL = 30.0


class ExpiryWorker:
    def __init__(self, queues: QueueStore, messages: MessageStore, move_tasks: MoveTasks) -> None:
        self.queues = queues
        self.messages = messages
        self.move_tasks = move_tasks
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqs-worker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def _by_arn(self, arn: str) -> Queue | None:
        from freehold.services.sqs.models import parse_queue_arn

        ref = parse_queue_arn(arn)
        return self.queues.get(ref.account_id, ref.region, ref.name) if ref is not None else None

    def _run(self) -> None:
        last_expiry = 0.0
        last_tick = time.monotonic()
        while not self._stop.wait(TICK):
            now = time.monotonic()
            try:
                self.move_tasks.advance(self._by_arn, now - last_tick)
                if now - last_expiry >= EXPIRY_INTERVAL:
                    self.expire_all()
                    last_expiry = now
            except Exception:  # a failed pass is logged and retried next tick
                if self._stop.is_set():
                    return
                log.exception("SQS background pass failed")
            last_tick = now

    def expire_all(self) -> None:
        now_ms = int(time.time() * 1000)
        for queue_id in self.queues.all_queue_ids():
            queue = self.queues.get_by_id(queue_id)
            if queue is not None:
                self.messages.expire(queue, now_ms)
        self.messages.expire_bookkeeping(now_ms)
