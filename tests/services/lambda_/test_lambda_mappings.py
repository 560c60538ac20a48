"""Event source mappings through boto3: the control plane (states, defaults, errors,
pagination), SQS -> Lambda (delete on success, partial batch failures, filters), DynamoDB
Streams -> Lambda (NEW_AND_OLD_IMAGES), and a mapping that survives kill -9 and resumes after
its checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lambda_helpers import create_function, error_of, make_zip, unique

AWS = str(Path(sys.executable).parent / "aws")

SINK_HANDLER = make_zip({"app.py": """
import json, os, boto3
ddb = boto3.client("dynamodb")

def handler(event, context):
    failures = []
    for record in event["Records"]:
        rid = record.get("messageId") or record["eventID"]
        ddb.update_item(TableName=os.environ["SINK"], Key={"id": {"S": rid}},
                        UpdateExpression="SET rec = :r, req = :q ADD n :one",
                        ExpressionAttributeValues={":r": {"S": json.dumps(record)}, ":one": {"N": "1"},
                                                   ":q": {"S": context.aws_request_id}})
        if "bad" in record.get("body", ""):
            failures.append({"itemIdentifier": rid})
    return {"batchItemFailures": failures}
"""})


def wait_for(check: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


@pytest.fixture(scope="module")
def ddb(freehold: Any) -> Any:
    return freehold.client("dynamodb")


@pytest.fixture(scope="module")
def sqs(freehold: Any) -> Any:
    return freehold.client("sqs")


def make_table(ddb: Any, stream: bool = False) -> tuple[str, str | None]:
    name = unique("tbl")
    extra: dict[str, Any] = {}
    if stream:
        extra["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    answer = ddb.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST", **extra)
    return name, answer["TableDescription"].get("LatestStreamArn")


def sink_items(ddb: Any, table: str) -> dict[str, tuple[dict[str, Any], int]]:
    items = ddb.scan(TableName=table, ConsistentRead=True)["Items"]
    return {i["id"]["S"]: (json.loads(i["rec"]["S"]), int(i["n"]["N"])) for i in items}


def make_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def sink_function(lam: Any, role: str, table: str) -> str:
    return create_function(lam, role, SINK_HANDLER, Environment={"Variables": {"SINK": table}}, Timeout=30)


def wait_state(lam: Any, uuid: str, state: str) -> dict[str, Any]:
    return dict(wait_for(lambda: (m := lam.get_event_source_mapping(UUID=uuid))["State"] == state and m))


def in_queue(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_sqs_mapping_lifecycle_and_errors(lam: Any, role: str, sqs: Any) -> None:
    fn = create_function(lam, role)
    _, arn = make_queue(sqs)
    _, other_arn = make_queue(sqs)
    created = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn)
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10 and created["MaximumBatchingWindowInSeconds"] == 0
    assert created["EventSourceArn"] == arn and created["FunctionArn"].endswith(f":function:{fn}")
    assert created["StateTransitionReason"] == "USER_INITIATED" and "StartingPosition" not in created
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    wait_state(lam, created["UUID"], "Enabled")

    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn)
    code, message, status = error_of(excinfo)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message == (f'An event source mapping with SQS arn (" {arn} ") and function (" {fn} ") already exists. '
                       f'Please update or delete the existing mapping with UUID {created["UUID"]}')

    second = lam.create_event_source_mapping(EventSourceArn=other_arn, FunctionName=fn, BatchSize=50,
                                             MaximumBatchingWindowInSeconds=1, Enabled=False)
    wait_state(lam, second["UUID"], "Disabled")
    listed = lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"]
    assert {m["UUID"] for m in listed} == {created["UUID"], second["UUID"]}
    by_source = lam.list_event_source_mappings(EventSourceArn=other_arn)["EventSourceMappings"]
    assert [m["UUID"] for m in by_source] == [second["UUID"]]
    first_page = lam.list_event_source_mappings(FunctionName=fn, MaxItems=1)
    rest = lam.list_event_source_mappings(FunctionName=fn, Marker=first_page["NextMarker"])
    assert len(first_page["EventSourceMappings"]) == 1 and "NextMarker" not in rest
    assert {m["UUID"] for m in first_page["EventSourceMappings"] + rest["EventSourceMappings"]} == \
        {created["UUID"], second["UUID"]}

    updated = lam.update_event_source_mapping(UUID=created["UUID"], BatchSize=5)
    assert updated["State"] == "Updating" and updated["BatchSize"] == 5
    wait_state(lam, created["UUID"], "Enabled")
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=False)["State"] == "Disabling"
    wait_state(lam, created["UUID"], "Disabled")
    assert lam.update_event_source_mapping(UUID=created["UUID"], Enabled=True)["State"] == "Enabling"
    wait_state(lam, created["UUID"], "Enabled")

    bad_calls: list[tuple[dict[str, Any], str]] = [
        ({"EventSourceArn": arn, "FunctionName": fn, "StartingPosition": "LATEST"}, "InvalidParameterValueException"),
        ({"EventSourceArn": other_arn, "FunctionName": create_function(lam, role), "BatchSize": 11},
         "InvalidParameterValueException"),
        ({"EventSourceArn": arn + "-missing", "FunctionName": fn}, "InvalidParameterValueException"),
        ({"EventSourceArn": arn, "FunctionName": unique("nofn")}, "ResourceNotFoundException"),
        ({"EventSourceArn": arn.replace(":sqs:", ":sns:"), "FunctionName": fn}, "InvalidParameterValueException"),
        ({"EventSourceArn": other_arn, "FunctionName": fn, "FilterCriteria": {"Filters": [{"Pattern": "{nope"}]}},
         "InvalidParameterValueException"),
    ]
    for kwargs, expected in bad_calls:
        with pytest.raises(ClientError) as excinfo:
            lam.create_event_source_mapping(**kwargs)
        assert error_of(excinfo)[0] == expected, kwargs
    with pytest.raises(ClientError) as excinfo:
        lam.get_event_source_mapping(UUID="00000000-0000-0000-0000-000000000000")
    assert error_of(excinfo) == ("ResourceNotFoundException", "The resource you requested does not exist.", 404)

    for uuid in (created["UUID"], second["UUID"]):
        assert lam.delete_event_source_mapping(UUID=uuid)["State"] == "Deleting"
    wait_for(lambda: not lam.list_event_source_mappings(FunctionName=fn)["EventSourceMappings"])


def test_sqs_to_lambda_deletes_processed_messages(lam: Any, role: str, sqs: Any, ddb: Any) -> None:
    table, _ = make_table(ddb)
    fn = sink_function(lam, role, table)
    url, arn = make_queue(sqs)
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=3)
    for index in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=f"hello {index}",
                         MessageAttributes={"color": {"DataType": "String", "StringValue": "blue"}})
    items = wait_for(lambda: len(got := sink_items(ddb, table)) == 5 and got)
    bodies = sorted(record["body"] for record, _ in items.values())
    assert bodies == [f"hello {i}" for i in range(5)]
    record, count = next(iter(items.values()))
    assert count == 1
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert record["awsRegion"] == "us-east-1" and record["receiptHandle"] and record["md5OfBody"]
    assert record["messageAttributes"] == {"color": {"stringValue": "blue", "stringListValues": [],
                                                     "binaryListValues": [], "dataType": "String"}}
    assert record["attributes"]["ApproximateReceiveCount"] == "1" and "SentTimestamp" in record["attributes"]
    wait_for(lambda: in_queue(sqs, url) == 0)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])

    # A batching window gathers more than one ReceiveMessage's worth into one invocation.
    url2, arn2 = make_queue(sqs)
    for start in (0, 10):
        sqs.send_message_batch(QueueUrl=url2, Entries=[{"Id": str(i), "MessageBody": f"w{start + i}"}
                                                       for i in range(min(10, 15 - start))])
    mapping = lam.create_event_source_mapping(EventSourceArn=arn2, FunctionName=fn, BatchSize=20,
                                              MaximumBatchingWindowInSeconds=1)
    wait_for(lambda: len(sink_items(ddb, table)) == 20)
    requests = {i["req"]["S"] for i in ddb.scan(TableName=table, ConsistentRead=True)["Items"]
                if json.loads(i["rec"]["S"])["body"].startswith("w")}
    assert len(requests) == 1
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_sqs_partial_batch_failure_and_filters(lam: Any, role: str, sqs: Any, ddb: Any) -> None:
    table, _ = make_table(ddb)
    fn = sink_function(lam, role, table)
    url, arn = make_queue(sqs, VisibilityTimeout="1")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn,
                                              FunctionResponseTypes=["ReportBatchItemFailures"])
    for body in ("good 1", "bad 1", "good 2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    # The failed message comes back after its visibility timeout and is delivered again; the
    # others were deleted after their first delivery.
    def retried() -> dict[str, Any] | None:
        got = sink_items(ddb, table)
        return got if any(r["body"] == "bad 1" and n >= 2 for r, n in got.values()) else None

    items = wait_for(retried)
    assert sorted((r["body"], n) for r, n in items.values() if r["body"].startswith("good")) == \
        [("good 1", 1), ("good 2", 1)]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    wait_for(lambda: not lam.list_event_source_mappings(EventSourceArn=arn)["EventSourceMappings"])
    assert in_queue(sqs, url) == 1

    filtered_table, _ = make_table(ddb)
    filtered_fn = sink_function(lam, role, filtered_table)
    url2, arn2 = make_queue(sqs)
    patterns = [{"body": {"kind": ["keep"], "size": [{"numeric": [">", 10]}]}},
                {"body": {"kind": [{"prefix": "also-"}]}}]
    mapping = lam.create_event_source_mapping(
        EventSourceArn=arn2, FunctionName=filtered_fn,
        FilterCriteria={"Filters": [{"Pattern": json.dumps(p)} for p in patterns]})
    assert json.loads(mapping["FilterCriteria"]["Filters"][0]["Pattern"]) == patterns[0]
    bodies = [{"kind": "keep", "size": 11}, {"kind": "keep", "size": 3}, {"kind": "also-this"},
              {"kind": "drop"}, "not json"]
    for body in bodies:
        sqs.send_message(QueueUrl=url2, MessageBody=body if isinstance(body, str) else json.dumps(body))
    wait_for(lambda: in_queue(sqs, url2) == 0)  # filtered-out messages are deleted too
    kept = sorted(json.loads(r["body"])["kind"] + str(json.loads(r["body"]).get("size", ""))
                  for r, _ in sink_items(ddb, filtered_table).values())
    assert kept == ["also-this", "keep11"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_dynamodb_stream_to_lambda_new_and_old_images(lam: Any, role: str, ddb: Any, sqs: Any) -> None:
    sink, _ = make_table(ddb)
    source, stream_arn = make_table(ddb, stream=True)
    assert stream_arn
    fn = sink_function(lam, role, sink)
    with pytest.raises(ClientError) as excinfo:
        lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=fn)
    assert error_of(excinfo)[0] == "InvalidParameterValueException"
    mapping = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=fn,
                                              StartingPosition="TRIM_HORIZON", BatchSize=10)
    assert mapping["StartingPosition"] == "TRIM_HORIZON" and mapping["MaximumRetryAttempts"] == -1
    assert mapping["BisectBatchOnFunctionError"] is False and mapping["DestinationConfig"] == {"OnFailure": {}}
    ddb.put_item(TableName=source, Item={"id": {"S": "a"}, "v": {"N": "1"}})
    ddb.update_item(TableName=source, Key={"id": {"S": "a"}}, UpdateExpression="SET v = :v",
                    ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.delete_item(TableName=source, Key={"id": {"S": "a"}})
    items = wait_for(lambda: len(got := sink_items(ddb, sink)) == 3 and got)
    records = sorted((r for r, _ in items.values()), key=lambda r: int(r["dynamodb"]["SequenceNumber"]))
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]
    insert, modify, remove = records
    assert insert["eventSource"] == "aws:dynamodb" and insert["eventSourceARN"] == stream_arn
    assert insert["dynamodb"]["NewImage"] == {"id": {"S": "a"}, "v": {"N": "1"}} and "OldImage" not in insert["dynamodb"]
    assert modify["dynamodb"]["OldImage"]["v"] == {"N": "1"} and modify["dynamodb"]["NewImage"]["v"] == {"N": "2"}
    assert remove["dynamodb"]["OldImage"]["v"] == {"N": "2"} and "NewImage" not in remove["dynamodb"]
    assert remove["dynamodb"]["Keys"] == {"id": {"S": "a"}}
    assert isinstance(insert["dynamodb"]["ApproximateCreationDateTime"], (int, float))
    assert all(n == 1 for _, n in items.values())
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK")
    lam.delete_event_source_mapping(UUID=mapping["UUID"])

    # FilterCriteria on a stream: only MODIFY records whose new image has v = 2 reach the function;
    # the others are skipped (and checkpointed past).
    filtered_sink, _ = make_table(ddb)
    filtered_fn = sink_function(lam, role, filtered_sink)
    pattern = {"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"v": {"N": ["2"]}}}}
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=filtered_fn, StartingPosition="TRIM_HORIZON",
        FilterCriteria={"Filters": [{"Pattern": json.dumps(pattern)}]})
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK")
    assert [r["eventName"] for r, _ in sink_items(ddb, filtered_sink).values()] == ["MODIFY"]
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_mappings_with_the_aws_cli(freehold: Any, lam: Any, role: str, sqs: Any) -> None:
    fn = create_function(lam, role)
    _, arn = make_queue(sqs)

    def cli(*args: str) -> Any:
        done = subprocess.run([AWS, "lambda", *args, "--output", "json"], env=freehold.env_for_cli(),
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    created = cli("create-event-source-mapping", "--function-name", fn, "--event-source-arn", arn,
                  "--batch-size", "7")
    assert created["BatchSize"] == 7 and created["State"] == "Creating"
    listed = cli("list-event-source-mappings", "--function-name", fn)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [created["UUID"]]
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_stream_failures_go_to_the_on_failure_destination(lam: Any, role: str, ddb: Any, sqs: Any) -> None:
    source, stream_arn = make_table(ddb, stream=True)
    failing = create_function(lam, role, make_zip({"app.py": "def handler(e, c):\n    raise ValueError('no')\n"}))
    dlq_url, dlq_arn = make_queue(sqs)
    mapping = lam.create_event_source_mapping(
        EventSourceArn=stream_arn, FunctionName=failing, StartingPosition="LATEST", MaximumRetryAttempts=1,
        BisectBatchOnFunctionError=True, DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    wait_state(lam, mapping["UUID"], "Enabled")
    ddb.put_item(TableName=source, Item={"id": {"S": "x"}})
    ddb.put_item(TableName=source, Item={"id": {"S": "y"}})
    received: list[dict[str, Any]] = []

    def two_failures() -> bool:
        answer = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        received.extend(json.loads(m["Body"]) for m in answer.get("Messages", []))
        return sum(r["DDBStreamBatchInfo"]["batchSize"] for r in received) >= 2

    wait_for(two_failures, timeout=30)
    first = received[0]
    assert first["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert first["requestContext"]["functionArn"].endswith(f":function:{failing}")
    assert first["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    assert first["DDBStreamBatchInfo"]["streamArn"] == stream_arn
    # Bisection isolated each record in a batch of its own.
    assert all(r["DDBStreamBatchInfo"]["batchSize"] == 1 for r in received)
    lam.delete_event_source_mapping(UUID=mapping["UUID"])


def test_mapping_survives_kill9_and_resumes_after_checkpoint(freehold: Any, lam: Any, role: str, ddb: Any) -> None:
    sink, _ = make_table(ddb)
    source, stream_arn = make_table(ddb, stream=True)
    fn = sink_function(lam, role, sink)
    mapping = lam.create_event_source_mapping(EventSourceArn=stream_arn, FunctionName=fn,
                                              StartingPosition="TRIM_HORIZON")
    ddb.put_item(TableName=source, Item={"id": {"S": "before"}})
    wait_for(lambda: len(sink_items(ddb, sink)) == 1)
    # Handled for good (checkpointed) once the mapping reports OK; a crash before that would
    # deliver the record again (at least once, as on AWS).
    wait_for(lambda: lam.get_event_source_mapping(UUID=mapping["UUID"])["LastProcessingResult"] == "OK")
    freehold.kill9()
    freehold.start()
    lam2, ddb2 = freehold.client("lambda"), freehold.client("dynamodb")
    assert lam2.get_event_source_mapping(UUID=mapping["UUID"])["State"] == "Enabled"
    ddb2.put_item(TableName=source, Item={"id": {"S": "after"}})
    items = wait_for(lambda: len(got := sink_items(ddb2, sink)) == 2 and got, timeout=30)
    # The record processed before the crash was checkpointed: it was not delivered again.
    assert sorted((r["dynamodb"]["Keys"]["id"]["S"], n) for r, n in items.values()) == [("after", 1), ("before", 1)]
    lam2.delete_event_source_mapping(UUID=mapping["UUID"])
