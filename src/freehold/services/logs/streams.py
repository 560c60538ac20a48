"""Log stream operations: CreateLogStream, DeleteLogStream, DescribeLogStreams."""

from __future__ import annotations

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.logs import tokens
from freehold.services.logs.lookup import LogsOperations, now_ms
from freehold.services.logs.models import invalid, stream_not_found
from freehold.state.database import IntegrityError


class StreamOperations(LogsOperations):
    def create_log_stream(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        try:
            with self.store.db.transaction():
                self.store.create_stream(group.group_id, params["logStreamName"], now_ms())
        except IntegrityError:
            raise ServiceError("ResourceAlreadyExistsException", "The specified log stream already exists") from None
        return {}

    def delete_log_stream(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        stream = self.store.get_stream(group.group_id, params["logStreamName"])
        if stream is None:
            raise stream_not_found()
        self.store.delete_stream(stream.stream_id)
        return {}

    def describe_log_streams(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, self._group_name(ctx, params))
        by_last_event = params.get("orderBy") == "LastEventTime"
        prefix = params.get("logStreamNamePrefix")
        if by_last_event and prefix is not None:
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        descending = bool(params.get("descending"))
        limit = params.get("limit") or 50
        kind = f"streams:{'time' if by_last_event else 'name'}:{int(descending)}"
        after = tokens.decode(kind, params.get("nextToken"))
        streams = self.store.list_streams(
            group.group_id, prefix=prefix, by_last_event=by_last_event, descending=descending,
            after=(int(after[0]), str(after[1])) if after is not None else None, limit=limit + 1,
        )
        page = streams[:limit]
        out: Params = {"logStreams": [stream.describe(ctx.region, ctx.account_id, group.name) for stream in page]}
        if len(streams) > limit:
            last = page[-1]
            out["nextToken"] = tokens.encode(kind, [last.last_event or 0, last.name])
        return out
