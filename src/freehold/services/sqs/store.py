"""SQS's persistence of queues: the schema of all SQS tables, and queue rows.

Messages live in sqs_messages (see message_store.py); every queue-scoped row carries the
queue's `queue_id`, a fresh id per incarnation, so a deleted queue's rows can never leak
into a queue later created with the same name. Queues are keyed by (account, region, name).
"""

from __future__ import annotations

import json
import time
import uuid

from freehold.services.sqs.queues import Queue
from freehold.state.database import Database, IntegrityError, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sqs queues and messages", (
        """CREATE TABLE sqs_queues (
            queue_id TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            fifo INTEGER NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            dead_letter_target TEXT,
            created DOUBLE PRECISION NOT NULL,
            last_modified DOUBLE PRECISION NOT NULL,
            purged_at DOUBLE PRECISION,
            UNIQUE (account_id, region, name)
        )""",
        "CREATE INDEX sqs_queues_by_dead_letter_target ON sqs_queues (dead_letter_target)",
        """CREATE TABLE sqs_deleted_queues (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            deleted_at DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, region, name)
        )""",
        """CREATE TABLE sqs_messages (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            queue_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            body TEXT NOT NULL,
            md5_body TEXT NOT NULL,
            attributes TEXT,
            md5_attributes TEXT,
            system_attributes TEXT,
            md5_system_attributes TEXT,
            sender_id TEXT NOT NULL,
            sent_at BIGINT NOT NULL,
            visible_at BIGINT NOT NULL,
            receive_count INTEGER NOT NULL,
            first_receive_at BIGINT,
            receipt TEXT,
            group_id TEXT,
            dedup_id TEXT,
            dead_letter_source TEXT
        )""",
        "CREATE INDEX sqs_messages_by_visibility ON sqs_messages (queue_id, visible_at, seq)",
        "CREATE INDEX sqs_messages_by_group ON sqs_messages (queue_id, group_id, seq)",
        "CREATE INDEX sqs_messages_by_sent ON sqs_messages (queue_id, sent_at)",
        """CREATE TABLE sqs_dedup (
            queue_id TEXT NOT NULL,
            scope TEXT NOT NULL,
            dedup_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            seq BIGINT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (queue_id, scope, dedup_id)
        )""",
        "CREATE INDEX sqs_dedup_by_expiry ON sqs_dedup (expires_at)",
        """CREATE TABLE sqs_receive_attempts (
            queue_id TEXT NOT NULL,
            attempt_id TEXT NOT NULL,
            receipts TEXT NOT NULL,
            expires_at BIGINT NOT NULL,
            PRIMARY KEY (queue_id, attempt_id)
        )""",
        """CREATE TABLE sqs_move_tasks (
            task_handle TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            source_arn TEXT NOT NULL,
            destination_arn TEXT,
            max_per_second INTEGER,
            status TEXT NOT NULL,
            started BIGINT NOT NULL,
            moved BIGINT NOT NULL,
            to_move BIGINT NOT NULL,
            failure_reason TEXT
        )""",
        "CREATE INDEX sqs_move_tasks_by_source ON sqs_move_tasks (source_arn, started)",
    )),
)

_COLUMNS = "queue_id, account_id, region, name, fifo, attributes, tags, created, last_modified"


def _queue(row: Row) -> Queue:
    return Queue(
        queue_id=row[0], account_id=row[1], region=row[2], name=row[3], fifo=bool(row[4]),
        attributes=json.loads(row[5]), tags=json.loads(row[6]), created=float(row[7]), last_modified=float(row[8]),
    )


class QueueStore:
    """Queue rows: create, find, list, change, delete."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("sqs", MIGRATIONS)

    def get(self, account_id: str, region: str, name: str) -> Queue | None:
        row = self.db.query_one(
            f"SELECT {_COLUMNS} FROM sqs_queues WHERE account_id = ? AND region = ? AND name = ?",
            (account_id, region, name),
        )
        return _queue(row) if row else None

    def get_by_id(self, queue_id: str) -> Queue | None:
        row = self.db.query_one(f"SELECT {_COLUMNS} FROM sqs_queues WHERE queue_id = ?", (queue_id,))
        return _queue(row) if row else None

    def deleted_since(self, account_id: str, region: str, name: str, since: float) -> bool:
        row = self.db.query_one(
            "SELECT 1 FROM sqs_deleted_queues WHERE account_id = ? AND region = ? AND name = ? AND deleted_at > ?",
            (account_id, region, name, since),
        )
        return row is not None

    def create(self, account_id: str, region: str, name: str, fifo: bool, attributes: dict[str, str],
               tags: dict[str, str]) -> tuple[Queue, bool]:
        """The new queue and True, or the queue that already has this name and False."""
        now = time.time()
        queue = Queue(uuid.uuid4().hex, account_id, region, name, fifo, attributes, tags, now, now)
        try:
            with self.db.transaction() as tx:
                tx.execute(
                    f"INSERT INTO sqs_queues ({_COLUMNS}, dead_letter_target) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (queue.queue_id, account_id, region, name, int(fifo), json.dumps(attributes), json.dumps(tags),
                     now, now, queue.dead_letter_target),
                )
        except IntegrityError:
            existing = self.get(account_id, region, name)
            if existing is None:
                raise
            return existing, False
        return queue, True

    def set_attributes(self, queue: Queue, attributes: dict[str, str]) -> None:
        now = time.time()
        self.db.execute(
            "UPDATE sqs_queues SET attributes = ?, dead_letter_target = ?, last_modified = ? WHERE queue_id = ?",
            (json.dumps(attributes), _target(attributes), now, queue.queue_id),
        )
        queue.attributes = attributes
        queue.last_modified = now

    def set_tags(self, queue: Queue, tags: dict[str, str]) -> None:
        self.db.execute("UPDATE sqs_queues SET tags = ? WHERE queue_id = ?", (json.dumps(tags), queue.queue_id))
        queue.tags = tags

    def delete(self, queue: Queue) -> None:
        """The queue, its messages and its bookkeeping, at once; its name is held for 60 s."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sqs_queues WHERE queue_id = ?", (queue.queue_id,))
            tx.execute("DELETE FROM sqs_messages WHERE queue_id = ?", (queue.queue_id,))
            tx.execute("DELETE FROM sqs_dedup WHERE queue_id = ?", (queue.queue_id,))
            tx.execute("DELETE FROM sqs_receive_attempts WHERE queue_id = ?", (queue.queue_id,))
            tx.execute(
                "INSERT INTO sqs_deleted_queues (account_id, region, name, deleted_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (account_id, region, name) DO UPDATE SET deleted_at = excluded.deleted_at",
                (queue.account_id, queue.region, queue.name, now),
            )
            tx.execute("DELETE FROM sqs_deleted_queues WHERE deleted_at < ?", (now - 3600,))

    def list_page(self, account_id: str, region: str, prefix: str, after: str, limit: int) -> list[Queue]:
        """Queues of an account and region by name, from just after `after`, at most `limit`."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM sqs_queues WHERE account_id = ? AND region = ? AND name LIKE ? ESCAPE '\\' "
            "AND name > ? ORDER BY name LIMIT ?",
            (account_id, region, escaped + "%", after, limit),
        )
        return [_queue(row) for row in rows]

    def dead_letter_sources(self, target_arn: str, after: str, limit: int) -> list[Queue]:
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM sqs_queues WHERE dead_letter_target = ? AND name > ? ORDER BY name LIMIT ?",
            (target_arn, after, limit),
        )
        return [_queue(row) for row in rows]

    def claim_purge(self, queue: Queue, now: float, interval: float) -> bool:
        """Record a purge unless one happened within `interval` seconds (AWS's 60 s rule)."""
        count = self.db.execute(
            "UPDATE sqs_queues SET purged_at = ? WHERE queue_id = ? AND (purged_at IS NULL OR purged_at <= ?)",
            (now, queue.queue_id, now - interval),
        )
        return count == 1

    def all_queue_ids(self) -> list[str]:
        return [str(row[0]) for row in self.db.query("SELECT queue_id FROM sqs_queues")]


def _target(attributes: dict[str, str]) -> str | None:
    value = attributes.get("RedrivePolicy")
    return str(json.loads(value)["deadLetterTargetArn"]) if value else None
