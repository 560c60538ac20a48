"""Telling long polls that a queue may have messages, on this node and on the others.

`queue_changed(queue_id)` is called wherever messages become receivable (a send, a
visibility change to 0, a dead-letter or move-task move, a deleted queue):

- on this node the waiting ReceiveMessage calls (waiters.py) are woken after the commit
  that made the messages visible, never before - a receive woken early would look, find
  nothing yet, and sleep through the commit;
- on PostgreSQL every node LISTENs on one channel, and the change is announced with
  NOTIFY inside the same transaction: PostgreSQL delivers it exactly when that transaction
  commits (and never if it rolls back), so a message sent on node A wakes a receive waiting
  on node B at once. Each node skips its own announcements (woken locally already).

When the listening connection is down, `listening` is False and receives fall back to timed
re-checks; after it reconnects every waiter is woken once, for what it may have missed.
SQLite is single-node: the in-process wake-up is all there is.
"""

from __future__ import annotations

import logging
import threading
import uuid

from freehold.services.sqs.waiters import Waiters
from freehold.state.database import Database

log = logging.getLogger("freehold.sqs")

CHANNEL = "freehold_sqs"
# How often the listener looks at its stop flag between notifications, and how long it
# waits before connecting again after losing its connection.
LISTEN_SLICE_SECONDS = 0.5
RECONNECT_SECONDS = 1.0


class Wakeups:
    def __init__(self, db: Database, waiters: Waiters, state_url: str) -> None:
        self.db = db
        self.waiters = waiters
        self._state_url = state_url
        self.cluster = db.dialect == "postgresql"
        self._node = uuid.uuid4().hex[:12]
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def listening(self) -> bool:
        """True when other nodes' announcements reach this node (always, on SQLite)."""
        return not self.cluster or self._listening.is_set()

    def queue_changed(self, queue_id: str) -> None:
        """Messages may have become receivable on `queue_id` (in this thread's transaction,
        if one is open: the wake-ups follow its commit)."""
        if self.cluster:
            self.db.query("SELECT pg_notify(?, ?)", (CHANNEL, f"{self._node}:{queue_id}"))
        self.db.after_commit(lambda: self.waiters.notify(queue_id))

    # -- the listener (PostgreSQL) ------------------------------------------------------------
    def start(self) -> None:
        if not self.cluster or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="sqs-listen", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=LISTEN_SLICE_SECONDS + RECONNECT_SECONDS + 2)
            self._thread = None
        self._listening.clear()

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._state_url, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self._listening.set()
                    log.info("sqs: listening for other nodes' sends on PostgreSQL channel %s", CHANNEL)
                    # Sends made while this node was not listening woke nobody here.
                    self.waiters.notify_all()
                    while not self._stop.is_set():
                        for notice in conn.notifies(timeout=LISTEN_SLICE_SECONDS):
                            node, _, queue_id = notice.payload.partition(":")
                            if node != self._node and queue_id:
                                self.waiters.notify(queue_id)
            except psycopg.Error as error:
                if self._stop.is_set():
                    break
                log.warning("sqs: lost the PostgreSQL LISTEN connection (%s); long polls re-check on a timer "
                            "until it is back", error)
            finally:
                self._listening.clear()
            self._stop.wait(RECONNECT_SECONDS)
