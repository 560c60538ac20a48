"""SNS's persistence: topics, subscriptions, published messages and their pending deliveries,
FIFO deduplication records, the outbox, and the signing key.

A publish writes the message and one delivery row per matching subscription in one
transaction, before the call returns. Workers claim due deliveries by pushing their `due`
time forward by a lease (so a crashed node's claims come back when the lease passes), then
delete them once delivered or reschedule them. FIFO deliveries carry an `order_key`
(subscription + message group): only the oldest row of a key can be claimed, so a group's
messages reach a subscription one at a time, in order.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from freehold.services.sns.models import Subscription, Topic
from freehold.services.sns.signing import KeyMaterial
from freehold.state.database import Database, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "sns topics, subscriptions, messages and deliveries", (
        """CREATE TABLE sns_topics (
            arn TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            fifo INTEGER NOT NULL,
            attributes TEXT NOT NULL,
            tags TEXT NOT NULL,
            data_protection TEXT NOT NULL,
            sequence BIGINT NOT NULL,
            subscriptions_deleted BIGINT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sns_topics_by_owner ON sns_topics (account_id, region, arn)",
        """CREATE TABLE sns_subscriptions (
            arn TEXT NOT NULL PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            protocol TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            confirmed INTEGER NOT NULL,
            authenticated INTEGER NOT NULL,
            token TEXT NOT NULL,
            attributes TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sns_subscriptions_by_topic ON sns_subscriptions (topic_arn, arn)",
        "CREATE INDEX sns_subscriptions_by_owner ON sns_subscriptions (account_id, region, arn)",
        "CREATE INDEX sns_subscriptions_by_token ON sns_subscriptions (token)",
        """CREATE TABLE sns_messages (
            message_id TEXT NOT NULL PRIMARY KEY,
            kind TEXT NOT NULL,
            topic_arn TEXT NOT NULL,
            body TEXT NOT NULL,
            subject TEXT,
            structure TEXT NOT NULL,
            attributes TEXT NOT NULL,
            published TEXT NOT NULL,
            group_id TEXT,
            dedup_id TEXT,
            sequence_number TEXT,
            signature_version TEXT NOT NULL,
            token TEXT
        )""",
        "CREATE INDEX sns_messages_by_topic ON sns_messages (topic_arn)",
        """CREATE TABLE sns_deliveries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            message_id TEXT NOT NULL,
            subscription_arn TEXT NOT NULL,
            order_key TEXT,
            due DOUBLE PRECISION NOT NULL,
            attempts INTEGER NOT NULL,
            last_error TEXT
        )""",
        "CREATE INDEX sns_deliveries_by_due ON sns_deliveries (due, id)",
        "CREATE INDEX sns_deliveries_by_order ON sns_deliveries (order_key, id)",
        "CREATE INDEX sns_deliveries_by_message ON sns_deliveries (message_id)",
        """CREATE TABLE sns_dedup (
            topic_arn TEXT NOT NULL,
            dedup_id TEXT NOT NULL,
            message_id TEXT NOT NULL,
            sequence_number TEXT NOT NULL,
            expires DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (topic_arn, dedup_id)
        )""",
        """CREATE TABLE sns_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            protocol TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            topic_arn TEXT,
            subscription_arn TEXT,
            message_id TEXT NOT NULL,
            subject TEXT,
            message TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )""",
        """CREATE TABLE sns_signing_keys (
            id INTEGER NOT NULL PRIMARY KEY,
            key_pem TEXT NOT NULL,
            cert_pem TEXT NOT NULL
        )""",
    )),
    Migration(2, "sns platform applications, endpoints and sms settings", (
        """CREATE TABLE sns_platform_applications (
            arn TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            platform TEXT NOT NULL,
            attributes TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sns_platform_applications_by_owner ON sns_platform_applications (account_id, region, arn)",
        """CREATE TABLE sns_platform_endpoints (
            arn TEXT NOT NULL PRIMARY KEY,
            application_arn TEXT NOT NULL,
            token TEXT NOT NULL,
            attributes TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sns_platform_endpoints_by_application ON sns_platform_endpoints (application_arn, arn)",
        "CREATE INDEX sns_platform_endpoints_by_token ON sns_platform_endpoints (application_arn, token)",
        """CREATE TABLE sns_sms_settings (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            attributes TEXT NOT NULL,
            PRIMARY KEY (account_id, region)
        )""",
        """CREATE TABLE sns_sms_opt_outs (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            phone_number TEXT NOT NULL,
            PRIMARY KEY (account_id, region, phone_number)
        )""",
        """CREATE TABLE sns_sms_sandbox_numbers (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            phone_number TEXT NOT NULL,
            status TEXT NOT NULL,
            one_time_password TEXT NOT NULL,
            PRIMARY KEY (account_id, region, phone_number)
        )""",
    )),
    # An unsubscribed HTTP/S subscription, kept for a while: its UnsubscribeConfirmation is
    # delivered from it, and ConfirmSubscription with that message's token restores it.
    Migration(3, "sns unsubscribed http/https subscriptions", (
        """CREATE TABLE sns_unsubscribed (
            arn TEXT NOT NULL PRIMARY KEY,
            topic_arn TEXT NOT NULL,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            protocol TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            confirmed INTEGER NOT NULL,
            token TEXT NOT NULL,
            attributes TEXT NOT NULL,
            authenticated INTEGER NOT NULL,
            deleted DOUBLE PRECISION NOT NULL
        )""",
        "CREATE INDEX sns_unsubscribed_by_token ON sns_unsubscribed (token)",
        "CREATE INDEX sns_unsubscribed_by_age ON sns_unsubscribed (deleted)",
    )),
)

# How long an unsubscribed HTTP/S subscription can be restored with its token (SNS's
# confirmation tokens are valid for three days).
RESTORABLE_SECONDS = 3 * 24 * 3600

_TOPIC_COLUMNS = "arn, account_id, region, name, fifo, attributes, tags, data_protection, sequence"
_SUB_COLUMNS = "arn, topic_arn, account_id, region, protocol, endpoint, confirmed, token, attributes, authenticated"
_MESSAGE_COLUMNS = (
    "m.message_id, m.kind, m.topic_arn, m.body, m.subject, m.structure, m.attributes, m.published, m.group_id, "
    "m.dedup_id, m.sequence_number, m.signature_version, m.token"
)


def _topic(row: Row) -> Topic:
    return Topic(
        arn=row[0], account_id=row[1], region=row[2], name=row[3], fifo=bool(row[4]),
        attributes=json.loads(row[5]), tags=json.loads(row[6]), data_protection_policy=row[7], sequence=int(row[8]),
    )


def _subscription(row: Row) -> Subscription:
    return Subscription(
        arn=row[0], topic_arn=row[1], account_id=row[2], region=row[3], protocol=row[4], endpoint=row[5],
        confirmed=bool(row[6]), token=row[7], attributes=json.loads(row[8]), authenticated=bool(row[9]),
    )


@dataclass
class Message:
    """A published message (or a subscription confirmation) as the workers deliver it."""

    message_id: str
    kind: str  # Notification, SubscriptionConfirmation, UnsubscribeConfirmation
    topic_arn: str
    body: str
    subject: str | None
    structure: str  # '' or 'json'
    attributes: dict[str, dict[str, Any]]
    published: str  # the envelope's Timestamp
    group_id: str | None = None
    dedup_id: str | None = None
    sequence_number: str | None = None
    signature_version: str = "1"
    token: str | None = None


def _message(row: Row, offset: int = 0) -> Message:
    r = row[offset:]
    return Message(
        message_id=r[0], kind=r[1], topic_arn=r[2], body=r[3], subject=r[4], structure=r[5],
        attributes=json.loads(r[6]), published=r[7], group_id=r[8], dedup_id=r[9], sequence_number=r[10],
        signature_version=r[11], token=r[12],
    )


@dataclass
class Delivery:
    id: int
    subscription_arn: str
    attempts: int
    message: Message


@dataclass(frozen=True)
class PendingDelivery:
    subscription_arn: str
    order_key: str | None


class SnsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("sns", MIGRATIONS)

    # -- topics --------------------------------------------------------------------------
    def insert_topic(self, topic: Topic) -> bool:
        """Insert a new topic; False when one with this ARN exists already."""
        return self.db.execute(
            f"INSERT INTO sns_topics ({_TOPIC_COLUMNS}, subscriptions_deleted, created) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?) ON CONFLICT (arn) DO NOTHING",
            (topic.arn, topic.account_id, topic.region, topic.name, int(topic.fifo), json.dumps(topic.attributes),
             json.dumps(topic.tags), topic.data_protection_policy, 0, time.time()),
        ) == 1

    def topic(self, arn: str, lock: bool = False) -> Topic | None:
        suffix = " FOR UPDATE" if lock else ""
        row = self.db.query_one(f"SELECT {_TOPIC_COLUMNS} FROM sns_topics WHERE arn = ?{suffix}", (arn,))
        return _topic(row) if row else None

    def topics(self, account_id: str, region: str, after: str, limit: int) -> list[str]:
        rows = self.db.query(
            "SELECT arn FROM sns_topics WHERE account_id = ? AND region = ? AND arn > ? ORDER BY arn LIMIT ?",
            (account_id, region, after, limit),
        )
        return [row[0] for row in rows]

    def save_topic(self, topic: Topic) -> None:
        self.db.execute(
            "UPDATE sns_topics SET attributes = ?, tags = ?, data_protection = ?, sequence = ? WHERE arn = ?",
            (json.dumps(topic.attributes), json.dumps(topic.tags), topic.data_protection_policy, topic.sequence,
             topic.arn),
        )

    def delete_topic(self, arn: str) -> None:
        with self.db.transaction() as tx:
            tx.execute(
                "DELETE FROM sns_deliveries WHERE subscription_arn IN "
                "(SELECT arn FROM sns_subscriptions WHERE topic_arn = ?)", (arn,),
            )
            tx.execute("DELETE FROM sns_subscriptions WHERE topic_arn = ?", (arn,))
            tx.execute("DELETE FROM sns_messages WHERE topic_arn = ?", (arn,))
            tx.execute("DELETE FROM sns_dedup WHERE topic_arn = ?", (arn,))
            tx.execute("DELETE FROM sns_topics WHERE arn = ?", (arn,))

    def subscription_counts(self, topic_arn: str) -> tuple[int, int, int]:
        """(confirmed, pending, deleted) subscriptions of a topic."""
        rows = self.db.query(
            "SELECT confirmed, COUNT(*) FROM sns_subscriptions WHERE topic_arn = ? GROUP BY confirmed", (topic_arn,)
        )
        counts = {bool(confirmed): int(count) for confirmed, count in rows}
        deleted = self.db.query_one("SELECT subscriptions_deleted FROM sns_topics WHERE arn = ?", (topic_arn,))
        return counts.get(True, 0), counts.get(False, 0), int(deleted[0]) if deleted else 0

    # -- subscriptions ---------------------------------------------------------------------
    def insert_subscription(self, sub: Subscription) -> None:
        self.db.execute(
            f"INSERT INTO sns_subscriptions ({_SUB_COLUMNS}, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (sub.arn, sub.topic_arn, sub.account_id, sub.region, sub.protocol, sub.endpoint, int(sub.confirmed),
             sub.token, json.dumps(sub.attributes), int(sub.authenticated), time.time()),
        )

    def subscription(self, arn: str) -> Subscription | None:
        row = self.db.query_one(f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE arn = ?", (arn,))
        return _subscription(row) if row else None

    def find_subscription(self, topic_arn: str, protocol: str, endpoint: str) -> Subscription | None:
        row = self.db.query_one(
            f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND protocol = ? AND endpoint = ?",
            (topic_arn, protocol, endpoint),
        )
        return _subscription(row) if row else None

    def subscription_by_token(self, topic_arn: str, token: str) -> Subscription | None:
        row = self.db.query_one(
            f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE token = ? AND topic_arn = ?", (token, topic_arn)
        )
        return _subscription(row) if row else None

    def subscriptions_of_topic(self, topic_arn: str, after: str = "", limit: int = 1_000_000) -> list[Subscription]:
        rows = self.db.query(
            f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE topic_arn = ? AND arn > ? ORDER BY arn LIMIT ?",
            (topic_arn, after, limit),
        )
        return [_subscription(row) for row in rows]

    def subscriptions_of_account(self, account_id: str, region: str, after: str, limit: int) -> list[Subscription]:
        rows = self.db.query(
            f"SELECT {_SUB_COLUMNS} FROM sns_subscriptions WHERE account_id = ? AND region = ? AND arn > ? "
            "ORDER BY arn LIMIT ?",
            (account_id, region, after, limit),
        )
        return [_subscription(row) for row in rows]

    def update_subscription(self, sub: Subscription) -> None:
        self.db.execute(
            "UPDATE sns_subscriptions SET attributes = ?, confirmed = ?, authenticated = ? WHERE arn = ?",
            (json.dumps(sub.attributes), int(sub.confirmed), int(sub.authenticated), sub.arn),
        )

    def delete_subscription(self, sub: Subscription, kept_token: str | None = None) -> bool:
        """Delete a subscription and its pending deliveries; False when it was gone already.
        With `kept_token`, keep it restorable with that token (see unsubscribed())."""
        with self.db.transaction() as tx:
            if tx.execute("DELETE FROM sns_subscriptions WHERE arn = ?", (sub.arn,)) != 1:
                return False
            tx.execute(
                "UPDATE sns_topics SET subscriptions_deleted = subscriptions_deleted + 1 WHERE arn = ?",
                (sub.topic_arn,),
            )
            tx.execute("DELETE FROM sns_deliveries WHERE subscription_arn = ?", (sub.arn,))
            if kept_token is not None:
                now = time.time()
                tx.execute("DELETE FROM sns_unsubscribed WHERE deleted < ? OR arn = ?",
                           (now - RESTORABLE_SECONDS, sub.arn))
                tx.execute(
                    f"INSERT INTO sns_unsubscribed ({_SUB_COLUMNS}, deleted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (sub.arn, sub.topic_arn, sub.account_id, sub.region, sub.protocol, sub.endpoint,
                     int(sub.confirmed), kept_token, json.dumps(sub.attributes), int(sub.authenticated), now),
                )
        return True

    def unsubscribed(self, arn: str) -> Subscription | None:
        """A subscription unsubscribed lately and still restorable (its token is the one
        its UnsubscribeConfirmation carries)."""
        row = self.db.query_one(
            f"SELECT {_SUB_COLUMNS} FROM sns_unsubscribed WHERE arn = ? AND deleted >= ?",
            (arn, time.time() - RESTORABLE_SECONDS),
        )
        return _subscription(row) if row else None

    def restore_subscription(self, topic_arn: str, token: str) -> Subscription | None:
        """Bring back the subscription an UnsubscribeConfirmation's token names, confirmed
        (call inside a transaction); None when no restorable one has that token."""
        row = self.db.query_one(
            f"SELECT {_SUB_COLUMNS} FROM sns_unsubscribed WHERE token = ? AND topic_arn = ? AND deleted >= ?",
            (token, topic_arn, time.time() - RESTORABLE_SECONDS),
        )
        if row is None:
            return None
        sub = _subscription(row)
        self.db.execute("DELETE FROM sns_unsubscribed WHERE arn = ?", (sub.arn,))
        existing = self.find_subscription(sub.topic_arn, sub.protocol, sub.endpoint)
        if existing is not None:
            return existing  # subscribed again meanwhile: that subscription stands
        sub.confirmed = True
        self.insert_subscription(sub)
        return sub

    # -- publishing --------------------------------------------------------------------------
    def deduplicated(self, topic_arn: str, dedup_id: str, now: float) -> tuple[str, str] | None:
        """(message id, sequence number) of a message published with this id in the window."""
        row = self.db.query_one(
            "SELECT message_id, sequence_number FROM sns_dedup WHERE topic_arn = ? AND dedup_id = ? AND expires > ?",
            (topic_arn, dedup_id, now),
        )
        return (row[0], row[1]) if row else None

    def remember_dedup(self, topic_arn: str, dedup_id: str, message_id: str, sequence: str, expires: float) -> None:
        self.db.execute(
            "INSERT INTO sns_dedup (topic_arn, dedup_id, message_id, sequence_number, expires) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (topic_arn, dedup_id) DO UPDATE SET message_id = excluded.message_id, "
            "sequence_number = excluded.sequence_number, expires = excluded.expires",
            (topic_arn, dedup_id, message_id, sequence, expires),
        )

    def purge_dedup(self, now: float) -> None:
        self.db.execute("DELETE FROM sns_dedup WHERE expires <= ?", (now,))

    def enqueue(self, message: Message, deliveries: list[PendingDelivery], due: float) -> None:
        """Record a message and its deliveries (call inside the publish transaction)."""
        if not deliveries:
            return
        self.db.execute(
            "INSERT INTO sns_messages (message_id, kind, topic_arn, body, subject, structure, attributes, published, "
            "group_id, dedup_id, sequence_number, signature_version, token) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message.message_id, message.kind, message.topic_arn, message.body, message.subject, message.structure,
             json.dumps(message.attributes), message.published, message.group_id, message.dedup_id,
             message.sequence_number, message.signature_version, message.token),
        )
        tx = self.db.current_transaction()
        assert tx is not None, "enqueue belongs in the publish transaction"
        tx.executemany(
            "INSERT INTO sns_deliveries (message_id, subscription_arn, order_key, due, attempts) VALUES (?, ?, ?, ?, 0)",
            [(message.message_id, d.subscription_arn, d.order_key, due) for d in deliveries],
        )

    def has_pending(self, order_key: str) -> bool:
        """Whether a FIFO group still has a delivery waiting (or in flight) for a subscription."""
        return self.db.query_one("SELECT 1 FROM sns_deliveries WHERE order_key = ? LIMIT 1", (order_key,)) is not None

    # -- delivery ------------------------------------------------------------------------
    def claim(self, now: float, lease: float, limit: int, finished: list[Delivery] | None = None) -> list[Delivery]:
        """Due deliveries, leased to the caller until now + lease (oldest first per FIFO key).

        `finished` deliveries are removed in the same transaction (one commit for both)."""
        with self.db.transaction() as tx:
            if finished:
                self._remove(finished)
            if limit <= 0:
                return []
            rows = tx.query(
                f"SELECT d.id, d.subscription_arn, d.attempts, {_MESSAGE_COLUMNS} "
                "FROM sns_deliveries d JOIN sns_messages m ON m.message_id = d.message_id "
                "WHERE d.due <= ? AND (d.order_key IS NULL OR NOT EXISTS "
                "(SELECT 1 FROM sns_deliveries p WHERE p.order_key = d.order_key AND p.id < d.id)) "
                "ORDER BY d.due, d.id LIMIT ? FOR UPDATE OF d SKIP LOCKED",
                (now, limit),
            )
            if rows:
                tx.executemany("UPDATE sns_deliveries SET due = ? WHERE id = ?", [(now + lease, r[0]) for r in rows])
        return [Delivery(int(r[0]), r[1], int(r[2]), _message(r, 3)) for r in rows]

    def next_due(self) -> float | None:
        row = self.db.query_one("SELECT MIN(due) FROM sns_deliveries")
        return float(row[0]) if row and row[0] is not None else None

    def delivered(self, deliveries: list[Delivery]) -> None:
        """Remove deliveries that are done (delivered, dropped or dead-lettered)."""
        with self.db.transaction():
            self._remove(deliveries)

    def _remove(self, deliveries: list[Delivery]) -> None:
        tx = self.db.current_transaction()
        assert tx is not None
        tx.executemany("DELETE FROM sns_deliveries WHERE id = ?", [(d.id,) for d in deliveries])
        message_ids = sorted({d.message.message_id for d in deliveries})
        tx.executemany(
            "DELETE FROM sns_messages WHERE message_id = ? AND NOT EXISTS "
            "(SELECT 1 FROM sns_deliveries WHERE message_id = ?)",
            [(message_id, message_id) for message_id in message_ids],
        )

    def extend_lease(self, delivery: Delivery, until: float) -> None:
        self.db.execute("UPDATE sns_deliveries SET due = ? WHERE id = ?", (until, delivery.id))

    def reschedule(self, delivery: Delivery, due: float, error: str) -> None:
        self.db.execute(
            "UPDATE sns_deliveries SET due = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (due, error[:1000], delivery.id),
        )

    def pending_count(self) -> int:
        row = self.db.query_one("SELECT COUNT(*) FROM sns_deliveries")
        return int(row[0]) if row else 0

    # -- outbox ----------------------------------------------------------------------------
    def record_outbox(self, account_id: str, region: str, protocol: str, endpoint: str, topic_arn: str | None,
                      subscription_arn: str | None, message_id: str, subject: str | None, message: str) -> None:
        self.db.execute(
            "INSERT INTO sns_outbox (account_id, region, protocol, endpoint, topic_arn, subscription_arn, message_id, "
            "subject, message, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (account_id, region, protocol, endpoint, topic_arn, subscription_arn, message_id, subject, message,
             time.time()),
        )

    def outbox(self, after_id: int, limit: int, account_id: str | None = None) -> list[dict[str, Any]]:
        sql = ("SELECT id, account_id, region, protocol, endpoint, topic_arn, subscription_arn, message_id, subject, "
               "message, created FROM sns_outbox WHERE id > ?")
        params: list[Any] = [after_id]
        if account_id:
            sql += " AND account_id = ?"
            params.append(account_id)
        rows = self.db.query(sql + " ORDER BY id LIMIT ?", (*params, limit))
        names = ("id", "account_id", "region", "protocol", "endpoint", "topic_arn", "subscription_arn", "message_id",
                 "subject", "message", "created")
        return [dict(zip(names, row, strict=True)) for row in rows]

    # -- signing key ---------------------------------------------------------------------------
    def signing_material(self, generate: Any) -> KeyMaterial:
        """The stored key pair; the first caller (of any node) stores `generate()`'s."""
        row = self.db.query_one("SELECT key_pem, cert_pem FROM sns_signing_keys WHERE id = 1")
        if row is None:
            material: KeyMaterial = generate()
            self.db.execute(
                "INSERT INTO sns_signing_keys (id, key_pem, cert_pem) VALUES (1, ?, ?) ON CONFLICT (id) DO NOTHING",
                (material.key_pem, material.cert_pem),
            )
            row = self.db.query_one("SELECT key_pem, cert_pem FROM sns_signing_keys WHERE id = 1")
            assert row is not None
        return KeyMaterial(row[0], row[1])
