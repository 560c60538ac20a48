"""Log event operations: PutLogEvents, GetLogEvents and FilterLogEvents.

Reads go through SQL in bounded chunks, so a page never holds more than AWS's page limits
(10,000 events or 1 MB of messages) plus one chunk, whatever the stream's size.
"""

from __future__ import annotations

from typing import Any

from freehold.gateway.context import RequestContext
from freehold.services.base import Params
from freehold.services.logs import tokens
from freehold.services.logs.filter_pattern import compile_pattern
from freehold.services.logs.lookup import LogsOperations, now_ms
from freehold.services.logs.models import (
    EVENT_OVERHEAD,
    check_batch,
    group_not_found,
    invalid,
    sequence_token,
    stream_not_found,
)
from freehold.services.logs.store import EventRow

PAGE_BYTES = 1_048_576  # a page holds at most 1 MB of events (and 10,000 of them)
PAGE_EVENTS = 10_000
CHUNK = 1_000
# FilterLogEvents stops scanning after this many events and answers a partial (possibly
# empty) page with a nextToken, as AWS documents it may.
SCAN_BUDGET = 200_000


def _event_bytes(message: str) -> int:
    return len(message.encode("utf-8")) + EVENT_OVERHEAD


class EventOperations(LogsOperations):
    def _events_written(self, ctx: RequestContext, group_id: int, stream: str, events: list[tuple[int, str, int]]) -> None:
        """Hook: called after events were stored (subscription delivery would start here)."""

    # -- PutLogEvents ----------------------------------------------------------------------------
    def put_log_events(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group_id, retention, stream_id = self.store.resolve(
            ctx.account_id, ctx.region, params["logGroupName"], params["logStreamName"]
        )
        if group_id is None:
            raise group_not_found()
        if stream_id is None:
            raise stream_not_found()
        now = now_ms()
        batch = check_batch(params["logEvents"], now, retention)
        if batch.accepted:
            self.store.put_events(group_id, stream_id, batch.accepted, now)
            self._events_written(ctx, group_id, params["logStreamName"], batch.accepted)
        # Sequence tokens are ignored since January 2023, but the response still carries one.
        out: Params = {"nextSequenceToken": sequence_token(now)}
        if batch.rejected:
            out["rejectedLogEventsInfo"] = batch.rejected
        return out

    # -- GetLogEvents ---------------------------------------------------------------------------------
    def get_log_events(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, self._group_name(ctx, params))
        stream = self.store.get_stream(group.group_id, params["logStreamName"])
        if stream is None:
            raise stream_not_found()
        start, end = params.get("startTime"), params.get("endTime")
        limit = params.get("limit") or PAGE_EVENTS
        token = params.get("nextToken")
        if token is not None:
            forward, ts, event_id = tokens.parse_event_token(token)
            position: tuple[int, int] | None = (ts, event_id)
        else:
            forward = bool(params.get("startFromHead"))
            position = None
        rows = self._read_stream(stream.stream_id, start, end, position, forward, limit)
        if not forward:
            rows.reverse()
        if rows:
            first, last = rows[0], rows[-1]
            next_forward = tokens.event_token(True, last[2], last[0] + 1)
            next_backward = tokens.event_token(False, first[2], first[0])
        else:
            # Nothing there: answer the boundary we read from, so the caller sees its own token.
            boundary = position if position is not None else (start or 0, 0)
            next_forward = tokens.event_token(True, *boundary)
            next_backward = tokens.event_token(False, *boundary)
        return {
            "events": [{"timestamp": r[2], "message": r[4], "ingestionTime": r[3]} for r in rows],
            "nextForwardToken": next_forward,
            "nextBackwardToken": next_backward,
        }

    def _read_stream(
        self, stream_id: int, start: int | None, end: int | None, position: tuple[int, int] | None,
        forward: bool, limit: int,
    ) -> list[EventRow]:
        """Up to `limit` events (and 1 MB) from `position` in the reading direction."""
        rows: list[EventRow] = []
        size = 0
        while len(rows) < limit:
            chunk = self.store.stream_events(
                stream_id, start=start, end=end, position=position, forward=forward,
                limit=min(CHUNK, limit - len(rows)),
            )
            for row in chunk:
                size += _event_bytes(row[4])
                if size > PAGE_BYTES and rows:
                    return rows
                rows.append(row)
            if len(chunk) < CHUNK or not chunk:
                break
            last = chunk[-1]
            # Forward: resume at the boundary after the last row; backward: before it.
            position = (last[2], last[0] + 1) if forward else (last[2], last[0])
        return rows

    # -- FilterLogEvents -------------------------------------------------------------------------------
    def filter_log_events(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, self._group_name(ctx, params))
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names is not None and prefix is not None:
            raise invalid("Cannot specify both logStreamNames and logStreamNamePrefix.")
        pattern = compile_pattern(params.get("filterPattern") or "")
        limit = params.get("limit") or PAGE_EVENTS
        cursor = tokens.decode("filter", params.get("nextToken"))
        after: tuple[int, int] | None = (int(cursor[0]), int(cursor[1])) if cursor is not None else None
        streams = self.store.stream_ids(group.group_id, names=names, prefix=prefix)
        restricted = names is not None or prefix is not None
        if restricted and not streams:
            return {"events": [], "searchedLogStreams": []}
        start, end = params.get("startTime"), params.get("endTime")
        found: list[dict[str, Any]] = []
        size = scanned = 0
        while True:
            chunk = self.store.group_events(
                group.group_id, stream_ids=list(streams) if restricted else None, start=start, end=end,
                after=after, limit=CHUNK, contains=pattern.required_substrings,
            )
            for row in chunk:
                after = (row[2], row[0])
                scanned += 1
                if not pattern.matches(row[4]):
                    continue
                size += _event_bytes(row[4])
                found.append({
                    "logStreamName": streams.get(row[1]) or self._stream_name(group.group_id, row[1], streams),
                    "timestamp": row[2], "message": row[4], "ingestionTime": row[3], "eventId": f"{row[0]:056d}",
                })
                if len(found) >= limit or size >= PAGE_BYTES:
                    return self._filter_page(found, after)
            if len(chunk) < CHUNK:
                return self._filter_page(found, None)
            if scanned >= SCAN_BUDGET:
                return self._filter_page(found, after)

    def _stream_name(self, group_id: int, stream_id: int, streams: dict[int, str]) -> str:
        """A stream created after the stream map was read (the map is refreshed)."""
        streams.update(self.store.stream_ids(group_id))
        return streams.get(stream_id, "")

    @staticmethod
    def _filter_page(found: list[dict[str, Any]], after: tuple[int, int] | None) -> Params:
        # searchedLogStreams is deprecated along with `interleaved`; AWS answers it empty.
        out: Params = {"events": found, "searchedLogStreams": []}
        if after is not None:
            out["nextToken"] = tokens.encode("filter", list(after))
        return out
