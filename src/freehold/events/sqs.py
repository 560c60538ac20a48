"""The SQS event Lambda receives from an event source mapping, built from ReceiveMessage's
answer exactly as AWS builds it (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
{"Records": [{messageId, receiptHandle, body, attributes, messageAttributes, md5OfBody,
(md5OfMessageAttributes), eventSource, eventSourceARN, awsRegion}]}.

Message attributes are camelCased, and every one carries the (always empty) list members
stringListValues and binaryListValues; binary values are base64 text."""

from __future__ import annotations

import base64
import json
from typing import Any


def region_of(arn: str) -> str:
    return arn.split(":")[3]


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """One record of the event from one message of ReceiveMessage's answer."""
    attributes = {name: value for name, value in (message.get("Attributes") or {}).items()}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": attributes,
        "messageAttributes": {name: _attribute(value) for name, value in (message.get("MessageAttributes") or {}).items()},
        "md5OfBody": message["MD5OfBody"],
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    record.update(eventSource="aws:sqs", eventSourceARN=queue_arn, awsRegion=region_of(queue_arn))
    return record


def _attribute(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "StringValue" in value:
        out["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        binary = value["BinaryValue"]
        out["binaryValue"] = base64.b64encode(binary).decode() if isinstance(binary, (bytes, bytearray)) else binary
    out["stringListValues"] = list(value.get("StringListValues") or [])
    out["binaryListValues"] = list(value.get("BinaryListValues") or [])
    out["dataType"] = value["DataType"]
    return out


def sqs_event(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"Records": records}


def filter_view(record: dict[str, Any]) -> dict[str, Any]:
    """The record as filter patterns see it: a body that is a JSON object is matched as that
    object; any other body as its text (with-sqs.html, "Filtering")."""
    view = dict(record)
    try:
        body = json.loads(record["body"])
    except (ValueError, TypeError):
        return view
    if isinstance(body, dict):
        view["body"] = body
    return view
