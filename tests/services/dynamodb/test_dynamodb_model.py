"""Property: random puts, conditional puts, counter updates and deletes against freehold agree
with a plain dict model of DynamoDB's semantics, and Query returns the model's items in
sort-key order (numbers ordered numerically)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddb_helpers import create

partitions = st.sampled_from(["a", "b"])
sort_keys = st.decimals(min_value=-1000, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("put"), partitions, sort_keys, st.integers(-5, 5)),
        st.tuples(st.just("put_new"), partitions, sort_keys, st.integers(-5, 5)),
        st.tuples(st.just("add"), partitions, sort_keys, st.integers(-5, 5)),
        st.tuples(st.just("delete"), partitions, sort_keys, st.just(0)),
    ),
    max_size=12,
)


def test_random_operations_agree_with_model(freehold_sqlite: Any) -> None:
    ddb = freehold_sqlite.client("dynamodb")
    name = create(ddb, range_type="N")

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(operations)
    def run(ops: list[tuple[str, str, Decimal, int]]) -> None:
        for item in ddb.scan(TableName=name)["Items"]:
            ddb.delete_item(TableName=name, Key={"pk": item["pk"], "sk": item["sk"]})
        model: dict[tuple[str, Decimal], int] = {}
        for op, pk, sk, value in ops:
            key = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
            if op == "put":
                ddb.put_item(TableName=name, Item={**key, "v": {"N": str(value)}})
                model[(pk, sk)] = value
            elif op == "put_new":
                try:
                    ddb.put_item(TableName=name, Item={**key, "v": {"N": str(value)}},
                                 ConditionExpression="attribute_not_exists(pk)")
                    assert (pk, sk) not in model
                    model[(pk, sk)] = value
                except ClientError as error:
                    assert error.response["Error"]["Code"] == "ConditionalCheckFailedException"
                    assert (pk, sk) in model
            elif op == "add":
                new = ddb.update_item(TableName=name, Key=key, UpdateExpression="ADD v :d",
                                      ExpressionAttributeValues={":d": {"N": str(value)}}, ReturnValues="UPDATED_NEW")
                model[(pk, sk)] = model.get((pk, sk), 0) + value
                assert Decimal(new["Attributes"]["v"]["N"]) == model[(pk, sk)]
            else:
                ddb.delete_item(TableName=name, Key=key)
                model.pop((pk, sk), None)
        for pk in ("a", "b"):
            items = ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                              ExpressionAttributeValues={":p": {"S": pk}})["Items"]
            got = [(Decimal(i["sk"]["N"]), int(i["v"]["N"])) for i in items]
            expected = sorted((sk, v) for (p, sk), v in model.items() if p == pk)
            assert got == expected

    run()
