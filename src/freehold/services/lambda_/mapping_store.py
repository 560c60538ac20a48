"""Event source mappings in SQL (table lambda_event_source_mappings, Lambda's migration 2):
one row per mapping with its state, its configuration as JSON (the fields
GetEventSourceMapping answers with) and the poller's checkpoint (for streams, the last
processed sequence number per shard), so a restart resumes after the last processed record.

A lease (owner, until) says which node polls a mapping: nodes sharing a PostgreSQL database
poll each mapping from one node at a time; a dead node's mappings are taken over when its
lease runs out, and a node restarted under the same identity takes its own back at once.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from freehold.state.database import Database


@dataclass
class MappingRow:
    uuid: str
    account_id: str
    region: str
    function_name: str
    source_arn: str
    state: str
    document: dict[str, Any]
    checkpoint: dict[str, Any] = field(default_factory=dict)
    last_modified: float = 0.0

    @property
    def kind(self) -> str:
        """"sqs" or "dynamodb" (the service in the source ARN)."""
        return self.source_arn.split(":")[2]


_COLUMNS = "uuid, account_id, region, function_name, source_arn, state, document, checkpoint, last_modified"


def _row(values: Any) -> MappingRow:
    return MappingRow(values[0], values[1], values[2], values[3], values[4], values[5], json.loads(values[6]),
                      json.loads(values[7]) if values[7] else {}, float(values[8]))


class MappingStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def insert(self, row: MappingRow) -> None:
        now = time.time()
        self.db.execute(
            f"INSERT INTO lambda_event_source_mappings ({_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (row.uuid, row.account_id, row.region, row.function_name, row.source_arn, row.state,
             json.dumps(row.document), json.dumps(row.checkpoint) if row.checkpoint else None, row.last_modified, now),
        )

    def get(self, account_id: str, region: str, uuid: str) -> MappingRow | None:
        values = self.db.query_one(
            f"SELECT {_COLUMNS} FROM lambda_event_source_mappings WHERE uuid = ? AND account_id = ? AND region = ?",
            (uuid, account_id, region),
        )
        return _row(values) if values else None

    def by_uuid(self, uuid: str) -> MappingRow | None:
        values = self.db.query_one(f"SELECT {_COLUMNS} FROM lambda_event_source_mappings WHERE uuid = ?", (uuid,))
        return _row(values) if values else None

    def find(self, account_id: str, region: str, function_name: str | None, source_arn: str | None,
             after: str, limit: int) -> list[MappingRow]:
        """Mappings ordered by UUID strictly after `after`, optionally of one function / source."""
        sql = f"SELECT {_COLUMNS} FROM lambda_event_source_mappings WHERE account_id = ? AND region = ? AND uuid > ?"
        args: list[Any] = [account_id, region, after]
        if function_name is not None:
            sql += " AND function_name = ?"
            args.append(function_name)
        if source_arn is not None:
            sql += " AND source_arn = ?"
            args.append(source_arn)
        sql += " ORDER BY uuid LIMIT ?"
        args.append(limit)
        return [_row(values) for values in self.db.query(sql, tuple(args))]

    def all_rows(self) -> list[MappingRow]:
        return [_row(v) for v in self.db.query(f"SELECT {_COLUMNS} FROM lambda_event_source_mappings ORDER BY uuid")]

    def update(self, row: MappingRow) -> bool:
        return self.db.execute(
            "UPDATE lambda_event_source_mappings SET state = ?, document = ?, last_modified = ? WHERE uuid = ?",
            (row.state, json.dumps(row.document), row.last_modified, row.uuid),
        ) == 1

    def set_state(self, uuid: str, expected: str, state: str) -> bool:
        """Move a mapping from `expected` to `state` (False if another writer moved it first)."""
        return self.db.execute(
            "UPDATE lambda_event_source_mappings SET state = ?, last_modified = ? WHERE uuid = ? AND state = ?",
            (state, time.time(), uuid, expected),
        ) == 1

    def set_result(self, uuid: str, result: str) -> None:
        row = self.by_uuid(uuid)
        if row is not None and row.document.get("LastProcessingResult") != result:
            row.document["LastProcessingResult"] = result
            self.db.execute("UPDATE lambda_event_source_mappings SET document = ? WHERE uuid = ?",
                            (json.dumps(row.document), uuid))

    def save_checkpoint(self, uuid: str, checkpoint: dict[str, Any]) -> None:
        self.db.execute("UPDATE lambda_event_source_mappings SET checkpoint = ? WHERE uuid = ?",
                        (json.dumps(checkpoint), uuid))

    def delete(self, uuid: str) -> None:
        self.db.execute("DELETE FROM lambda_event_source_mappings WHERE uuid = ?", (uuid,))

    def claim(self, owner: str, lease_seconds: float) -> set[str]:
        """Take the mappings no live node holds, renew this node's leases that are past half
        their time, and return the UUIDs this node holds."""
        now = time.time()
        with self.db.transaction() as tx:
            tx.execute(
                "UPDATE lambda_event_source_mappings SET lease_owner = ?, lease_until = ? "
                "WHERE lease_until < ? OR (lease_owner = ? AND lease_until < ?)",
                (owner, now + lease_seconds, now, owner, now + lease_seconds / 2),
            )
            rows = tx.query("SELECT uuid FROM lambda_event_source_mappings WHERE lease_owner = ?", (owner,))
        return {str(row[0]) for row in rows}
