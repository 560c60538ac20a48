"""The DynamoDB Streams event Lambda receives from an event source mapping, and the record
an exhausted batch sends to the mapping's on-failure destination, as AWS builds them
(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html).

A record is GetRecords' record plus eventSourceARN (the stream's ARN), with
ApproximateCreationDateTime as epoch seconds (a JSON number)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return float(int(value.timestamp()))
    return float(value)


def dynamodb_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    out = {key: value for key, value in record.items() if key != "dynamodb"}
    body = dict(record["dynamodb"])
    if "ApproximateCreationDateTime" in body:
        body["ApproximateCreationDateTime"] = _epoch(body["ApproximateCreationDateTime"])
    out["dynamodb"] = body
    out["eventSourceARN"] = stream_arn
    return out


def dynamodb_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def _iso_millis(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def failure_record(
    records: list[dict[str, Any]], stream_arn: str, shard_id: str, function_arn: str, condition: str,
    invoke_count: int, function_error: str | None, executed_version: str = "$LATEST",
) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination for a stream batch it gave up on: where
    the batch lies in the shard, not the records themselves (condition: RetryAttemptsExhausted,
    RecordAgeExceeded)."""
    first = records[0]["dynamodb"]
    last = records[-1]["dynamodb"]
    response: dict[str, Any] = {"statusCode": 200, "executedVersion": executed_version}
    if function_error:
        response["functionError"] = function_error
    return {
        "requestContext": {
            "requestId": str(uuid.uuid4()), "functionArn": function_arn,
            "condition": condition, "approximateInvokeCount": invoke_count,
        },
        "responseContext": response,
        "version": "1.0",
        "timestamp": _iso_millis(datetime.now(UTC)),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso_millis(
                datetime.fromtimestamp(_epoch(first.get("ApproximateCreationDateTime", time.time())), UTC)),
            "approximateArrivalOfLastRecord": _iso_millis(
                datetime.fromtimestamp(_epoch(last.get("ApproximateCreationDateTime", time.time())), UTC)),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }
