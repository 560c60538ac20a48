"""Items: PutItem/GetItem/UpdateItem/DeleteItem, the expression language and its errors,
ReturnValues, type rules and limits (both state backends)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import boto3
import pytest

from ddb_helpers import create, error_of, unique


@pytest.fixture(scope="module")
def table(ddb: Any) -> str:
    return create(ddb)


def key(pk: str, sk: str = "s") -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def test_put_get_delete_return_values(ddb: Any, table: str) -> None:
    item = {**key("a"), "n": {"N": "1.50"}, "b": {"B": b"\x00\xff"}, "m": {"M": {"x": {"L": [{"NULL": True}, {"BOOL": False}]}}},
            "ss": {"SS": ["x", "y"]}, "e": {"S": ""}}
    assert "Attributes" not in ddb.put_item(TableName=table, Item=item)
    got = ddb.get_item(TableName=table, Key=key("a"), ConsistentRead=True)["Item"]
    assert got["n"] == {"N": "1.5"}  # numbers come back normalized
    assert got["b"] == {"B": b"\x00\xff"} and got["m"] == item["m"] and got["e"] == {"S": ""}
    old = ddb.put_item(TableName=table, Item={**key("a"), "n": {"N": "2"}}, ReturnValues="ALL_OLD")["Attributes"]
    assert old["n"] == {"N": "1.5"}
    projected = ddb.get_item(TableName=table, Key=key("a"), ProjectionExpression="#n", ExpressionAttributeNames={"#n": "n"})
    assert projected["Item"] == {"n": {"N": "2"}}
    deleted = ddb.delete_item(TableName=table, Key=key("a"), ReturnValues="ALL_OLD")["Attributes"]
    assert deleted == {**key("a"), "n": {"N": "2"}}
    assert "Item" not in ddb.get_item(TableName=table, Key=key("a"))
    error = error_of(ddb.put_item, TableName=table, Item=key("a"), ReturnValues="ALL_NEW")
    assert error["Message"] == "Return values set to invalid value"


def test_resource_layer_round_trip(freehold: Any, ddb: Any, table: str) -> None:
    resource = boto3.resource("dynamodb", region_name="us-east-1", endpoint_url=freehold.endpoint_url,
                              aws_access_key_id="AKIDFREEHOLDTESTKEY0", aws_secret_access_key="x")
    handle = resource.Table(table)
    handle.put_item(Item={"pk": "res", "sk": "1", "price": Decimal("10.25"), "tags": {"a", "b"}, "doc": {"k": [1, "two"]}})
    handle.update_item(Key={"pk": "res", "sk": "1"}, UpdateExpression="SET price = price - :d",
                       ExpressionAttributeValues={":d": Decimal("0.25")})
    item = handle.get_item(Key={"pk": "res", "sk": "1"})["Item"]
    assert item == {"pk": "res", "sk": "1", "price": Decimal("10"), "tags": {"a", "b"}, "doc": {"k": [Decimal(1), "two"]}}


def test_key_and_type_errors(ddb: Any, table: str) -> None:
    cases = [
        ({"pk": {"S": "a"}}, "One or more parameter values were invalid: Missing the key sk in the item"),
        ({"pk": {"N": "1"}, "sk": {"S": "a"}}, "One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N"),
        ({"pk": {"S": ""}, "sk": {"S": "a"}}, "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: pk"),
        ({**key("t"), "x": {"SS": []}}, "One or more parameter values were invalid: An string set  may not be empty"),
        ({**key("t"), "x": {"SS": ["a", "a"]}}, "One or more parameter values were invalid: Input collection [a, a] contains duplicates."),
        ({**key("t"), "x": {"N": "abc"}}, "The parameter cannot be converted to a numeric value: abc"),
        ({**key("t"), "x": {"N": "1" * 39}}, "Attempting to store more than 38 significant digits in a Number"),
        ({**key("t"), "x": {"N": "1e126"}}, "Number overflow. Attempting to store a number with magnitude larger than supported range"),
        ({**key("t"), "x": {"S": "a", "N": "1"}}, "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"),
        ({**key("t"), "x": {"S": "x" * (400 * 1024)}}, "Item size has exceeded the maximum allowed size"),
        ({"pk": {"S": "p" * 2049}, "sk": {"S": "a"}}, "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of2048 bytes"),
    ]
    for item, message in cases:
        error = error_of(ddb.put_item, TableName=table, Item=item)
        assert (error["Code"], error["Message"]) == ("ValidationException", message)
    error = error_of(ddb.get_item, TableName=table, Key={"pk": {"S": "a"}})
    assert error["Message"] == "The provided key element does not match the schema"
    error = error_of(ddb.get_item, TableName=unique("missing"), Key=key("a"))
    assert (error["Code"], error["Message"]) == ("ResourceNotFoundException", "Requested resource not found")


def test_condition_expressions(ddb: Any, table: str) -> None:
    ddb.put_item(TableName=table, Item={**key("c"), "n": {"N": "5"}, "s": {"S": "hello"}, "l": {"L": [{"S": "x"}]},
                                        "st": {"SS": ["a", "b"]}})
    holds = [
        "attribute_exists(n)", "attribute_not_exists(zz)", "n = :five", "n <> :six", "n < :six AND n >= :five",
        "n BETWEEN :five AND :six", "n IN (:six, :five)", "begins_with(s, :he)", "contains(s, :ell)",
        "contains(st, :a)", "contains(l, :x)", "size(s) = :five", "size(l) < :five", "attribute_type(n, :N)",
        "NOT n = :six", "(n = :six OR s = :hello) AND NOT attribute_exists(zz)", "zz <> :five",
    ]
    values = {":five": {"N": "5"}, ":six": {"N": "6.0"}, ":he": {"S": "he"}, ":ell": {"S": "ell"}, ":a": {"S": "a"},
              ":x": {"S": "x"}, ":N": {"S": "N"}, ":hello": {"S": "hello"}}
    for condition in holds:
        used = {k: v for k, v in values.items() if re.search(re.escape(k) + r"\b", condition)}
        ddb.put_item(TableName=table, Item={**key("c"), "n": {"N": "5"}, "s": {"S": "hello"}, "l": {"L": [{"S": "x"}]},
                                            "st": {"SS": ["a", "b"]}},
                     ConditionExpression=condition, **({"ExpressionAttributeValues": used} if used else {}))
    fails = ["n > :five", "attribute_not_exists(n)", "zz = :five", "begins_with(n, :he)", "size(n) = :five", "n < :he"]
    for condition in fails:
        used = {k: v for k, v in values.items() if re.search(re.escape(k) + r"\b", condition)}
        error = error_of(ddb.put_item, TableName=table, Item=key("c"), ConditionExpression=condition,
                         ReturnValuesOnConditionCheckFailure="ALL_OLD", **({"ExpressionAttributeValues": used} if used else {}))
        assert error["Code"] == "ConditionalCheckFailedException", condition
        assert error["Message"] == "The conditional request failed"
        assert error["response"]["Item"]["n"] == {"N": "5"}


def test_expression_errors(ddb: Any, table: str) -> None:
    k = key("e")
    cases = [
        ({"ConditionExpression": "a-b"}, 'Invalid ConditionExpression: Syntax error; token: "-", near: "a-b"'),
        ({"ConditionExpression": "name = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
         "Invalid ConditionExpression: Attribute name is a reserved keyword; reserved keyword: name"),
        ({"ConditionExpression": "#a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}},
         "Invalid ConditionExpression: An expression attribute name used in the document path is not defined; attribute name: #a"),
        ({"ConditionExpression": "a = :v"},
         "Invalid ConditionExpression: An expression attribute value used in expression is not defined; attribute value: :v"),
        ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}, ":w": {"S": "y"}}},
         "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
        ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"S": "x"}}, "ExpressionAttributeNames": {"#u": "u"}},
         "Value provided in ExpressionAttributeNames unused in expressions: keys: {#u}"),
        ({"ExpressionAttributeValues": {":v": {"S": "x"}}},
         "ExpressionAttributeValues can only be specified when using expressions: ConditionExpression is null"),
        ({"ConditionExpression": "((a = :v))", "ExpressionAttributeValues": {":v": {"S": "x"}}},
         "Invalid ConditionExpression: The expression has redundant parentheses;"),
        ({"ConditionExpression": "foo(a)"}, "Invalid ConditionExpression: Invalid function name; function: foo"),
        ({"ConditionExpression": "attribute_exists(a) AND NOT #b", "ExpressionAttributeNames": {"#b": "b"}},
         'Invalid ConditionExpression: Syntax error; token: "<EOF>", near: "#b"'),
        ({"ConditionExpression": "a = :v", "ExpressionAttributeValues": {":v": {"SS": []}}},
         "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An string set  may not be empty for key :v"),
        ({"ConditionExpression": "a BETWEEN :hi AND :lo", "ExpressionAttributeValues": {":hi": {"N": "5"}, ":lo": {"N": "1"}}},
         "Invalid ConditionExpression: The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
         "lower bound operand: AttributeValue: {N:5}, upper bound operand: AttributeValue: {N:1}"),
        ({"ConditionExpression": ""}, "Invalid ConditionExpression: The expression can not be empty;"),
        ({"ConditionExpression": "a = :v", "Expected": {"a": {"Exists": False}}, "ExpressionAttributeValues": {":v": {"S": "x"}}},
         "Can not use both expression and non-expression parameters in the same request: Non-expression parameters: "
         "{Expected} Expression parameters: {ConditionExpression}"),
    ]
    for extra, message in cases:
        error = error_of(ddb.put_item, TableName=table, Item=k, **extra)
        assert (error["Code"], error["Message"]) == ("ValidationException", message), extra


def test_update_expressions(ddb: Any, table: str) -> None:
    k = key("u")
    ddb.put_item(TableName=table, Item={**k, "n": {"N": "1"}, "l": {"L": [{"N": "0"}, {"N": "1"}, {"N": "2"}]},
                                        "m": {"M": {"deep": {"S": "v"}}}, "st": {"NS": ["1", "2"]}, "a": {"S": "A"}, "b": {"S": "B"}})
    answer = ddb.update_item(
        TableName=table, Key=k,
        UpdateExpression="SET n = n + :one, m.added = :x, l[5] = :x, #a = b, b = #a, c = if_not_exists(c, :one) "
                         "REMOVE l[0], m.deep ADD st :three, cnt :one",
        ExpressionAttributeNames={"#a": "a"},
        ExpressionAttributeValues={":one": {"N": "1"}, ":x": {"S": "x"}, ":three": {"NS": ["3"]}},
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert sorted(answer["st"]["NS"]) == ["1", "2", "3"]
    answer = ddb.update_item(TableName=table, Key=k, UpdateExpression="DELETE st :onset",
                             ExpressionAttributeValues={":onset": {"NS": ["1"]}}, ReturnValues="ALL_NEW")["Attributes"]
    assert answer["n"] == {"N": "2"}
    assert answer["m"] == {"M": {"added": {"S": "x"}}}
    assert answer["l"] == {"L": [{"N": "1"}, {"N": "2"}, {"S": "x"}]}
    assert (answer["a"], answer["b"]) == ({"S": "B"}, {"S": "A"})  # SET values come from the old item
    assert answer["c"] == {"N": "1"} and answer["cnt"] == {"N": "1"}
    assert sorted(answer["st"]["NS"]) == ["2", "3"]
    updated_old = ddb.update_item(TableName=table, Key=k, UpdateExpression="SET n = :v",
                                  ExpressionAttributeValues={":v": {"N": "10"}}, ReturnValues="UPDATED_OLD")["Attributes"]
    assert updated_old == {"n": {"N": "2"}}
    updated_new = ddb.update_item(TableName=table, Key=k, UpdateExpression="SET m.added = :v",
                                  ExpressionAttributeValues={":v": {"S": "y"}}, ReturnValues="UPDATED_NEW")["Attributes"]
    assert updated_new == {"m": {"M": {"added": {"S": "y"}}}}
    created = ddb.update_item(TableName=table, Key=key("u-new"), UpdateExpression="ADD tally :one",
                              ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW")["Attributes"]
    assert created == {**key("u-new"), "tally": {"N": "1"}}
    removed = ddb.update_item(TableName=table, Key=key("u-new"), UpdateExpression="DELETE st :s",
                              ExpressionAttributeValues={":s": {"SS": ["q"]}}, ReturnValues="ALL_NEW")["Attributes"]
    assert removed == {**key("u-new"), "tally": {"N": "1"}}


def test_update_expression_errors(ddb: Any, table: str) -> None:
    k = key("ue")
    ddb.put_item(TableName=table, Item={**k, "s": {"S": "x"}, "n": {"N": "1"}})
    cases = [
        ("SET x", {}, 'Invalid UpdateExpression: Syntax error; token: "<EOF>", near: "x"'),
        ("INVALID SYNTAX HERE", {}, 'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"'),
        ("SET a = :v, a = :v", {":v": {"N": "1"}},
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [a], path two: [a]"),
        ("SET m = :v, m.x = :v", {":v": {"N": "1"}},
         "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of these paths; path one: [m], path two: [m, x]"),
        ("SET a = :v SET b = :v", {":v": {"N": "1"}}, 'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
        ("SET pk = :v", {":v": {"S": "1"}}, "One or more parameter values were invalid: Cannot update attribute pk. This attribute is part of the key"),
        ("ADD s :v", {":v": {"S": "1"}}, "Invalid UpdateExpression: Incorrect operand type for operator or function; operator: ADD, operand type: STRING"),
        ("SET n = s + :v", {":v": {"N": "1"}}, "An operand in the update expression has an incorrect data type"),
        ("SET n = absent + :v", {":v": {"N": "1"}}, "The provided expression refers to an attribute that does not exist in the item"),
        ("SET nope.deeper = :v", {":v": {"N": "1"}}, "The document path provided in the update expression is invalid for update"),
        ("SET a = :v", {":v": {"N": "1"}, ":w": {"N": "2"}}, "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}"),
    ]
    for expression, values, message in cases:
        kwargs: dict[str, Any] = {"UpdateExpression": expression}
        if values:
            kwargs["ExpressionAttributeValues"] = values
        error = error_of(ddb.update_item, TableName=table, Key=k, **kwargs)
        assert (error["Code"], error["Message"]) == ("ValidationException", message), expression
    assert ddb.get_item(TableName=table, Key=k)["Item"] == {**k, "s": {"S": "x"}, "n": {"N": "1"}}


def test_legacy_parameters(ddb: Any, table: str) -> None:
    k = key("legacy")
    ddb.put_item(TableName=table, Item={**k, "n": {"N": "1"}}, Expected={"n": {"Exists": False}})
    error = error_of(ddb.put_item, TableName=table, Item=k, Expected={"n": {"Exists": False}})
    assert error["Code"] == "ConditionalCheckFailedException"
    ddb.update_item(TableName=table, Key=k, AttributeUpdates={"n": {"Action": "ADD", "Value": {"N": "2"}},
                                                             "t": {"Action": "PUT", "Value": {"S": "v"}}},
                    Expected={"n": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]}})
    item = ddb.get_item(TableName=table, Key=k, AttributesToGet=["n", "t"])["Item"]
    assert item == {"n": {"N": "3"}, "t": {"S": "v"}}
    ddb.delete_item(TableName=table, Key=k, Expected={"t": {"Value": {"S": "v"}}})
    assert "Item" not in ddb.get_item(TableName=table, Key=k)


def test_return_consumed_capacity(ddb: Any, table: str) -> None:
    answer = ddb.put_item(TableName=table, Item={**key("cap"), "x": {"S": "y" * 3000}}, ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"] == {"TableName": table, "CapacityUnits": 3.0, "WriteCapacityUnits": 3.0}
    answer = ddb.get_item(TableName=table, Key=key("cap"), ReturnConsumedCapacity="TOTAL")
    assert answer["ConsumedCapacity"]["CapacityUnits"] == 0.5


def test_lone_surrogate_in_a_key_is_a_serialization_error(ddb: Any, table: str) -> None:
    # boto3 sends "\ud800" as a JSON escape; decoded, it is not encodable as UTF-8 (once a 500).
    error = error_of(ddb.put_item, TableName=table, Item=key("\ud800"))
    assert error["Code"] == "SerializationException"
    assert error["response"]["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_expression_limits_are_validation_errors_not_crashes(ddb: Any, table: str) -> None:
    values = {":v": {"S": "x"}}
    cases = [
        ("ConditionExpression", "(" * 300 + "a = :v" + ")" * 300,
         "Invalid ConditionExpression: The expression has too many nested parentheses; nesting depth: 300"),
        ("ConditionExpression", "NOT " * 800 + "a = :v",
         "Invalid ConditionExpression: The expression contains too many operators; operator count: 801"),
        ("ConditionExpression", " AND ".join(["a = :v"] * 301),
         "Invalid ConditionExpression: The expression contains too many operators; operator count: 601"),
        ("ConditionExpression", " AND ".join(["a = :v"] * 800),
         "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; expression size: 8795"),
    ]
    for parameter, expression, message in cases:
        error = error_of(ddb.put_item, TableName=table, Item=key("lim"), ExpressionAttributeValues=values,
                         **{parameter: expression})
        assert (error["Code"], error["Message"]) == ("ValidationException", message), expression[:40]
    error = error_of(ddb.scan, TableName=table, FilterExpression="(" * 400 + "a = :v" + ")" * 400,
                     ExpressionAttributeValues=values)
    assert (error["Code"], error["Message"]) == (
        "ValidationException", "Invalid FilterExpression: The expression has too many nested parentheses; nesting depth: 400")
    nested = "a = :v"
    for _ in range(300):
        nested = f"(a=:v AND {nested})"
    error = error_of(ddb.scan, TableName=table, FilterExpression=nested, ExpressionAttributeValues=values)
    assert error["Message"] == "Invalid FilterExpression: The expression contains too many operators; operator count: 601"
    # At the limits: exactly 300 operators, parentheses nested 49 deep, still work.
    deep = "a = :v"
    for _ in range(49):
        deep = f"(NOT a = :v AND {deep})"
    flat = " AND ".join(["a <> :v"] * 76)  # 151 operators, the OR one, `deep` 148
    assert ddb.put_item(TableName=table, Item=key("lim"), ConditionExpression=f"({flat}) OR {deep}",
                        ExpressionAttributeValues=values)["ResponseMetadata"]["HTTPStatusCode"] == 200
