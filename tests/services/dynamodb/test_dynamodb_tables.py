"""Tables: create/describe/list/update/delete, their validation errors, tags, TTL settings,
backups, and durability across restart and kill -9 (both state backends)."""

from __future__ import annotations

from typing import Any

from ddb_helpers import create, error_of, unique


def test_create_describe_delete(ddb: Any) -> None:
    name = unique()
    created = ddb.create_table(
        TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 3},
        Tags=[{"Key": "team", "Value": "core"}],
    )["TableDescription"]
    assert created["TableStatus"] == "CREATING"
    assert created["TableArn"] == f"arn:aws:dynamodb:us-east-1:000000000000:table/{name}"
    ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["ProvisionedThroughput"]["ReadCapacityUnits"] == 5
    assert table["ItemCount"] == 0 and table["TableSizeBytes"] == 0
    assert "BillingModeSummary" not in table
    tags = ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert tags == [{"Key": "team", "Value": "core"}]
    assert ddb.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    error = error_of(ddb.describe_table, TableName=name)
    assert error["Code"] == "ResourceNotFoundException"
    assert error["Message"] == f"Requested resource not found: Table: {name} not found"


def test_create_existing_and_validation_errors(ddb: Any) -> None:
    name = create(ddb)
    error = error_of(create, ddb, name)
    assert (error["Code"], error["Message"]) == ("ResourceInUseException", f"Table already exists: {name}")
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    error = error_of(ddb.create_table, TableName=unique(), KeySchema=keys,
                     AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    assert error["Message"] == (
        "One or more parameter values were invalid: Some index key attributes are not defined in "
        "AttributeDefinitions. Keys: [pk], AttributeDefinitions: [other]"
    )
    error = error_of(ddb.create_table, TableName=unique(), KeySchema=keys,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "x", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    assert error["Message"] == (
        "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
        "number of attributes defined in AttributeDefinitions"
    )
    error = error_of(ddb.create_table, TableName=unique(), KeySchema=keys,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    assert error["Message"] == (
        "One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be "
        "specified when BillingMode is PROVISIONED"
    )
    error = error_of(ddb.create_table, TableName=unique(), KeySchema=[{"AttributeName": "pk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    assert error["Message"] == "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
    error = error_of(ddb.create_table, TableName="bad name!", KeySchema=keys,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
    assert "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+" in error["Message"]
    error = error_of(ddb.create_table, TableName=unique(), KeySchema=keys,
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "X"}], BillingMode="PAY_PER_REQUEST")
    assert error["Code"] == "ValidationException" and "enum value set: [S, N, B]" in error["Message"]


def test_list_tables_paginates(ddb: Any) -> None:
    names = sorted(create(ddb, unique("list")) for _ in range(3))
    seen: list[str] = []
    kwargs: dict[str, Any] = {"Limit": 2}
    while True:
        page = ddb.list_tables(**kwargs)
        assert len(page["TableNames"]) <= 2
        seen += page["TableNames"]
        if "LastEvaluatedTableName" not in page:
            break
        kwargs["ExclusiveStartTableName"] = page["LastEvaluatedTableName"]
    assert [n for n in seen if n in names] == names
    assert seen == sorted(seen)


def test_update_table_billing_stream_gsi(ddb: Any) -> None:
    name = create(ddb)
    ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "gv"}})
    updated = ddb.update_table(
        TableName=name, AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                                 "Projection": {"ProjectionType": "KEYS_ONLY"}}}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    assert updated["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert updated["LatestStreamArn"].startswith(updated["TableArn"] + "/stream/")
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["GlobalSecondaryIndexes"][0]["ItemCount"] == 1  # backfilled
    found = ddb.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g",
                      ExpressionAttributeValues={":g": {"S": "gv"}})["Items"]
    assert found == [{"pk": {"S": "a"}, "sk": {"S": "1"}, "g": {"S": "gv"}}]
    error = error_of(ddb.update_table, TableName=name)
    assert error["Message"].startswith("At least one of ProvisionedThroughput, BillingMode")
    ddb.update_table(TableName=name, BillingMode="PROVISIONED",
                     ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2},
                     GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by-g"}}])
    table = ddb.describe_table(TableName=name)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PROVISIONED"
    assert "GlobalSecondaryIndexes" not in table
    assert [d["AttributeName"] for d in table["AttributeDefinitions"]] == ["pk", "sk"]


def test_deletion_protection(ddb: Any) -> None:
    name = create(ddb, DeletionProtectionEnabled=True)
    error = error_of(ddb.delete_table, TableName=name)
    assert error["Message"].startswith("Resource cannot be deleted as it is currently protected against deletion")
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=name)


def test_tags(ddb: Any) -> None:
    name = create(ddb)
    arn = ddb.describe_table(TableName=name)["Table"]["TableArn"]
    ddb.tag_resource(ResourceArn=arn, Tags=[{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}])
    ddb.untag_resource(ResourceArn=arn, TagKeys=["a"])
    assert ddb.list_tags_of_resource(ResourceArn=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    error = error_of(ddb.list_tags_of_resource, ResourceArn=arn + "x")
    assert error["Code"] == "ResourceNotFoundException"


def test_ttl_and_backups_settings(ddb: Any) -> None:
    name = create(ddb)
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {"TimeToLiveStatus": "DISABLED"}
    answer = ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert answer["TimeToLiveSpecification"] == {"Enabled": True, "AttributeName": "exp"}
    assert ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}
    error = error_of(ddb.update_time_to_live, TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
    assert error["Message"] == "TimeToLive is already enabled"
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "DISABLED"
    ddb.update_continuous_backups(TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    backups = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_items_indexes_and_streams_survive_restart_and_kill9(freehold: Any) -> None:
    ddb = freehold.client("dynamodb")
    name = create(ddb, ExtraDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                  GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                           "Projection": {"ProjectionType": "ALL"}}],
                  StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
    for i in range(5):
        ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": f"{i}"}, "g": {"S": "x"}})
    freehold.restart()
    ddb = freehold.client("dynamodb")
    ddb.put_item(TableName=name, Item={"pk": {"S": "p"}, "sk": {"S": "5"}, "g": {"S": "x"}})
    freehold.kill9()
    freehold.start()
    ddb = freehold.client("dynamodb")
    assert ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                     ExpressionAttributeValues={":p": {"S": "p"}})["Count"] == 6
    assert ddb.query(TableName=name, IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "x"}})["Count"] == 6
    streams = freehold.client("dynamodbstreams")
    arn = ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records] == list(range(1, 7))
