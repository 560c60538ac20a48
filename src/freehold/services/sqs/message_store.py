"""SQS's persistence of messages: send, receive, delete, visibility, counts, purge, expiry, moves.

Times are integer milliseconds since the epoch. A message is *visible* when visible_at <= now;
otherwise it is *in flight* (received at least once) or *delayed* (never received). Every
write is one transaction, committed before the operation answers, so an acknowledged
message survives kill -9, and an in-flight one becomes visible again after a restart once
its visible_at passes: visibility is a timestamp, never a timer in memory.

Concurrent consumers: on PostgreSQL a standard-queue receive locks the rows it takes with
FOR UPDATE SKIP LOCKED, so consumers never take the same message; a FIFO receive first locks
the queue row, because which messages are eligible depends on the other messages of their
group (one in-flight batch per group). SQLite serializes every write transaction anyway.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.services.sqs.messages import Attributes, from_stored, to_stored
from freehold.services.sqs.models import DEDUP_WINDOW_SECONDS, Receipt
from freehold.services.sqs.queues import Queue
from freehold.state.database import Database, Row, Transaction

SEQUENCE_BASE = 10**19  # FIFO SequenceNumber: a 20-digit string, increasing, as AWS's are


@dataclass
class NewMessage:
    message_id: str
    body: str
    md5_body: str
    attributes: Attributes
    md5_attributes: str | None
    system_attributes: Attributes
    md5_system_attributes: str | None
    sender_id: str
    delay_seconds: int
    group_id: str | None = None
    dedup_id: str | None = None


@dataclass
class SendResult:
    message_id: str
    sequence_number: str | None
    duplicate: bool = False


@dataclass
class StoredMessage:
    seq: int
    message_id: str
    body: str
    md5_body: str
    attributes: Attributes
    md5_attributes: str | None
    system_attributes: Attributes
    md5_system_attributes: str | None
    sender_id: str
    sent_at: int
    receive_count: int
    first_receive_at: int | None
    group_id: str | None
    dedup_id: str | None
    dead_letter_source: str | None
    receipt: Receipt

    @property
    def sequence_number(self) -> str:
        return str(SEQUENCE_BASE + self.seq)


_COLUMNS = (
    "seq, message_id, body, md5_body, attributes, md5_attributes, system_attributes, md5_system_attributes, "
    "sender_id, sent_at, receive_count, first_receive_at, group_id, dedup_id, dead_letter_source, receipt, queue_id"
)
_M_COLUMNS = ", ".join("m." + column.strip() for column in _COLUMNS.split(","))


def _message(row: Row) -> StoredMessage:
    return StoredMessage(
        seq=int(row[0]), message_id=row[1], body=row[2], md5_body=row[3],
        attributes=from_stored(json.loads(row[4])) if row[4] else {}, md5_attributes=row[5],
        system_attributes=json.loads(row[6]) if row[6] else {}, md5_system_attributes=row[7],
        sender_id=row[8], sent_at=int(row[9]), receive_count=int(row[10]),
        first_receive_at=int(row[11]) if row[11] is not None else None, group_id=row[12], dedup_id=row[13],
        dead_letter_source=row[14], receipt=Receipt(row[16], int(row[0]), row[15] or ""),
    )


def _nonce() -> str:
    return secrets.token_hex(10)  # 20 hex digits, as before; no UUID object per receive


@dataclass
class Received:
    messages: list[StoredMessage]
    moved_to_dead_letter: int = 0


class MessageStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- send ------------------------------------------------------------------------------
    def send(self, queue: Queue, messages: list[NewMessage], now: int,
             announce: Callable[[str], None] | None = None) -> list[SendResult]:
        """Store messages in one transaction; FIFO duplicates within 5 minutes are not stored
        but answered with the original's id and sequence number, as AWS does. `announce`
        (the queue id) is called in that transaction when anything new was stored."""
        results: list[SendResult] = []
        with self.db.transaction() as tx:
            for message in messages:
                if queue.fifo:
                    duplicate = self._claim_dedup(tx, queue, message, now)
                    if duplicate is not None:
                        results.append(duplicate)
                        continue
                row = tx.query_one(
                    "INSERT INTO sqs_messages (queue_id, message_id, body, md5_body, attributes, md5_attributes, "
                    "system_attributes, md5_system_attributes, sender_id, sent_at, visible_at, receive_count, "
                    "group_id, dedup_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) RETURNING seq",
                    (
                        queue.queue_id, message.message_id, message.body, message.md5_body,
                        json.dumps(to_stored(message.attributes)) if message.attributes else None,
                        message.md5_attributes,
                        json.dumps(message.system_attributes) if message.system_attributes else None,
                        message.md5_system_attributes, message.sender_id, now, now + message.delay_seconds * 1000,
                        message.group_id, message.dedup_id,
                    ),
                )
                assert row is not None
                seq = int(row[0])
                if queue.fifo:
                    tx.execute(
                        "UPDATE sqs_dedup SET seq = ? WHERE queue_id = ? AND scope = ? AND dedup_id = ?",
                        (seq, queue.queue_id, _scope(queue, message), message.dedup_id),
                    )
                results.append(SendResult(message.message_id, str(SEQUENCE_BASE + seq) if queue.fifo else None))
            if announce is not None and any(not result.duplicate for result in results):
                announce(queue.queue_id)
        return results

    @staticmethod
    def _claim_dedup(tx: Transaction, queue: Queue, message: NewMessage, now: int) -> SendResult | None:
        """Claim the deduplication id for 5 minutes; the original's result if already claimed."""
        scope = _scope(queue, message)
        claimed = tx.execute(
            "INSERT INTO sqs_dedup (queue_id, scope, dedup_id, message_id, seq, expires_at) VALUES (?, ?, ?, ?, 0, ?) "
            "ON CONFLICT (queue_id, scope, dedup_id) DO UPDATE SET message_id = excluded.message_id, "
            "seq = excluded.seq, expires_at = excluded.expires_at WHERE sqs_dedup.expires_at <= ?",
            (queue.queue_id, scope, message.dedup_id, message.message_id, now + DEDUP_WINDOW_SECONDS * 1000, now),
        )
        if claimed:
            return None
        row = tx.query_one(
            "SELECT message_id, seq FROM sqs_dedup WHERE queue_id = ? AND scope = ? AND dedup_id = ?",
            (queue.queue_id, scope, message.dedup_id),
        )
        assert row is not None
        return SendResult(str(row[0]), str(SEQUENCE_BASE + int(row[1])), duplicate=True)

    # -- receive -----------------------------------------------------------------------------
    def receive(self, queue: Queue, limit: int, visibility: int, now: int,
                dead_letter: Queue | None = None, attempt_id: str | None = None) -> Received:
        """Take up to `limit` visible messages and hide them for `visibility` seconds. Messages
        already received maxReceiveCount times move to the dead-letter queue instead."""
        max_receives = (queue.redrive_policy or {}).get("maxReceiveCount") if dead_letter is not None else None
        with self.db.transaction() as tx:
            if attempt_id is not None:
                repeated = self._repeat_attempt(tx, queue, attempt_id, now)
                if repeated is not None:
                    return Received(repeated)
            rows = self._candidates(tx, queue, limit, now)
            taken: list[StoredMessage] = []
            moved = 0
            for row in rows:
                message = _message(row)
                if dead_letter is not None and max_receives is not None and message.receive_count >= max_receives:
                    tx.execute(
                        "UPDATE sqs_messages SET queue_id = ?, visible_at = ?, receipt = NULL, dead_letter_source = ? "
                        "WHERE seq = ?",
                        (dead_letter.queue_id, now, queue.arn, message.seq),
                    )
                    moved += 1
                    continue
                nonce = _nonce()
                tx.execute(
                    "UPDATE sqs_messages SET visible_at = ?, receive_count = receive_count + 1, "
                    "first_receive_at = COALESCE(first_receive_at, ?), receipt = ? WHERE seq = ?",
                    (now + visibility * 1000, now, nonce, message.seq),
                )
                message.receive_count += 1
                message.first_receive_at = message.first_receive_at or now
                message.receipt = Receipt(queue.queue_id, message.seq, nonce)
                taken.append(message)
            if attempt_id is not None:
                receipts = json.dumps([[m.seq, m.receipt.nonce] for m in taken])
                tx.execute(
                    "INSERT INTO sqs_receive_attempts (queue_id, attempt_id, receipts, expires_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (queue_id, attempt_id) DO UPDATE SET receipts = excluded.receipts, "
                    "expires_at = excluded.expires_at",
                    (queue.queue_id, attempt_id, receipts, now + DEDUP_WINDOW_SECONDS * 1000),
                )
        return Received(taken, moved)

    def _candidates(self, tx: Transaction, queue: Queue, limit: int, now: int) -> list[Row]:
        oldest = now - queue.retention_seconds * 1000
        if not queue.fifo:
            return tx.query(
                f"SELECT {_COLUMNS} FROM sqs_messages WHERE queue_id = ? AND visible_at <= ? AND sent_at > ? "
                "ORDER BY visible_at, seq LIMIT ? FOR UPDATE SKIP LOCKED",
                (queue.queue_id, now, oldest, limit),
            )
        # FIFO: lock the queue, then take the oldest messages of groups with nothing in flight,
        # in order. A message is held back while an older message of its group is not visible
        # (delayed or in flight), or while any message of its group is in flight.
        tx.query("SELECT queue_id FROM sqs_queues WHERE queue_id = ? FOR UPDATE", (queue.queue_id,))
        return tx.query(
            f"SELECT {_M_COLUMNS} FROM sqs_messages m WHERE m.queue_id = ? AND m.visible_at <= ? AND m.sent_at > ? "
            "AND NOT EXISTS (SELECT 1 FROM sqs_messages b WHERE b.queue_id = m.queue_id AND b.group_id = m.group_id "
            "AND b.visible_at > ? AND (b.receive_count > 0 OR b.seq < m.seq)) "
            "ORDER BY m.seq LIMIT ?",
            (queue.queue_id, now, oldest, now, limit),
        )

    def _repeat_attempt(self, tx: Transaction, queue: Queue, attempt_id: str, now: int) -> list[StoredMessage] | None:
        """ReceiveRequestAttemptId: a retried receive gets the same messages and receipt
        handles while none of them was deleted or changed visibility and they are in flight."""
        row = tx.query_one(
            "SELECT receipts FROM sqs_receive_attempts WHERE queue_id = ? AND attempt_id = ? AND expires_at > ?",
            (queue.queue_id, attempt_id, now),
        )
        if row is None:
            return None
        receipts: list[list[Any]] = json.loads(row[0])
        if not receipts:
            return None
        messages: list[StoredMessage] = []
        for seq, nonce in receipts:
            found = tx.query_one(
                f"SELECT {_COLUMNS} FROM sqs_messages WHERE seq = ? AND queue_id = ? AND receipt = ? AND visible_at > ?",
                (seq, queue.queue_id, nonce, now),
            )
            if found is None:
                return None
            messages.append(_message(found))
        return messages

    # -- delete and visibility -----------------------------------------------------------------
    def delete(self, queue: Queue, receipt: Receipt, now: int) -> str:
        """'deleted', 'gone' (already deleted), 'stale' (not the latest receive: AWS answers
        success and keeps the message) or 'expired' (FIFO: the visibility timeout passed)."""
        if not queue.fifo:
            # A standard queue's delete needs no decision before it: one statement, its own
            # transaction; only a miss looks at why.
            if self.db.execute(
                "DELETE FROM sqs_messages WHERE seq = ? AND queue_id = ? AND receipt = ?",
                (receipt.seq, queue.queue_id, receipt.nonce),
            ):
                return "deleted"
            row = self.db.query_one("SELECT 1 FROM sqs_messages WHERE seq = ? AND queue_id = ?",
                                    (receipt.seq, queue.queue_id))
            return "gone" if row is None else "stale"
        with self.db.transaction() as tx:
            row = tx.query_one(
                "SELECT receipt, visible_at FROM sqs_messages WHERE seq = ? AND queue_id = ? FOR UPDATE",
                (receipt.seq, queue.queue_id),
            )
            if row is None:
                return "gone"
            if row[0] != receipt.nonce:
                return "expired" if queue.fifo else "stale"
            if queue.fifo and int(row[1]) <= now:
                return "expired"
            tx.execute("DELETE FROM sqs_messages WHERE seq = ?", (receipt.seq,))
        return "deleted"

    def change_visibility(self, queue: Queue, receipt: Receipt, timeout: int, now: int) -> str:
        """'changed', 'not-in-flight', or 'too-long' (past 12 hours from the first receive)."""
        with self.db.transaction() as tx:
            row = tx.query_one(
                "SELECT receipt, visible_at, first_receive_at FROM sqs_messages WHERE seq = ? AND queue_id = ? FOR UPDATE",
                (receipt.seq, queue.queue_id),
            )
            if row is None or row[0] != receipt.nonce or int(row[1]) <= now:
                return "not-in-flight"
            first = int(row[2]) if row[2] is not None else now
            if now + timeout * 1000 - first > 43_200 * 1000:
                return "too-long"
            tx.execute("UPDATE sqs_messages SET visible_at = ? WHERE seq = ?", (now + timeout * 1000, receipt.seq))
            # A retried ReceiveRequestAttemptId no longer returns this message (AWS's rule).
            tx.execute(
                "DELETE FROM sqs_receive_attempts WHERE queue_id = ? AND receipts LIKE ?",
                (queue.queue_id, f"%[{receipt.seq}, \"{receipt.nonce}\"]%"),
            )
        return "changed"

    # -- counts, wake-ups, purge, expiry -------------------------------------------------------
    def counts(self, queue: Queue, now: int) -> tuple[int, int, int]:
        """(visible, in flight, delayed) among unexpired messages."""
        row = self.db.query_one(
            "SELECT SUM(CASE WHEN visible_at <= ? THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN visible_at > ? AND receive_count > 0 THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN visible_at > ? AND receive_count = 0 THEN 1 ELSE 0 END) "
            "FROM sqs_messages WHERE queue_id = ? AND sent_at > ?",
            (now, now, now, queue.queue_id, now - queue.retention_seconds * 1000),
        )
        if row is None:
            return 0, 0, 0
        return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)

    def next_visible_at(self, queue: Queue, now: int) -> int | None:
        """When the next hidden message becomes visible (delays, visibility timeouts)."""
        row = self.db.query_one(
            "SELECT MIN(visible_at) FROM sqs_messages WHERE queue_id = ? AND visible_at > ?", (queue.queue_id, now)
        )
        return int(row[0]) if row is not None and row[0] is not None else None

    def purge(self, queue: Queue, now: int) -> int:
        with self.db.transaction() as tx:
            count = tx.execute("DELETE FROM sqs_messages WHERE queue_id = ? AND sent_at <= ?", (queue.queue_id, now))
            tx.execute("DELETE FROM sqs_receive_attempts WHERE queue_id = ?", (queue.queue_id,))
        return count

    def expire(self, queue: Queue, now: int) -> int:
        """Delete the queue's messages older than its retention period."""
        return self.db.execute(
            "DELETE FROM sqs_messages WHERE queue_id = ? AND sent_at <= ?",
            (queue.queue_id, now - queue.retention_seconds * 1000),
        )

    def expire_bookkeeping(self, now: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM sqs_dedup WHERE expires_at <= ?", (now,))
            tx.execute("DELETE FROM sqs_receive_attempts WHERE expires_at <= ?", (now,))

    # -- dead-letter redrive (message move tasks) -----------------------------------------------
    def visible_count(self, queue: Queue, now: int) -> int:
        return self.counts(queue, now)[0]

    def move_visible(self, source: Queue, destination: Queue | None, resolve: dict[str, Queue], limit: int,
                     now: int) -> tuple[int, int]:
        """Move up to `limit` visible messages out of a dead-letter queue, to `destination` or
        (None) back to each message's source queue found in `resolve` by ARN. They arrive as
        new deliveries: visible now, receive count reset. Returns (moved, left unmovable)."""
        moved = skipped = 0
        with self.db.transaction() as tx:
            rows = tx.query(
                "SELECT seq, dead_letter_source FROM sqs_messages WHERE queue_id = ? AND visible_at <= ? "
                "ORDER BY seq LIMIT ? FOR UPDATE SKIP LOCKED",
                (source.queue_id, now, limit),
            )
            for seq, origin in rows:
                target = destination or (resolve.get(origin) if origin else None)
                if target is None:
                    skipped += 1
                    continue
                tx.execute(
                    "UPDATE sqs_messages SET queue_id = ?, visible_at = ?, sent_at = ?, receive_count = 0, "
                    "first_receive_at = NULL, receipt = NULL, dead_letter_source = NULL WHERE seq = ?",
                    (target.queue_id, now, now, int(seq)),
                )
                moved += 1
        return moved, skipped

    def dead_letter_origins(self, queue: Queue) -> list[str]:
        rows = self.db.query(
            "SELECT DISTINCT dead_letter_source FROM sqs_messages WHERE queue_id = ? AND dead_letter_source IS NOT NULL",
            (queue.queue_id,),
        )
        return [str(row[0]) for row in rows]


def _scope(queue: Queue, message: NewMessage) -> str:
    # DeduplicationScope=messageGroup (high throughput): ids are unique per group only.
    return (message.group_id or "") if queue.dedup_per_group else ""
