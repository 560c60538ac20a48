"""DynamoDB Streams: records of every view type, gapless sequence numbers, every iterator type,
errors, and TTL deletions (service deletes) that resume after kill -9 (both state backends)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from support.server import FreeholdServer, create_database


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FreeholdServer]:
    """A live server whose TTL deleter looks every 0.2 s."""
    state_url = ""
    if request.param == "postgresql":
        state_url = create_database(request.getfixturevalue("postgres_url"))
    server = FreeholdServer(tmp_path_factory.mktemp(f"ddbstreams-{request.param}"), state_url,
                            env={"FREEHOLD_DYNAMODB_TTL_INTERVAL": "0.2"})
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _table(ddb: Any, view: str) -> tuple[str, str]:
    name = f"streams-{uuid.uuid4().hex[:8]}"
    table = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
    )["TableDescription"]
    return name, table["LatestStreamArn"]


def _records(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **extra: Any) -> list[dict[str, Any]]:
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind, **extra)["ShardIterator"]
    return list(streams.get_records(ShardIterator=iterator)["Records"])


def test_records_of_each_change(server: FreeholdServer) -> None:
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    name, arn = _table(ddb, "NEW_AND_OLD_IMAGES")
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.update_item(TableName=name, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": {"N": "2"}})
    ddb.delete_item(TableName=name, Key={"pk": {"S": "a"}})
    records = _records(streams, arn)
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY", "REMOVE"]  # the no-op update wrote nothing
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == [1, 2, 3]
    modify = records[1]
    assert modify["dynamodb"]["OldImage"] == {"pk": {"S": "a"}, "v": {"N": "1"}}
    assert modify["dynamodb"]["NewImage"] == {"pk": {"S": "a"}, "v": {"N": "2"}}
    assert modify["dynamodb"]["Keys"] == {"pk": {"S": "a"}}
    assert modify["eventSource"] == "aws:dynamodb" and modify["awsRegion"] == "us-east-1"
    after = _records(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=records[0]["dynamodb"]["SequenceNumber"])
    assert [r["eventName"] for r in after] == ["MODIFY", "REMOVE"]
    at = _records(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=records[2]["dynamodb"]["SequenceNumber"])
    assert [r["eventName"] for r in at] == ["REMOVE"]
    assert _records(streams, arn, "LATEST") == []
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": name, "StreamLabel": arn.rsplit("/", 1)[1]}]


def test_keys_only_and_disable(server: FreeholdServer) -> None:
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    name, arn = _table(ddb, "KEYS_ONLY")
    ddb.put_item(TableName=name, Item={"pk": {"S": "k"}, "v": {"S": "x"}})
    record = _records(streams, arn)[0]["dynamodb"]
    assert "NewImage" not in record and record["Keys"] == {"pk": {"S": "k"}} and record["StreamViewType"] == "KEYS_ONLY"
    ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    description = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert description["StreamStatus"] == "DISABLED"
    assert description["Shards"][0]["SequenceNumberRange"]["EndingSequenceNumber"] == record["SequenceNumber"]


def test_stream_errors(server: FreeholdServer) -> None:
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    name, arn = _table(ddb, "NEW_IMAGE")
    with pytest.raises(ClientError) as info:
        streams.describe_stream(StreamArn=arn + "x")
    assert info.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        streams.get_records(ShardIterator="not-an-iterator")
    assert info.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as info:
        ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_ttl_deletes_are_service_deletes_and_resume_after_kill9(server: FreeholdServer) -> None:
    ddb, streams = server.client("dynamodb"), server.client("dynamodbstreams")
    name, arn = _table(ddb, "OLD_IMAGE")
    ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    now = int(time.time())
    ddb.put_item(TableName=name, Item={"pk": {"S": "gone"}, "exp": {"N": str(now - 10)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "kept"}, "exp": {"N": str(now + 3600)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "ancient"}, "exp": {"N": str(now - 6 * 365 * 86400)}})
    ddb.put_item(TableName=name, Item={"pk": {"S": "text"}, "exp": {"S": "soon"}})
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "gone"}}):
        time.sleep(0.1)
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "gone"}})
    remaining = sorted(i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"])
    assert remaining == ["ancient", "kept", "text"]
    removal = [r for r in _records(streams, arn) if r["eventName"] == "REMOVE"]
    assert removal[0]["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
    assert removal[0]["dynamodb"]["OldImage"]["pk"] == {"S": "gone"}
    # Expired while the server is down: deleted after it comes back.
    ddb.put_item(TableName=name, Item={"pk": {"S": "later"}, "exp": {"N": str(int(time.time()) + 1)}})
    server.kill9()
    time.sleep(1.5)
    server.start()
    ddb = server.client("dynamodb")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "Item" in ddb.get_item(TableName=name, Key={"pk": {"S": "later"}}):
        time.sleep(0.1)
    assert "Item" not in ddb.get_item(TableName=name, Key={"pk": {"S": "later"}})
