"""DynamoDB Streams' records: written in the item change's own transaction, read by the
dynamodbstreams API.

Each enabling of a table's stream creates a stream (its ARN ends in the label, the time it
was enabled) with one shard. Records are numbered by the shard's counter row, incremented
in the writing transaction, so sequence numbers are gapless and in commit order per shard.
Records are kept 24 hours (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Streams.html);
a disabled stream (or one whose table was deleted) stays readable for those 24 hours.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from freehold.services.dynamodb.codec import decode_item, encode_item
from freehold.services.dynamodb.tables import Table
from freehold.services.dynamodb.types import Item, item_size
from freehold.state.database import Database

RETENTION_SECONDS = 24 * 3600
SEQUENCE_DIGITS = 21


def sequence_text(seq: int) -> str:
    return f"{seq:0{SEQUENCE_DIGITS}d}"


@dataclass(frozen=True)
class Stream:
    arn: str
    account_id: str
    region: str
    table_name: str
    table_id: str
    label: str
    view_type: str
    key_schema: list[dict[str, str]]
    shard_id: str
    created: float
    disabled: float | None
    last_seq: int


_STREAM_COLUMNS = (
    "stream_arn, account_id, region, table_name, table_id, label, view_type, key_schema, shard_id, created, "
    "disabled, last_seq"
)


def _stream(row: tuple[Any, ...]) -> Stream:
    return Stream(row[0], row[1], row[2], row[3], row[4], row[5], row[6], json.loads(row[7]), row[8],
                  float(row[9]), None if row[10] is None else float(row[10]), int(row[11]))


class StreamStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    # -- lifecycle --------------------------------------------------------------------------
    def create(self, table: Table, now: float) -> None:
        arn = table.stream_arn
        assert arn is not None and table.stream_view_type is not None
        shard_id = f"shardId-{int(now * 1000):020d}-{secrets.token_hex(4)}"
        self.db.execute(
            f"INSERT INTO ddb_streams ({_STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (arn, table.account_id, table.region, table.name, table.table_id, table.description["LatestStreamLabel"],
             table.stream_view_type, json.dumps(table.description["KeySchema"]), shard_id, now, None, 0),
        )

    def disable(self, arn: str, now: float) -> None:
        self.db.execute("UPDATE ddb_streams SET disabled = ? WHERE stream_arn = ? AND disabled IS NULL", (now, arn))

    def get(self, arn: str) -> Stream | None:
        row = self.db.query_one(f"SELECT {_STREAM_COLUMNS} FROM ddb_streams WHERE stream_arn = ?", (arn,))
        return _stream(row) if row else None

    def list_streams(self, account_id: str, region: str, table_name: str | None, since: float) -> list[Stream]:
        sql = f"SELECT {_STREAM_COLUMNS} FROM ddb_streams WHERE account_id = ? AND region = ? AND (disabled IS NULL OR disabled >= ?)"
        args: list[Any] = [account_id, region, since]
        if table_name is not None:
            sql += " AND table_name = ?"
            args.append(table_name)
        sql += " ORDER BY stream_arn"
        return [_stream(row) for row in self.db.query(sql, args)]

    def trim(self, now: float) -> None:
        """Drop records past retention, and streams disabled for longer than that."""
        cutoff = now - RETENTION_SECONDS
        self.db.execute("DELETE FROM ddb_stream_records WHERE created < ?", (cutoff,))
        for (arn,) in self.db.query("SELECT stream_arn FROM ddb_streams WHERE disabled IS NOT NULL AND disabled < ?", (cutoff,)):
            self.db.execute("DELETE FROM ddb_stream_records WHERE stream_arn = ?", (arn,))
            self.db.execute("DELETE FROM ddb_streams WHERE stream_arn = ?", (arn,))

    # -- records ----------------------------------------------------------------------------
    def append(
        self, table: Table, keys: Item, old: Item | None, new: Item | None, now: float, service_delete: bool = False
    ) -> None:
        """Record one item change (inside the change's transaction)."""
        view = table.stream_view_type
        arn = table.stream_arn
        if view is None or arn is None:
            return
        row = self.db.query_one(
            "UPDATE ddb_streams SET last_seq = last_seq + 1 WHERE stream_arn = ? RETURNING last_seq", (arn,)
        )
        if row is None:
            return
        seq = int(row[0])
        event = "INSERT" if old is None else ("REMOVE" if new is None else "MODIFY")
        record: dict[str, Any] = {
            "eventID": uuid.uuid4().hex, "eventName": event, "Keys": encode_item(keys), "view": view,
        }
        size = item_size(keys)
        if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
            record["NewImage"] = encode_item(new)
            size += item_size(new)
        if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            record["OldImage"] = encode_item(old)
            size += item_size(old)
        record["SizeBytes"] = size
        if service_delete:
            record["service"] = True
        self.db.execute(
            "INSERT INTO ddb_stream_records (stream_arn, seq, created, record) VALUES (?, ?, ?, ?)",
            (arn, seq, now, json.dumps(record)),
        )

    def first_sequence(self, arn: str) -> int | None:
        row = self.db.query_one("SELECT MIN(seq) FROM ddb_stream_records WHERE stream_arn = ?", (arn,))
        return None if row is None or row[0] is None else int(row[0])

    def records(self, stream: Stream, start: int, limit: int) -> list[dict[str, Any]]:
        rows = self.db.query(
            "SELECT seq, created, record FROM ddb_stream_records WHERE stream_arn = ? AND seq >= ? ORDER BY seq LIMIT ?",
            (stream.arn, start, limit),
        )
        return [wire_record(stream, int(seq), float(created), json.loads(text)) for seq, created, text in rows]


def wire_record(stream: Stream, seq: int, created: float, stored: dict[str, Any]) -> dict[str, Any]:
    """A stored record as GetRecords returns it."""
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": float(int(created)),
        "Keys": decode_item(stored["Keys"]),
        "SequenceNumber": sequence_text(seq),
        "SizeBytes": stored["SizeBytes"],
        "StreamViewType": stored["view"],
    }
    if "NewImage" in stored:
        body["NewImage"] = decode_item(stored["NewImage"])
    if "OldImage" in stored:
        body["OldImage"] = decode_item(stored["OldImage"])
    record: dict[str, Any] = {
        "eventID": stored["eventID"], "eventName": stored["eventName"], "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": stream.region, "dynamodb": body,
    }
    if stored.get("service"):
        # TTL deletions are done by the service itself (Streams developer guide, "Time to Live").
        record["userIdentity"] = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    return record


def now() -> float:
    return time.time()
