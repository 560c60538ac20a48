"""CloudWatch Logs' persistence: log groups, streams and events (and the filters and queries
stored beside them), as SQL tables with the indexes their access paths need.

Groups are keyed by (account, region, name) and get a numeric id that streams and events
refer to, so events stay small. Events are ordered everywhere by (timestamp, event_id): the
event id is an increasing integer, which breaks ties between equal timestamps in arrival
order and makes every position in a stream a stable cursor for GetLogEvents' tokens.
Two indexes serve the two readers: (stream_id, ts, event_id) for GetLogEvents and
(group_id, ts, event_id) for FilterLogEvents and retention expiry. Each event row
carries its size (UTF-8 bytes + 26, the unit AWS bills and limits) so storedBytes stays exact
when events expire.

Methods run in the caller's transaction when one is open on this thread.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from freehold.services.logs.models import LogGroup, LogStream
from freehold.state.database import Database, Row
from freehold.state.migrations import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "logs groups streams events", (
        """CREATE TABLE logs_groups (
            group_id INTEGER PRIMARY KEY AUTOINCREMENT,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            name TEXT NOT NULL,
            creation_time BIGINT NOT NULL,
            retention_days INTEGER,
            kms_key_id TEXT,
            log_group_class TEXT NOT NULL,
            deletion_protection INTEGER NOT NULL,
            tags TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX logs_groups_by_name ON logs_groups (account_id, region, name)",
        "CREATE INDEX logs_groups_by_retention ON logs_groups (retention_days)",
        """CREATE TABLE logs_streams (
            stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            creation_time BIGINT NOT NULL,
            first_event BIGINT,
            last_event BIGINT,
            last_ingestion BIGINT,
            stored_bytes BIGINT NOT NULL
        )""",
        "CREATE UNIQUE INDEX logs_streams_by_name ON logs_streams (group_id, name)",
        "CREATE INDEX logs_streams_by_last_event ON logs_streams (group_id, last_event)",
        """CREATE TABLE logs_events (
            event_id INTEGER PRIMARY KEY AUTOINCREMENT,
            group_id BIGINT NOT NULL,
            stream_id BIGINT NOT NULL,
            ts BIGINT NOT NULL,
            ingestion_time BIGINT NOT NULL,
            size INTEGER NOT NULL,
            message TEXT NOT NULL
        )""",
        "CREATE INDEX logs_events_by_stream ON logs_events (stream_id, ts, event_id)",
        "CREATE INDEX logs_events_by_group ON logs_events (group_id, ts, event_id)",
        """CREATE TABLE logs_metric_filters (
            group_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            pattern TEXT NOT NULL,
            creation_time BIGINT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (group_id, name)
        )""",
        """CREATE TABLE logs_subscription_filters (
            group_id BIGINT NOT NULL,
            name TEXT NOT NULL,
            pattern TEXT NOT NULL,
            creation_time BIGINT NOT NULL,
            body TEXT NOT NULL,
            PRIMARY KEY (group_id, name)
        )""",
        """CREATE TABLE logs_queries (
            query_id TEXT NOT NULL PRIMARY KEY,
            account_id TEXT NOT NULL,
            region TEXT NOT NULL,
            create_time BIGINT NOT NULL,
            status TEXT NOT NULL,
            body TEXT NOT NULL
        )""",
        "CREATE INDEX logs_queries_by_account ON logs_queries (account_id, region, create_time)",
    )),
)

_GROUP_COLUMNS = (
    "group_id, account_id, region, name, creation_time, retention_days, kms_key_id, log_group_class, "
    "deletion_protection, tags"
)
_STREAM_COLUMNS = "stream_id, group_id, name, creation_time, first_event, last_event, last_ingestion, stored_bytes"

EventRow = tuple[int, int, int, int, str]  # event_id, stream_id, timestamp, ingestion_time, message


def _group(row: Row) -> LogGroup:
    return LogGroup(
        group_id=int(row[0]), account_id=row[1], region=row[2], name=row[3], creation_time=int(row[4]),
        retention_days=row[5], kms_key_id=row[6], log_group_class=row[7], deletion_protection=bool(row[8]),
        tags=json.loads(row[9]),
    )


def _stream(row: Row) -> LogStream:
    return LogStream(
        stream_id=int(row[0]), group_id=int(row[1]), name=row[2], creation_time=int(row[3]),
        first_event=row[4], last_event=row[5], last_ingestion=row[6], stored_bytes=int(row[7]),
    )


def like_prefix(prefix: str) -> str:
    """A LIKE pattern matching names that start with `prefix` (with ESCAPE '\\')."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


class LogsStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def migrate(self) -> None:
        self.db.migrate("logs", MIGRATIONS)

    # -- groups ---------------------------------------------------------------------------------
    def create_group(self, group: LogGroup) -> None:
        """Insert a group; IntegrityError when the name exists in the account and region."""
        self.db.execute(
            "INSERT INTO logs_groups (account_id, region, name, creation_time, retention_days, kms_key_id, "
            "log_group_class, deletion_protection, tags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                group.account_id, group.region, group.name, group.creation_time, group.retention_days,
                group.kms_key_id, group.log_group_class, int(group.deletion_protection), json.dumps(group.tags),
            ),
        )

    def get_group(self, account_id: str, region: str, name: str, *, lock: bool = False) -> LogGroup | None:
        sql = f"SELECT {_GROUP_COLUMNS} FROM logs_groups WHERE account_id = ? AND region = ? AND name = ?"
        row = self.db.query_one(sql + (" FOR UPDATE" if lock else ""), (account_id, region, name))
        return _group(row) if row else None

    def list_groups(
        self, account_id: str, region: str, *, prefix: str | None = None, contains: str | None = None,
        log_group_class: str | None = None, names: Sequence[str] | None = None, after: str | None = None,
        limit: int = 50,
    ) -> list[LogGroup]:
        sql = f"SELECT {_GROUP_COLUMNS} FROM logs_groups WHERE account_id = ? AND region = ?"
        args: list[Any] = [account_id, region]
        if prefix:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append(like_prefix(prefix))
        if contains:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append("%" + like_prefix(contains))
        if log_group_class:
            sql += " AND log_group_class = ?"
            args.append(log_group_class)
        if names is not None:
            if not names:
                return []
            sql += " AND name IN (" + ", ".join("?" for _ in names) + ")"
            args.extend(names)
        if after is not None:
            sql += " AND name > ?"
            args.append(after)
        sql += " ORDER BY name LIMIT ?"
        args.append(limit)
        return [_group(row) for row in self.db.query(sql, args)]

    def group_stats(self, group_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
        """group id -> (stored bytes, metric filter count)."""
        if not group_ids:
            return {}
        marks = ", ".join("?" for _ in group_ids)
        stats = {group_id: [0, 0] for group_id in group_ids}
        for group_id, stored in self.db.query(
            f"SELECT group_id, SUM(stored_bytes) FROM logs_streams WHERE group_id IN ({marks}) GROUP BY group_id",
            list(group_ids),
        ):
            stats[int(group_id)][0] = int(stored or 0)
        for group_id, count in self.db.query(
            f"SELECT group_id, COUNT(*) FROM logs_metric_filters WHERE group_id IN ({marks}) GROUP BY group_id",
            list(group_ids),
        ):
            stats[int(group_id)][1] = int(count)
        return {group_id: (values[0], values[1]) for group_id, values in stats.items()}

    def update_group(self, group_id: int, **columns: Any) -> None:
        allowed = {"retention_days", "kms_key_id", "deletion_protection", "tags"}
        assert set(columns) <= allowed, columns
        values = [json.dumps(v) if k == "tags" else (int(v) if k == "deletion_protection" else v)
                  for k, v in columns.items()]
        assignments = ", ".join(f"{name} = ?" for name in columns)
        self.db.execute(f"UPDATE logs_groups SET {assignments} WHERE group_id = ?", (*values, group_id))

    def delete_group(self, group_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM logs_events WHERE group_id = ?", (group_id,))
            tx.execute("DELETE FROM logs_streams WHERE group_id = ?", (group_id,))
            tx.execute("DELETE FROM logs_metric_filters WHERE group_id = ?", (group_id,))
            tx.execute("DELETE FROM logs_subscription_filters WHERE group_id = ?", (group_id,))
            tx.execute("DELETE FROM logs_groups WHERE group_id = ?", (group_id,))

    def groups_with_retention(self) -> list[tuple[int, int]]:
        """(group id, retention days) of every group, in every account, that has a policy."""
        rows = self.db.query("SELECT group_id, retention_days FROM logs_groups WHERE retention_days IS NOT NULL")
        return [(int(group_id), int(days)) for group_id, days in rows]

    # -- streams --------------------------------------------------------------------------------
    def create_stream(self, group_id: int, name: str, creation_time: int) -> None:
        self.db.execute(
            "INSERT INTO logs_streams (group_id, name, creation_time, stored_bytes) VALUES (?, ?, ?, 0)",
            (group_id, name, creation_time),
        )

    def get_stream(self, group_id: int, name: str) -> LogStream | None:
        row = self.db.query_one(
            f"SELECT {_STREAM_COLUMNS} FROM logs_streams WHERE group_id = ? AND name = ?", (group_id, name)
        )
        return _stream(row) if row else None

    def resolve(self, account_id: str, region: str, group: str, stream: str) -> tuple[int | None, int | None, int | None]:
        """(group id, retention days, stream id) of a group and one of its streams; None where
        missing (the group id is None when the group does not exist)."""
        row = self.db.query_one(
            "SELECT g.group_id, g.retention_days, s.stream_id FROM logs_groups g "
            "LEFT JOIN logs_streams s ON s.group_id = g.group_id AND s.name = ? "
            "WHERE g.account_id = ? AND g.region = ? AND g.name = ?",
            (stream, account_id, region, group),
        )
        if row is None:
            return None, None, None
        return int(row[0]), row[1], (int(row[2]) if row[2] is not None else None)

    def delete_stream(self, stream_id: int) -> None:
        with self.db.transaction() as tx:
            tx.execute("DELETE FROM logs_events WHERE stream_id = ?", (stream_id,))
            tx.execute("DELETE FROM logs_streams WHERE stream_id = ?", (stream_id,))

    def list_streams(
        self, group_id: int, *, prefix: str | None, by_last_event: bool, descending: bool,
        after: tuple[int, str] | None, limit: int,
    ) -> list[LogStream]:
        """Streams in name order, or by last event time (then name); `after` is the sort key
        of the last stream of the previous page."""
        sql = f"SELECT {_STREAM_COLUMNS} FROM logs_streams WHERE group_id = ?"
        args: list[Any] = [group_id]
        if prefix:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append(like_prefix(prefix))
        direction = "DESC" if descending else "ASC"
        compare = "<" if descending else ">"
        if by_last_event:
            key = "COALESCE(last_event, 0)"
            if after is not None:
                sql += f" AND ({key} {compare} ? OR ({key} = ? AND name {compare} ?))"
                args += [after[0], after[0], after[1]]
            sql += f" ORDER BY {key} {direction}, name {direction}"
        else:
            if after is not None:
                sql += f" AND name {compare} ?"
                args.append(after[1])
            sql += f" ORDER BY name {direction}"
        sql += " LIMIT ?"
        args.append(limit)
        return [_stream(row) for row in self.db.query(sql, args)]

    def stream_ids(self, group_id: int, *, names: Sequence[str] | None = None, prefix: str | None = None) -> dict[int, str]:
        """stream id -> name for a group's streams, optionally only the named or prefixed ones."""
        sql = "SELECT stream_id, name FROM logs_streams WHERE group_id = ?"
        args: list[Any] = [group_id]
        if names is not None:
            if not names:
                return {}
            sql += " AND name IN (" + ", ".join("?" for _ in names) + ")"
            args.extend(names)
        if prefix:
            sql += " AND name LIKE ? ESCAPE '\\'"
            args.append(like_prefix(prefix))
        return {int(stream_id): name for stream_id, name in self.db.query(sql, args)}

    # -- events ---------------------------------------------------------------------------------
    def put_events(
        self, group_id: int, stream_id: int, events: Sequence[tuple[int, str, int]], ingestion_time: int
    ) -> None:
        """Store accepted events (timestamp, message, size) and update the stream's figures."""
        with self.db.transaction() as tx:
            tx.executemany(
                "INSERT INTO logs_events (group_id, stream_id, ts, ingestion_time, size, message) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(group_id, stream_id, ts, ingestion_time, size, message) for ts, message, size in events],
            )
            first = min(event[0] for event in events)
            last = max(event[0] for event in events)
            size = sum(event[2] for event in events)
            tx.execute(
                "UPDATE logs_streams SET "
                "first_event = CASE WHEN first_event IS NULL OR first_event > ? THEN ? ELSE first_event END, "
                "last_event = CASE WHEN last_event IS NULL OR last_event < ? THEN ? ELSE last_event END, "
                "last_ingestion = ?, stored_bytes = stored_bytes + ? WHERE stream_id = ?",
                (first, first, last, last, ingestion_time, size, stream_id),
            )

    def stream_events(
        self, stream_id: int, *, start: int | None, end: int | None, position: tuple[int, int] | None,
        forward: bool, limit: int,
    ) -> list[EventRow]:
        """Up to `limit` events of a stream in [start, end), at or after `position` (forward,
        ascending) or before it (backward, returned descending)."""
        sql = "SELECT event_id, stream_id, ts, ingestion_time, message FROM logs_events WHERE stream_id = ?"
        args: list[Any] = [stream_id]
        if start is not None:
            sql += " AND ts >= ?"
            args.append(start)
        if end is not None:
            sql += " AND ts < ?"
            args.append(end)
        if position is not None:
            if forward:
                sql += " AND (ts > ? OR (ts = ? AND event_id >= ?))"
            else:
                sql += " AND (ts < ? OR (ts = ? AND event_id < ?))"
            args += [position[0], position[0], position[1]]
        order = "ASC" if forward else "DESC"
        sql += f" ORDER BY ts {order}, event_id {order} LIMIT ?"
        args.append(limit)
        return [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4]) for r in self.db.query(sql, args)]

    def group_events(
        self, group_id: int, *, stream_ids: Sequence[int] | None, start: int | None, end: int | None,
        after: tuple[int, int] | None, limit: int, contains: Sequence[str] = (),
    ) -> list[EventRow]:
        """Up to `limit` events of a group (optionally of some streams) with start <= timestamp
        <= end, strictly after the (timestamp, event id) `after`, ascending; `contains` are
        substrings every returned message has (a prefilter for filter patterns)."""
        sql = "SELECT event_id, stream_id, ts, ingestion_time, message FROM logs_events WHERE group_id = ?"
        args: list[Any] = [group_id]
        if stream_ids is not None:
            sql += " AND stream_id IN (" + ", ".join("?" for _ in stream_ids) + ")"
            args.extend(stream_ids)
        if start is not None:
            sql += " AND ts >= ?"
            args.append(start)
        if end is not None:
            sql += " AND ts <= ?"
            args.append(end)
        if after is not None:
            sql += " AND (ts > ? OR (ts = ? AND event_id > ?))"
            args += [after[0], after[0], after[1]]
        for text in contains:
            sql += " AND message LIKE ? ESCAPE '\\'"
            args.append("%" + like_prefix(text))
        sql += " ORDER BY ts, event_id LIMIT ?"
        args.append(limit)
        return [(int(r[0]), int(r[1]), int(r[2]), int(r[3]), r[4]) for r in self.db.query(sql, args)]

    def expire_events(self, group_id: int, before: int) -> int:
        """Delete a group's events with ts < `before`; keep the streams' figures exact."""
        with self.db.transaction() as tx:
            freed = tx.query(
                "SELECT stream_id, SUM(size) FROM logs_events WHERE group_id = ? AND ts < ? GROUP BY stream_id",
                (group_id, before),
            )
            if not freed:
                return 0
            deleted = tx.execute("DELETE FROM logs_events WHERE group_id = ? AND ts < ?", (group_id, before))
            tx.executemany(
                "UPDATE logs_streams SET stored_bytes = stored_bytes - ?, first_event = "
                "(SELECT MIN(ts) FROM logs_events WHERE logs_events.stream_id = logs_streams.stream_id) "
                "WHERE stream_id = ?",
                [(int(size), int(stream_id)) for stream_id, size in freed],
            )
            return deleted

    # -- metric and subscription filters -------------------------------------------------------------
    def put_filter(self, table: str, group_id: int, name: str, pattern: str, creation_time: int, body: dict[str, Any]) -> None:
        assert table in ("logs_metric_filters", "logs_subscription_filters")
        self.db.execute(
            f"INSERT INTO {table} (group_id, name, pattern, creation_time, body) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (group_id, name) DO UPDATE SET pattern = excluded.pattern, body = excluded.body",
            (group_id, name, pattern, creation_time, json.dumps(body)),
        )

    def delete_filter(self, table: str, group_id: int, name: str) -> bool:
        assert table in ("logs_metric_filters", "logs_subscription_filters")
        return self.db.execute(f"DELETE FROM {table} WHERE group_id = ? AND name = ?", (group_id, name)) > 0

    def count_filters(self, table: str, group_id: int) -> int:
        assert table in ("logs_metric_filters", "logs_subscription_filters")
        row = self.db.query_one(f"SELECT COUNT(*) FROM {table} WHERE group_id = ?", (group_id,))
        return int(row[0]) if row else 0

    def list_filters(
        self, table: str, *, group_ids: Sequence[int], prefix: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[tuple[str, str, str, int, dict[str, Any]]]:
        """(group name, filter name, pattern, creation time, body), by group name then filter name."""
        assert table in ("logs_metric_filters", "logs_subscription_filters")
        if not group_ids:
            return []
        sql = (
            f"SELECT g.name, f.name, f.pattern, f.creation_time, f.body FROM {table} f "
            "JOIN logs_groups g ON g.group_id = f.group_id WHERE f.group_id IN ("
            + ", ".join("?" for _ in group_ids) + ")"
        )
        args: list[Any] = list(group_ids)
        if prefix:
            sql += " AND f.name LIKE ? ESCAPE '\\'"
            args.append(like_prefix(prefix))
        if after is not None:
            sql += " AND (g.name > ? OR (g.name = ? AND f.name > ?))"
            args += [after[0], after[0], after[1]]
        sql += " ORDER BY g.name, f.name LIMIT ?"
        args.append(limit)
        return [(r[0], r[1], r[2], int(r[3]), json.loads(r[4])) for r in self.db.query(sql, args)]

    # -- Logs Insights queries -----------------------------------------------------------------------
    def save_query(self, query_id: str, account_id: str, region: str, create_time: int, status: str,
                   body: dict[str, Any]) -> None:
        self.db.execute(
            "INSERT INTO logs_queries (query_id, account_id, region, create_time, status, body) VALUES (?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (query_id) DO UPDATE SET status = excluded.status, body = excluded.body",
            (query_id, account_id, region, create_time, status, json.dumps(body)),
        )

    def get_query(self, account_id: str, region: str, query_id: str) -> tuple[int, str, dict[str, Any]] | None:
        row = self.db.query_one(
            "SELECT create_time, status, body FROM logs_queries WHERE account_id = ? AND region = ? AND query_id = ?",
            (account_id, region, query_id),
        )
        return (int(row[0]), row[1], json.loads(row[2])) if row else None

    def list_queries(self, account_id: str, region: str, status: str | None) -> list[tuple[str, int, str, dict[str, Any]]]:
        sql = "SELECT query_id, create_time, status, body FROM logs_queries WHERE account_id = ? AND region = ?"
        args: list[Any] = [account_id, region]
        if status:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY create_time DESC, query_id"
        return [(r[0], int(r[1]), r[2], json.loads(r[3])) for r in self.db.query(sql, args)]
