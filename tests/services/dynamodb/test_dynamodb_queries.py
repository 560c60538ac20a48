"""Query and Scan (key conditions, filters, pagination, order, Select, segments), secondary
indexes with their projections, batches and transactions (both state backends)."""

from __future__ import annotations

from typing import Any

import pytest

from ddb_helpers import create, error_of, unique

INDEXES = {
    "ExtraDefinitions": [{"AttributeName": "g", "AttributeType": "S"}, {"AttributeName": "rank", "AttributeType": "N"}],
    "GlobalSecondaryIndexes": [{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                                   {"AttributeName": "rank", "KeyType": "RANGE"}],
                                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["extra"]}}],
    "LocalSecondaryIndexes": [{"IndexName": "by-rank", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                                     {"AttributeName": "rank", "KeyType": "RANGE"}],
                               "Projection": {"ProjectionType": "KEYS_ONLY"}}],
}


@pytest.fixture(scope="module")
def table(ddb: Any) -> str:
    name = create(ddb, range_type="N", **INDEXES)
    numbers = ["-10", "-9.5", "-1", "0", "0.001", "2", "10", "1e10"]
    with_batch = [{"PutRequest": {"Item": {"pk": {"S": "p"}, "sk": {"N": n}, "g": {"S": "even" if i % 2 == 0 else "odd"},
                                           "rank": {"N": str(100 - i)}, "extra": {"S": f"e{i}"}, "other": {"S": "o"}}}}
                  for i, n in enumerate(numbers)]
    ddb.batch_write_item(RequestItems={name: with_batch})
    ddb.put_item(TableName=name, Item={"pk": {"S": "sparse"}, "sk": {"N": "1"}})  # in no index
    return name


def _sks(items: list[dict[str, Any]]) -> list[str]:
    return [item["sk"]["N"] for item in items]


def test_query_orders_numbers_and_conditions(ddb: Any, table: str) -> None:
    values = {":p": {"S": "p"}}
    everything = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values)
    assert _sks(everything["Items"]) == ["-10", "-9.5", "-1", "0", "0.001", "2", "10", "10000000000"]
    backwards = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values,
                          ScanIndexForward=False)
    assert _sks(backwards["Items"]) == list(reversed(_sks(everything["Items"])))
    between = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                        ExpressionAttributeValues={**values, ":a": {"N": "-9.5"}, ":b": {"N": "0.001"}})
    assert _sks(between["Items"]) == ["-9.5", "-1", "0", "0.001"]
    filtered = ddb.query(TableName=table, KeyConditionExpression="pk = :p AND sk > :z", FilterExpression="g = :odd",
                         ExpressionAttributeValues={**values, ":z": {"N": "0"}, ":odd": {"S": "odd"}})
    assert filtered["ScannedCount"] == 4 and _sks(filtered["Items"]) == ["2", "10000000000"]
    counted = ddb.query(TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues=values, Select="COUNT")
    assert counted["Count"] == 8 and "Items" not in counted
    legacy = ddb.query(TableName=table, KeyConditions={"pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
                                                        "sk": {"ComparisonOperator": "LT", "AttributeValueList": [{"N": "-1"}]}})
    assert _sks(legacy["Items"]) == ["-10", "-9.5"]


def test_query_pagination(ddb: Any, table: str) -> None:
    collected: list[str] = []
    kwargs: dict[str, Any] = {"TableName": table, "KeyConditionExpression": "pk = :p",
                              "ExpressionAttributeValues": {":p": {"S": "p"}}, "Limit": 3, "ScanIndexForward": False}
    while True:
        page = ddb.query(**kwargs)
        collected += _sks(page["Items"])
        if "LastEvaluatedKey" not in page:
            break
        assert set(page["LastEvaluatedKey"]) == {"pk", "sk"}
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert collected == ["10000000000", "10", "2", "0.001", "0", "-1", "-9.5", "-10"]


def test_query_errors(ddb: Any, table: str) -> None:
    cases = [
        ({"KeyConditionExpression": "sk = :z", "ExpressionAttributeValues": {":z": {"N": "1"}}},
         "Query condition missed key schema element: pk"),
        ({"KeyConditionExpression": "pk = :p OR sk = :z", "ExpressionAttributeValues": {":p": {"S": "p"}, ":z": {"N": "1"}}},
         "Invalid KeyConditionExpression: Invalid operator used in KeyConditionExpression: OR"),
        ({"KeyConditionExpression": "pk = :p AND begins_with(sk, :z)", "ExpressionAttributeValues": {":p": {"S": "p"}, ":z": {"S": "1"}}},
         "Invalid KeyConditionExpression: Incorrect operand type for operator or function; operator or function: begins_with, operand type: N"),
        ({"KeyConditionExpression": "pk = :p", "FilterExpression": "sk > :z", "ExpressionAttributeValues": {":p": {"S": "p"}, ":z": {"N": "1"}}},
         "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk"),
        ({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"N": "1"}}},
         "One or more parameter values were invalid: Condition parameter type does not match schema type"),
        ({"KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}, "IndexName": "nope"},
         "The table does not have the specified index: nope"),
        ({"KeyConditionExpression": "g = :p", "ExpressionAttributeValues": {":p": {"S": "p"}}, "IndexName": "by-g", "ConsistentRead": True},
         "Consistent reads are not supported on global secondary indexes"),
        ({}, "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request."),
    ]
    for extra, message in cases:
        error = error_of(ddb.query, TableName=table, **extra)
        assert (error["Code"], error["Message"]) == ("ValidationException", message), extra


def test_indexes_projections_and_sparseness(ddb: Any, table: str) -> None:
    even = ddb.query(TableName=table, IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "even"}})
    assert [i["rank"]["N"] for i in even["Items"]] == ["94", "96", "98", "100"]
    assert set(even["Items"][0]) == {"pk", "sk", "g", "rank", "extra"}  # INCLUDE projection
    page = ddb.query(TableName=table, IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "even"}}, Limit=2)
    assert set(page["LastEvaluatedKey"]) == {"pk", "sk", "g", "rank"}
    rest = ddb.query(TableName=table, IndexName="by-g", KeyConditionExpression="g = :g",
                     ExpressionAttributeValues={":g": {"S": "even"}}, ExclusiveStartKey=page["LastEvaluatedKey"])
    assert [i["rank"]["N"] for i in rest["Items"]] == ["98", "100"]
    local = ddb.query(TableName=table, IndexName="by-rank", KeyConditionExpression="pk = :p AND #r > :r",
                      ExpressionAttributeNames={"#r": "rank"}, ExpressionAttributeValues={":p": {"S": "p"}, ":r": {"N": "97"}})
    assert [set(i) for i in local["Items"]] == [{"pk", "sk", "rank"}] * 3
    full = ddb.query(TableName=table, IndexName="by-rank", KeyConditionExpression="pk = :p AND #r > :r", Select="ALL_ATTRIBUTES",
                     ExpressionAttributeNames={"#r": "rank"}, ExpressionAttributeValues={":p": {"S": "p"}, ":r": {"N": "99"}})
    assert full["Items"][0]["other"] == {"S": "o"}  # an LSI fetches unprojected attributes from the table
    assert ddb.scan(TableName=table, IndexName="by-g")["Count"] == 8  # the sparse item is in no index
    # Moving an item out of the index (removing its key attribute) removes its entry.
    ddb.update_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "2"}}, UpdateExpression="REMOVE g")
    assert ddb.scan(TableName=table, IndexName="by-g")["Count"] == 7
    ddb.update_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"N": "2"}}, UpdateExpression="SET g = :g",
                    ExpressionAttributeValues={":g": {"S": "odd"}})
    error = error_of(ddb.put_item, TableName=table, Item={"pk": {"S": "x"}, "sk": {"N": "1"}, "g": {"N": "1"}})
    assert error["Message"] == ("One or more parameter values were invalid: Type mismatch for Index Key g Expected: S "
                                "Actual: N IndexName: by-g")


def test_scan_segments_and_pagination(ddb: Any, table: str) -> None:
    everything = ddb.scan(TableName=table)["Items"]
    assert len(everything) == 9
    seen = []
    for segment in range(3):
        kwargs: dict[str, Any] = {"TableName": table, "Segment": segment, "TotalSegments": 3, "Limit": 2}
        while True:
            page = ddb.scan(**kwargs)
            seen += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(map(repr, seen)) == sorted(map(repr, everything))
    error = error_of(ddb.scan, TableName=table, Segment=3, TotalSegments=3)
    assert error["Message"] == ("The Segment parameter is zero-based and must be less than parameter TotalSegments: "
                                "Segment: 3 is not less than TotalSegments: 3")
    projected = ddb.scan(TableName=table, ProjectionExpression="sk", FilterExpression="attribute_exists(extra)")
    assert projected["Count"] == 8 and all(set(i) == {"sk"} for i in projected["Items"])


def test_one_megabyte_pages(ddb: Any) -> None:
    name = create(ddb)
    blob = "x" * 200_000
    writes = [{"PutRequest": {"Item": {"pk": {"S": "big"}, "sk": {"S": f"{i:02d}"}, "v": {"S": blob}}}} for i in range(7)]
    ddb.batch_write_item(RequestItems={name: writes})
    first = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "big"}})
    assert first["Count"] == 6 and first["LastEvaluatedKey"]["sk"] == {"S": "05"}


def test_batch_get_and_write(ddb: Any, table: str) -> None:
    keys = [{"pk": {"S": "p"}, "sk": {"N": n}} for n in ("-10", "2", "12345")]
    answer = ddb.batch_get_item(RequestItems={table: {"Keys": keys, "ProjectionExpression": "sk"}})
    assert sorted(_sks(answer["Responses"][table])) == ["-10", "2"] and answer["UnprocessedKeys"] == {}
    error = error_of(ddb.batch_get_item, RequestItems={table: {"Keys": [keys[0], keys[0]]}})
    assert error["Message"] == "Provided list of item keys contains duplicates"
    error = error_of(ddb.batch_get_item, RequestItems={unique("none"): {"Keys": keys}})
    assert error["Code"] == "ResourceNotFoundException"
    name = create(ddb)
    ddb.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"pk": {"S": "a"}, "sk": {"S": str(i)}}}} for i in range(3)]})
    answer = ddb.batch_write_item(RequestItems={name: [{"DeleteRequest": {"Key": {"pk": {"S": "a"}, "sk": {"S": "0"}}}}]})
    assert answer["UnprocessedItems"] == {}
    assert ddb.scan(TableName=name)["Count"] == 2


def test_transactions(ddb: Any) -> None:
    name = create(ddb)
    k1, k2 = {"pk": {"S": "t"}, "sk": {"S": "1"}}, {"pk": {"S": "t"}, "sk": {"S": "2"}}
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {**k1, "n": {"N": "1"}}}},
        {"Update": {"TableName": name, "Key": k2, "UpdateExpression": "SET n = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}},
    ], ClientRequestToken="token-1")
    error = error_of(ddb.transact_write_items, TransactItems=[
        {"ConditionCheck": {"TableName": name, "Key": k1, "ConditionExpression": "n = :v",
                            "ExpressionAttributeValues": {":v": {"N": "9"}}, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"Delete": {"TableName": name, "Key": k2}},
    ])
    assert error["Code"] == "TransactionCanceledException"
    assert error["Message"] == ("Transaction cancelled, please refer cancellation reasons for specific reasons "
                                "[ConditionalCheckFailed, None]")
    assert error["response"]["CancellationReasons"] == [
        {"Code": "ConditionalCheckFailed", "Message": "The conditional request failed", "Item": {**k1, "n": {"N": "1"}}},
        {"Code": "None"},
    ]
    got = ddb.transact_get_items(TransactItems=[{"Get": {"TableName": name, "Key": k}} for k in (k1, k2)])["Responses"]
    assert [g["Item"]["n"]["N"] for g in got] == ["1", "2"]  # nothing of the cancelled transaction was written
    error = error_of(ddb.transact_write_items, TransactItems=[
        {"Delete": {"TableName": name, "Key": k1}}, {"Delete": {"TableName": name, "Key": k1}}])
    assert error["Message"] == "Transaction request cannot include multiple operations on one item"
    # The same token and request again: success without writing; another request: mismatch.
    ddb.put_item(TableName=name, Item={**k1, "n": {"N": "7"}})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": name, "Item": {**k1, "n": {"N": "1"}}}},
        {"Update": {"TableName": name, "Key": k2, "UpdateExpression": "SET n = :v", "ExpressionAttributeValues": {":v": {"N": "2"}}}},
    ], ClientRequestToken="token-1")
    assert ddb.get_item(TableName=name, Key=k1)["Item"]["n"] == {"N": "7"}
    error = error_of(ddb.transact_write_items, TransactItems=[{"Delete": {"TableName": name, "Key": k1}}],
                     ClientRequestToken="token-1")
    assert error["Code"] == "IdempotentParameterMismatchException"
