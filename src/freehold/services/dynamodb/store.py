"""DynamoDB's persistence: tables, items, index entries, stream records, transaction tokens.

Layout (one schema on SQLite and PostgreSQL):
  ddb_tables        one row per table: its TableDescription (JSON), tags, TTL, backups.
  ddb_items         (table_id, h, pk, sk) -> item JSON. pk/sk are the order-preserving key
                    encodings (keys.py), h the 32-bit hash of pk: Query reads one (h, pk)
                    range ordered by sk; Scan reads (h, pk, sk) order, segments are h ranges.
                    `expires` holds the TTL attribute's epoch when TTL is on (partial index).
  ddb_index_items   one row per item per secondary index it appears in (sparse), keyed by
                    the index key then the table key, holding the projected attributes.
  ddb_streams / ddb_stream_records   a stream per enabling of a table's stream, one shard
                    each, records numbered gaplessly by the shard's counter row.
  ddb_transaction_tokens   ClientRequestToken idempotency of TransactWriteItems (10 minutes).
Rows are keyed by the table's id (not its name), so a deleted and re-created table never
sees the old table's rows.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from freehold.services.dynamodb.codec import decode_item
from freehold.services.dynamodb.tables import Table
from freehold.state.database import Database
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "dynamodb tables, items, indexes, streams", (
        """CREATE TABLE ddb_tables (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            table_id TEXT NOT NULL,
            description TEXT NOT NULL,
            tags TEXT NOT NULL,
            ttl TEXT NOT NULL,
            pitr INTEGER NOT NULL,
            PRIMARY KEY (account_id, region, name)
        )""",
        "CREATE UNIQUE INDEX ddb_tables_by_id ON ddb_tables (table_id)",
        """CREATE TABLE ddb_items (
            table_id TEXT NOT NULL,
            h BIGINT NOT NULL,
            pk BLOB NOT NULL,
            sk BLOB NOT NULL,
            item TEXT NOT NULL,
            size BIGINT NOT NULL,
            expires BIGINT,
            PRIMARY KEY (table_id, h, pk, sk)
        )""",
        "CREATE INDEX ddb_items_by_expiry ON ddb_items (expires) WHERE expires IS NOT NULL",
        """CREATE TABLE ddb_index_items (
            table_id TEXT NOT NULL,
            index_name TEXT NOT NULL,
            h BIGINT NOT NULL,
            pk BLOB NOT NULL,
            sk BLOB NOT NULL,
            tpk BLOB NOT NULL,
            tsk BLOB NOT NULL,
            item TEXT NOT NULL,
            size BIGINT NOT NULL,
            PRIMARY KEY (table_id, index_name, h, pk, sk, tpk, tsk)
        )""",
        """CREATE TABLE ddb_streams (
            stream_arn TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            table_name TEXT NOT NULL,
            table_id TEXT NOT NULL,
            label TEXT NOT NULL,
            view_type TEXT NOT NULL,
            key_schema TEXT NOT NULL,
            shard_id TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            disabled DOUBLE PRECISION,
            last_seq BIGINT NOT NULL
        )""",
        "CREATE INDEX ddb_streams_by_table ON ddb_streams (account_id, region, table_name)",
        """CREATE TABLE ddb_stream_records (
            stream_arn TEXT NOT NULL,
            seq BIGINT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            record TEXT NOT NULL,
            PRIMARY KEY (stream_arn, seq)
        )""",
        "CREATE INDEX ddb_stream_records_by_time ON ddb_stream_records (created)",
        """CREATE TABLE ddb_transaction_tokens (
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            token TEXT NOT NULL,
            digest TEXT NOT NULL,
            created DOUBLE PRECISION NOT NULL,
            PRIMARY KEY (account_id, region, token)
        )""",
    )),
)

_TABLE_COLUMNS = "account_id, region, table_id, description, tags, ttl, pitr"


@lru_cache(maxsize=512)
def _description(text: str) -> Any:
    return json.loads(text)


@lru_cache(maxsize=1024)
def _table(row: tuple[Any, ...]) -> Table:
    # Tables are shared through the cache, keyed by their whole stored row (so any change
    # made by any node is seen at the next read, with no invalidation): whoever changes a
    # table copies it first (Table.editable()). Sharing keeps the parsed key schema and
    # indexes (Table's cached properties) from one request to the next.
    return Table(
        account_id=row[0], region=row[1], table_id=row[2], description=_description(row[3]),
        tags=json.loads(row[4]), ttl=json.loads(row[5]), pitr=bool(row[6]),
    )


class DynamoStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("dynamodb", MIGRATIONS)

    # -- tables -----------------------------------------------------------------------------
    def table(self, account_id: str, region: str, name: str, lock: bool = False) -> Table | None:
        sql = f"SELECT {_TABLE_COLUMNS} FROM ddb_tables WHERE account_id = ? AND region = ? AND name = ?"
        if lock:
            sql += " FOR UPDATE"
        row = self.db.query_one(sql, (account_id, region, name))
        return _table(tuple(row)) if row else None

    def tables(self, account_id: str, region: str, after: str | None, limit: int) -> list[str]:
        sql = "SELECT name FROM ddb_tables WHERE account_id = ? AND region = ?"
        args: list[Any] = [account_id, region]
        if after is not None:
            sql += " AND name > ?"
            args.append(after)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        return [row[0] for row in self.db.query(sql, args)]

    def tables_with_ttl(self) -> list[Table]:
        rows = self.db.query(f"SELECT {_TABLE_COLUMNS} FROM ddb_tables WHERE ttl LIKE ?", ('%"Enabled": true%',))
        return [_table(tuple(row)) for row in rows]

    def insert_table(self, table: Table) -> None:
        self.db.execute(
            "INSERT INTO ddb_tables (account_id, region, name, table_id, description, tags, ttl, pitr) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (table.account_id, table.region, table.name, table.table_id, json.dumps(table.description),
             json.dumps(table.tags), json.dumps(table.ttl), int(table.pitr)),
        )

    def save_table(self, table: Table) -> None:
        self.db.execute(
            "UPDATE ddb_tables SET description = ?, tags = ?, ttl = ?, pitr = ? WHERE table_id = ?",
            (json.dumps(table.description), json.dumps(table.tags), json.dumps(table.ttl), int(table.pitr),
             table.table_id),
        )

    def delete_table(self, table: Table) -> None:
        self.db.execute("DELETE FROM ddb_tables WHERE table_id = ?", (table.table_id,))
        self.db.execute("DELETE FROM ddb_items WHERE table_id = ?", (table.table_id,))
        self.db.execute("DELETE FROM ddb_index_items WHERE table_id = ?", (table.table_id,))

    def table_stats(self, table_id: str) -> tuple[int, int]:
        row = self.db.query_one("SELECT COUNT(*), SUM(size) FROM ddb_items WHERE table_id = ?", (table_id,))
        return (int(row[0]), int(row[1] or 0)) if row else (0, 0)

    def index_stats(self, table_id: str, index_name: str) -> tuple[int, int]:
        row = self.db.query_one(
            "SELECT COUNT(*), SUM(size) FROM ddb_index_items WHERE table_id = ? AND index_name = ?",
            (table_id, index_name),
        )
        return (int(row[0]), int(row[1] or 0)) if row else (0, 0)

    # -- items ------------------------------------------------------------------------------
    def item(self, table_id: str, key: tuple[int, bytes, bytes], lock: bool = False) -> Any:
        """The stored item under a key (decoded), or None."""
        sql = "SELECT item FROM ddb_items WHERE table_id = ? AND h = ? AND pk = ? AND sk = ?"
        if lock:
            sql += " FOR UPDATE"
        row = self.db.query_one(sql, (table_id, key[0], key[1], key[2]))
        return decode_item(row[0]) if row else None

    def insert_item(self, table_id: str, key: tuple[int, bytes, bytes], text: str, size: int, expires: int | None) -> None:
        self.db.execute(
            "INSERT INTO ddb_items (table_id, h, pk, sk, item, size, expires) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (table_id, key[0], key[1], key[2], text, size, expires),
        )

    def upsert_items(self, table_id: str, rows: list[tuple[tuple[int, bytes, bytes], str, int, int | None]]) -> None:
        """Write items whatever was there before (puts that need nothing of the old item)."""
        self._executemany(
            "INSERT INTO ddb_items (table_id, h, pk, sk, item, size, expires) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (table_id, h, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size, "
            "expires = excluded.expires",
            [(table_id, key[0], key[1], key[2], text, size, expires) for key, text, size, expires in rows],
        )

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        tx = self.db.current_transaction()
        if tx is not None:
            tx.executemany(sql, rows)
            return
        with self.db.transaction() as tx:
            tx.executemany(sql, rows)

    def replace_item(self, table_id: str, key: tuple[int, bytes, bytes], text: str, size: int, expires: int | None) -> None:
        self.db.execute(
            "UPDATE ddb_items SET item = ?, size = ?, expires = ? WHERE table_id = ? AND h = ? AND pk = ? AND sk = ?",
            (text, size, expires, table_id, key[0], key[1], key[2]),
        )

    def delete_item(self, table_id: str, key: tuple[int, bytes, bytes]) -> None:
        self.db.execute(
            "DELETE FROM ddb_items WHERE table_id = ? AND h = ? AND pk = ? AND sk = ?",
            (table_id, key[0], key[1], key[2]),
        )

    # -- index entries ----------------------------------------------------------------------
    def insert_index_entry(
        self, table_id: str, index: str, ikey: tuple[int, bytes, bytes], tkey: tuple[int, bytes, bytes],
        text: str, size: int,
    ) -> None:
        self.db.execute(
            "INSERT INTO ddb_index_items (table_id, index_name, h, pk, sk, tpk, tsk, item, size) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (table_id, index, ikey[0], ikey[1], ikey[2], tkey[1], tkey[2], text, size),
        )

    def delete_index_entry(
        self, table_id: str, index: str, ikey: tuple[int, bytes, bytes], tkey: tuple[int, bytes, bytes]
    ) -> None:
        self.db.execute(
            "DELETE FROM ddb_index_items WHERE table_id = ? AND index_name = ? AND h = ? AND pk = ? AND sk = ? "
            "AND tpk = ? AND tsk = ?",
            (table_id, index, ikey[0], ikey[1], ikey[2], tkey[1], tkey[2]),
        )

    def delete_index(self, table_id: str, index: str) -> None:
        self.db.execute("DELETE FROM ddb_index_items WHERE table_id = ? AND index_name = ?", (table_id, index))

    # -- transactions' idempotency -----------------------------------------------------------
    def transaction_token(self, account_id: str, region: str, token: str, since: float) -> str | None:
        row = self.db.query_one(
            "SELECT digest FROM ddb_transaction_tokens WHERE account_id = ? AND region = ? AND token = ? AND created >= ?",
            (account_id, region, token, since),
        )
        return str(row[0]) if row else None

    def save_transaction_token(self, account_id: str, region: str, token: str, digest: str, now: float) -> None:
        self.db.execute("DELETE FROM ddb_transaction_tokens WHERE created < ?", (now - 600,))
        self.db.execute(
            "INSERT INTO ddb_transaction_tokens (account_id, region, token, digest, created) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (account_id, region, token) DO UPDATE SET digest = excluded.digest, created = excluded.created",
            (account_id, region, token, digest, now),
        )
