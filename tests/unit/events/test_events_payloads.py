"""The SQS and DynamoDB Streams event payloads (freehold.events.sqs, .dynamodb) against the
shapes in AWS's Lambda developer guide (with-sqs.html, with-ddb.html)."""

from __future__ import annotations

from freehold.events import dynamodb, sqs
from freehold.events.filtering import matches, parse_pattern

QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:orders"
STREAM_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/T/stream/2024-01-01T00:00:00.000"


def test_sqs_record_shape() -> None:
    message = {
        "MessageId": "m1", "ReceiptHandle": "rh", "MD5OfBody": "md5", "Body": '{"a": 1}',
        "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1700000000000"},
        "MessageAttributes": {"n": {"DataType": "Number", "StringValue": "5"},
                              "b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}},
        "MD5OfMessageAttributes": "md5a",
    }
    record = sqs.sqs_record(message, QUEUE_ARN)
    assert list(record) == ["messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
                            "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"]
    assert record["messageAttributes"]["n"] == {"stringValue": "5", "stringListValues": [], "binaryListValues": [],
                                                "dataType": "Number"}
    assert record["messageAttributes"]["b"]["binaryValue"] == "AAE="
    assert (record["eventSource"], record["awsRegion"]) == ("aws:sqs", "eu-west-1")
    assert sqs.filter_view(record)["body"] == {"a": 1}
    plain = sqs.sqs_record({**message, "Body": "text", "MessageAttributes": {}, "MD5OfMessageAttributes": None},
                           QUEUE_ARN)
    assert sqs.filter_view(plain)["body"] == "text" and "md5OfMessageAttributes" not in plain
    assert sqs.sqs_event([record]) == {"Records": [record]}


def test_dynamodb_record_and_failure_record() -> None:
    raw = {"eventID": "e1", "eventName": "INSERT", "eventVersion": "1.1", "eventSource": "aws:dynamodb",
           "awsRegion": "eu-west-1", "dynamodb": {"ApproximateCreationDateTime": 1700000000.0,
                                                  "Keys": {"id": {"S": "a"}}, "SequenceNumber": "100",
                                                  "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}}
    record = dynamodb.dynamodb_record(raw, STREAM_ARN)
    assert record["eventSourceARN"] == STREAM_ARN and record["dynamodb"]["Keys"] == {"id": {"S": "a"}}
    second = dynamodb.dynamodb_record({**raw, "dynamodb": {**raw["dynamodb"], "SequenceNumber": "200"}}, STREAM_ARN)
    failure = dynamodb.failure_record([record, second], STREAM_ARN, "shardId-1", "arn:fn", "RetryAttemptsExhausted",
                                      3, "Unhandled")
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("100", "200", 2)
    assert info["approximateArrivalOfFirstRecord"] == "2023-11-14T22:13:20.000Z"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["responseContext"]["functionError"] == "Unhandled"


def test_dynamodb_filters_see_typed_images() -> None:
    raw = {"eventID": "e1", "eventName": "MODIFY", "dynamodb": {
        "NewImage": {"id": {"S": "a"}, "qty": {"N": "5"}}, "SequenceNumber": "1"}}
    record = dynamodb.dynamodb_record(raw, STREAM_ARN)
    assert matches(parse_pattern('{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"id": {"S": ["a"]}}}}'), record)
    assert not matches(parse_pattern('{"dynamodb": {"NewImage": {"id": {"S": [{"prefix": "b"}]}}}}'), record)
    assert matches(parse_pattern('{"dynamodb": {"OldImage": [{"exists": false}]}}'), record)
