"""The delivery worker: claims due deliveries from SQL and runs them on a small thread pool,
never on a request's path.

Every delivery was recorded in SQL before Publish returned. A claim leases the row (its `due`
moves a few seconds ahead), so deliveries in flight when a node dies come back when the lease
passes, on this node after a restart or on any other: at-least-once. Publishing on this node
wakes the worker at once; otherwise it polls the table about once a second (other nodes'
publishes, retries coming due).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from freehold.services.sns.delivery import Outcome, Transports
from freehold.services.sns.delivery_policy import content_type_for, retry_policy_for
from freehold.services.sns.models import Subscription
from freehold.services.sns.store import Delivery

if TYPE_CHECKING:
    from freehold.services.sns.provider import SnsProvider

log = logging.getLogger("freehold.sns")

# A claimed delivery is retried by any node once its lease passes, so a crash delays it little.
# Only as many deliveries are claimed as there are idle threads, so each starts at once;
# in-process deliveries (SQS, Lambda, the outbox) take milliseconds, and an HTTP attempt,
# which may take its endpoint's full 15 s, extends its lease first (delivery.py).
LEASE_SECONDS = 10.0
POLL_SECONDS = 1.0
THREADS = 16
# Retry delay after an unexpected failure inside freehold itself.
INTERNAL_RETRY_SECONDS = 5.0


class DeliveryWorker:
    def __init__(self, provider: SnsProvider, threads: int = THREADS) -> None:
        self.provider = provider
        self.store = provider.store
        self.transports = Transports(provider)
        self._threads = threads
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._in_flight = 0
        # Deliveries done but not yet removed: removed with the next claim, in its transaction.
        self._finished: list[Delivery] = []
        self._pool: ThreadPoolExecutor | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stopping.clear()
        self._pool = ThreadPoolExecutor(max_workers=self._threads, thread_name_prefix="freehold-sns-delivery")
        self._thread = threading.Thread(target=self._run, name="freehold-sns-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._pool is not None:
            # Deliveries still running get a moment to finish; those that do not are
            # abandoned, and their leases bring them back (on this node after a restart).
            deadline = time.monotonic() + min(timeout, 2.0)
            while self._in_flight and time.monotonic() < deadline:
                time.sleep(0.01)
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        finished = self._take_finished()
        if finished:
            try:
                self.store.delivered(finished)
            except Exception:
                log.exception("sns: could not record %d finished deliveries; they may be delivered again", len(finished))

    # -- the loop ---------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                claimed = self._claim_some()
            except Exception:
                if self._stopping.is_set():
                    return
                log.exception("sns: could not claim deliveries")
                self._stopping.wait(POLL_SECONDS)
                continue
            if claimed:
                continue
            self._wake.wait(self._idle_wait())
            self._wake.clear()

    def _take_finished(self) -> list[Delivery]:
        with self._lock:
            finished, self._finished = self._finished, []
        return finished

    def _finish(self, delivery: Delivery) -> None:
        with self._lock:
            self._finished.append(delivery)
        if delivery.message.group_id is not None:
            # The next message of its group (FIFO order) is claimable once this one is removed.
            self._wake.set()

    def _claim_some(self) -> int:
        with self._lock:
            free = self._threads - self._in_flight
        finished = self._take_finished()
        if free <= 0 and not finished:
            return 0
        if not finished:
            # Look (a read, no write lock) before claiming in a write transaction that would
            # find nothing: publishes wait for that lock.
            due = self.store.next_due()
            if due is None or due > time.time():
                return 0
        try:
            deliveries = self.store.claim(time.time(), LEASE_SECONDS, min(free, 64), finished)
        except Exception:
            with self._lock:
                self._finished[:0] = finished
            raise
        pool = self._pool
        if pool is None:
            return 0
        # One task per subscription: deliveries to one standard queue go in SendMessageBatch calls.
        by_subscription: dict[str, list[Delivery]] = {}
        for delivery in deliveries:
            by_subscription.setdefault(delivery.subscription_arn, []).append(delivery)
        for group in by_subscription.values():
            with self._lock:
                self._in_flight += len(group)
            pool.submit(self._deliver_and_release, group)
        return len(deliveries)

    def _idle_wait(self) -> float:
        try:
            due = self.store.next_due()
        except Exception:
            return POLL_SECONDS
        if due is None:
            return POLL_SECONDS
        return max(0.005, min(POLL_SECONDS, due - time.time()))

    def _deliver_and_release(self, group: list[Delivery]) -> None:
        try:
            if len(group) > 1 and self._deliver_batch(group):
                return
            for delivery in group:
                self._deliver_or_reschedule(delivery)
        finally:
            with self._lock:
                full = self._in_flight >= self._threads
                self._in_flight -= len(group)
            # Wake the claim loop when it waits for a free thread; otherwise what is finished is
            # removed with the next claim (at the latest one poll later, well inside its lease)
            # rather than in a write transaction of its own after every delivery.
            if full:
                self._wake.set()

    def _deliver_or_reschedule(self, delivery: Delivery) -> None:
        try:
            self.deliver(delivery)
        except Exception:
            self._internal_error(delivery)

    def _internal_error(self, delivery: Delivery) -> None:
        log.exception("sns: delivery %s failed inside freehold", delivery.id)
        try:
            self.store.reschedule(delivery, time.time() + INTERNAL_RETRY_SECONDS, "InternalError")
        except Exception:
            log.exception("sns: could not reschedule delivery %s; its lease will bring it back", delivery.id)
        # A retry comes due sooner than the claim loop may look again.
        self._wake.set()

    def _deliver_batch(self, group: list[Delivery]) -> bool:
        """Deliver notifications to one subscription's standard SQS queue in batches; False
        (nothing done) when the group is not that, and each delivery goes on its own."""
        try:
            sub = self.store.subscription(group[0].subscription_arn)
        except Exception:
            return False
        if sub is None or sub.protocol != "sqs" or not sub.confirmed or sub.endpoint.endswith(".fifo") \
                or any(delivery.message.kind != "Notification" for delivery in group):
            return False
        try:
            outcomes = self.transports.deliver_sqs_batch(group, sub)
        except Exception:
            for delivery in group:
                self._internal_error(delivery)
            return True
        topic_attributes: dict[str, str] | None = None
        for delivery in group:
            outcome = outcomes[delivery.id]
            if outcome.delivered:
                self._finish(delivery)
                continue
            try:
                if topic_attributes is None:
                    topic_attributes = self._topic_attributes(sub)
                self._failed(delivery, sub, topic_attributes, outcome)
            except Exception:
                self._internal_error(delivery)
        return True

    # -- one delivery ---------------------------------------------------------------------------
    def deliver(self, delivery: Delivery) -> None:
        sub = self.store.subscription(delivery.subscription_arn)
        if sub is None and delivery.message.kind == "UnsubscribeConfirmation":
            sub = self.store.unsubscribed(delivery.subscription_arn)
        if sub is None:
            self._finish(delivery)  # unsubscribed (or topic deleted) meanwhile
            return
        if delivery.message.kind == "Notification" and not sub.confirmed:
            self._finish(delivery)
            return
        # The topic's delivery policy matters to HTTP/S and to retries only: no read otherwise.
        topic_attributes = self._topic_attributes(sub) if sub.protocol in ("http", "https") else None
        content_type = content_type_for(sub, topic_attributes) if topic_attributes is not None else ""
        outcome = self.transports.deliver(delivery, sub, content_type)
        if outcome.delivered:
            self._finish(delivery)
            return
        self._failed(delivery, sub, self._topic_attributes(sub) if topic_attributes is None else topic_attributes,
                     outcome)

    def _topic_attributes(self, sub: Subscription) -> dict[str, str]:
        topic = self.store.topic(sub.topic_arn)
        return topic.attributes if topic is not None else {}

    def _failed(self, delivery: Delivery, sub: Subscription, topic_attributes: dict[str, str],
                outcome: Outcome) -> None:
        """A failed attempt: retried when its policy says so, else dead-lettered or dropped."""
        delay = None
        if outcome.retryable:
            delay = retry_policy_for(sub, topic_attributes).delay_before_retry(delivery.attempts + 1)
        if delay is not None:
            log.info("sns: delivery %s to %s failed (%s); retry in %.1fs", delivery.id, sub.endpoint, outcome.error, delay)
            self.store.reschedule(delivery, time.time() + delay, outcome.error)
            self._wake.set()  # the retry may come due before the claim loop would look again
            return
        self._give_up(delivery, sub, outcome)

    def _give_up(self, delivery: Delivery, sub: Subscription, outcome: Outcome) -> None:
        if delivery.message.kind == "Notification":
            dead = self.transports.dead_letter(delivery, sub, outcome.error)
            if dead is not None and not dead.delivered and dead.retryable:
                # The DLQ itself is unavailable for now: keep the message and try again later.
                self.store.reschedule(delivery, time.time() + INTERNAL_RETRY_SECONDS * 6, dead.error)
                return
            if dead is None or not dead.delivered:
                log.warning("sns: dropped message %s for %s: %s", delivery.message.message_id, sub.arn, outcome.error)
        self._finish(delivery)
