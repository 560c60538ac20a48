"""DynamoDB's background work: the TTL deleter and stream retention.

The deleter looks for items whose TTL attribute (kept in `ddb_items.expires`, indexed) is in
the past, and deletes each in its own transaction through the normal write path, so that
indexes follow and the stream records a REMOVE marked as a service deletion. Expiry is
re-checked under the row lock, so an item updated meanwhile is kept. Items whose TTL is more
than five years in the past are never deleted, as on AWS
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/time-to-live-ttl-before-you-start.html).
All state is in SQL: after a restart the deleter simply finds what is still expired.
`Settings.dynamodb_ttl_interval` (FREEHOLD_DYNAMODB_TTL_INTERVAL, seconds, default 5) sets how
often it looks.
"""

from __future__ import annotations

import logging
import threading
import time

from freehold.services.dynamodb.items import ItemEngine, ttl_expiry
from freehold.services.dynamodb.store import DynamoStore, _table
from freehold.services.dynamodb.streams import StreamStore
from freehold.services.dynamodb.types import Item

log = logging.getLogger("freehold.dynamodb.ttl")
FIVE_YEARS = 5 * 365 * 24 * 3600
BATCH = 100


MIN_INTERVAL = 0.05


class TtlWorker:
    def __init__(self, store: DynamoStore, streams: StreamStore, engine: ItemEngine, interval: float = 5.0) -> None:
        self.store = store
        self.streams = streams
        self.engine = engine
        self.interval = max(MIN_INTERVAL, interval)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="dynamodb-ttl", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                while self.sweep() == BATCH and not self._stop.is_set():
                    pass
                self.streams.trim(time.time())
            except Exception:  # noqa: BLE001 - a failed pass is retried on the next tick
                log.exception("TTL pass failed")

    def sweep(self) -> int:
        """Delete one batch of expired items; return how many candidates were found."""
        now = time.time()
        rows = self.store.db.query(
            "SELECT table_id, h, pk, sk FROM ddb_items WHERE expires IS NOT NULL AND expires <= ? AND expires >= ? "
            "ORDER BY expires LIMIT ?",
            (int(now), int(now) - FIVE_YEARS, BATCH),
        )
        for table_id, h, pk, sk in rows:
            self._expire(table_id, (int(h), bytes(pk), bytes(sk)), now)
        return len(rows)

    def _expire(self, table_id: str, key: tuple[int, bytes, bytes], now: float) -> None:
        with self.store.db.transaction():
            row = self.store.db.query_one(
                "SELECT account_id, region, table_id, description, tags, ttl, pitr FROM ddb_tables WHERE table_id = ?",
                (table_id,),
            )
            if row is None:
                return
            table = _table(row)
            item = self.store.item(table_id, key, lock=True)
            if item is None:
                return
            expiry = ttl_expiry(table, item)
            if expiry is None or expiry > now or expiry < now - FIVE_YEARS:
                return

            def remove(old: Item | None) -> Item | None:
                return None

            self.engine.write(table, table.schema.key_of(item), remove, now, service_delete=True)
