"""The DynamoDB Streams provider: ListStreams, DescribeStream, GetShardIterator, GetRecords.

DynamoDB Streams is DynamoDB's own change log (on AWS a second endpoint of the same
service), so its records live in the dynamodb package's stream tables (streams.py), written
in the same transactions as the item changes; this provider only reads them.
Shard iterators are opaque tokens naming the stream, shard and next sequence number; they
expire after 15 minutes, as on AWS.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any, ClassVar

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params, Provider, ServiceRuntime
from freehold.services.dynamodb.store import DynamoStore
from freehold.services.dynamodb.streams import RETENTION_SECONDS, Stream, StreamStore, sequence_text

ITERATOR_SECONDS = 15 * 60
MAX_RECORDS = 1000


def _not_found(arn: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", f"Requested resource not found: Stream: {arn} not found", 400)


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", message, 400)


class DynamoDbStreamsProvider(Provider):
    service: ClassVar[str] = "dynamodbstreams"

    def __init__(self, runtime: ServiceRuntime) -> None:
        super().__init__(runtime)
        self.streams = StreamStore(runtime.db)

    def start(self) -> None:
        DynamoStore(self.db).migrate()  # the schema is DynamoDB's; applying it is idempotent

    def _stream(self, ctx: RequestContext, arn: str) -> Stream:
        stream = self.streams.get(arn)
        if stream is None or stream.account_id != ctx.account_id or stream.region != ctx.region:
            raise _not_found(arn)
        return stream

    @staticmethod
    def _status(stream: Stream) -> str:
        return "ENABLED" if stream.disabled is None else "DISABLED"

    def list_streams(self, ctx: RequestContext, params: Params) -> Params:
        found = self.streams.list_streams(ctx.account_id, ctx.region, params.get("TableName"), time.time() - RETENTION_SECONDS)
        start = params.get("ExclusiveStartStreamArn")
        if start is not None:
            found = [s for s in found if s.arn > start]
        limit = params.get("Limit") or 100
        page = found[:limit]
        output: Params = {
            "Streams": [{"StreamArn": s.arn, "TableName": s.table_name, "StreamLabel": s.label} for s in page]
        }
        if len(found) > limit:
            output["LastEvaluatedStreamArn"] = page[-1].arn
        return output

    def describe_stream(self, ctx: RequestContext, params: Params) -> Params:
        stream = self._stream(ctx, params["StreamArn"])
        shard: dict[str, Any] = {"ShardId": stream.shard_id, "SequenceNumberRange": {}}
        first = self.streams.first_sequence(stream.arn)
        shard["SequenceNumberRange"]["StartingSequenceNumber"] = sequence_text(first if first is not None else stream.last_seq + 1)
        if stream.disabled is not None:
            shard["SequenceNumberRange"]["EndingSequenceNumber"] = sequence_text(stream.last_seq)
        start = params.get("ExclusiveStartShardId")
        shards = [shard] if start is None or start < stream.shard_id else []
        return {
            "StreamDescription": {
                "StreamArn": stream.arn, "StreamLabel": stream.label, "StreamStatus": self._status(stream),
                "StreamViewType": stream.view_type, "CreationRequestDateTime": stream.created,
                "TableName": stream.table_name, "KeySchema": stream.key_schema, "Shards": shards,
            }
        }

    def get_shard_iterator(self, ctx: RequestContext, params: Params) -> Params:
        stream = self._stream(ctx, params["StreamArn"])
        if params["ShardId"] != stream.shard_id:
            raise ServiceError(
                "ResourceNotFoundException",
                f"Requested resource not found: Shard does not exist", 400,
            )
        kind = params["ShardIteratorType"]
        number = params.get("SequenceNumber")
        first = self.streams.first_sequence(stream.arn)
        oldest = first if first is not None else stream.last_seq + 1
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if number is None:
                raise _validation("Must specify a sequence number when using AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER")
            if not number.isdigit():
                raise _validation(f"Invalid SequenceNumber: {number}")
            position = int(number) + (1 if kind == "AFTER_SEQUENCE_NUMBER" else 0)
            if int(number) < oldest and first is not None and int(number) < first:
                raise ServiceError(
                    "TrimmedDataAccessException",
                    "The operation attempted to read past the oldest stream record in a shard.", 400,
                )
            if int(number) > stream.last_seq:
                raise _validation(f"Invalid SequenceNumber {number} for shard {stream.shard_id}: beyond the end of the shard")
        elif number is not None:
            raise _validation("Sequence number must not be specified for TRIM_HORIZON or LATEST iterators")
        elif kind == "TRIM_HORIZON":
            position = oldest
        else:
            position = stream.last_seq + 1
        token = json.dumps({"a": stream.arn, "s": stream.shard_id, "q": position, "t": time.time()})
        return {"ShardIterator": base64.urlsafe_b64encode(token.encode()).decode()}

    def get_records(self, ctx: RequestContext, params: Params) -> Params:
        try:
            token = json.loads(base64.urlsafe_b64decode(params["ShardIterator"].encode()))
            arn, position, issued = str(token["a"]), int(token["q"]), float(token["t"])
        except (ValueError, KeyError, TypeError):
            raise _validation("Invalid ShardIterator") from None
        if time.time() - issued > ITERATOR_SECONDS:
            raise ServiceError("ExpiredIteratorException", "Iterator expired", 400)
        stream = self._stream(ctx, arn)
        first = self.streams.first_sequence(stream.arn)
        if first is not None and position < first:
            raise ServiceError(
                "TrimmedDataAccessException",
                "The operation attempted to read past the oldest stream record in a shard.", 400,
            )
        limit = params.get("Limit") or MAX_RECORDS
        records = self.streams.records(stream, position, min(limit, MAX_RECORDS))
        following = int(records[-1]["dynamodb"]["SequenceNumber"]) + 1 if records else position
        output: Params = {"Records": records}
        # A closed shard (disabled stream) read to its end has no next iterator.
        if not (stream.disabled is not None and following > stream.last_seq):
            next_token = json.dumps({"a": stream.arn, "s": stream.shard_id, "q": following, "t": time.time()})
            output["NextShardIterator"] = base64.urlsafe_b64encode(next_token.encode()).decode()
        return output
