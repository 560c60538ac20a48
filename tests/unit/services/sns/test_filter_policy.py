"""Filter policies: AWS's documented matching rules, and the policies SNS refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.sns.filter_policy import parse


def attrs(**values: Any) -> dict[str, dict[str, str]]:
    out = {}
    for name, value in values.items():
        if isinstance(value, list):
            out[name] = {"DataType": "String.Array", "StringValue": json.dumps(value)}
        elif isinstance(value, (int, float)):
            out[name] = {"DataType": "Number", "StringValue": str(value)}
        elif isinstance(value, bytes):
            out[name] = {"DataType": "Binary", "BinaryValue": value.decode()}
        else:
            out[name] = {"DataType": "String", "StringValue": value}
    return out


def matches(policy: dict[str, Any], scope: str = "MessageAttributes", body: str = "", **values: Any) -> bool:
    return parse(json.dumps(policy), scope).matches(attrs(**values), body)


def test_exact_and_or_within_a_key() -> None:
    policy = {"customer_interests": ["rugby", "football", "baseball"]}
    assert matches(policy, customer_interests="rugby")
    assert not matches(policy, customer_interests="tennis")
    assert not matches(policy)  # the attribute must be there
    assert matches(policy, customer_interests=["soccer", "baseball"])  # String.Array: any element


def test_and_across_keys() -> None:
    policy = {"store": ["example_corp"], "price_usd": [{"numeric": [">=", 100]}]}
    assert matches(policy, store="example_corp", price_usd=210.75)
    assert not matches(policy, store="example_corp", price_usd=99)
    assert not matches(policy, store="example_corp")


def test_anything_but() -> None:
    assert matches({"e": [{"anything-but": ["rugby", "tennis"]}]}, e="baseball")
    assert not matches({"e": [{"anything-but": ["rugby", "tennis"]}]}, e="rugby")
    assert matches({"e": [{"anything-but": ["rugby", "tennis"]}]}, e=["rugby", "baseball"])
    assert not matches({"e": [{"anything-but": "rugby"}]})  # absent does not match
    assert matches({"p": [{"anything-but": [100, 500]}]}, p=100.1)
    assert not matches({"p": [{"anything-but": [100, 500]}]}, p=100)
    assert matches({"e": [{"anything-but": {"prefix": "order-"}}]}, e="refund-1")
    assert not matches({"e": [{"anything-but": {"prefix": "order-"}}]}, e="order-1")
    assert not matches({"e": [{"anything-but": {"suffix": ".png"}}]}, e="cat.png")


def test_prefix_suffix_and_case() -> None:
    assert matches({"c": [{"prefix": "bas"}]}, c="basketball")
    assert not matches({"c": [{"prefix": "bas"}]}, c="rugby")
    assert matches({"f": [{"suffix": ".jpg"}]}, f="cat.jpg")
    assert matches({"n": [{"equals-ignore-case": "ALICE"}]}, n="alice")


def test_numbers() -> None:
    assert matches({"p": [{"numeric": ["=", 301.5]}]}, p=3.015e2)
    assert matches({"p": [{"numeric": [">", 0, "<=", 150]}]}, p=150)
    assert not matches({"p": [{"numeric": [">", 0, "<=", 150]}]}, p=150.5)
    assert matches({"p": [{"numeric": ["<", 0]}]}, p=-3)
    assert matches({"p": [100]}, p=100.0)
    assert not matches({"p": [100]}, p="100")  # a String attribute is not a number
    assert not matches({"p": ["100"]}, p=100)


def test_exists_and_binary_attributes() -> None:
    assert matches({"store": [{"exists": True}]}, store="fans")
    assert not matches({"store": [{"exists": True}]}, other="x")
    assert matches({"store": [{"exists": False}]}, other="x")
    # SNS ignores Binary attributes: they count as absent.
    assert matches({"blob": [{"exists": False}]}, blob=b"AAE=")


def test_or_operator() -> None:
    policy = {"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"]}]}
    assert matches(policy, source="aws.cloudwatch", namespace="AWS/EC2")
    assert matches(policy, source="aws.cloudwatch", metricName="CPUUtilization")
    assert not matches(policy, source="aws.cloudwatch", namespace="AWS/S3")


def test_message_body_scope() -> None:
    policy = {"order": {"status": ["paid"], "total": [{"numeric": [">", 10]}]}, "flag": [True]}
    body = json.dumps({"order": {"status": "paid", "total": 12}, "flag": True})
    assert matches(policy, "MessageBody", body)
    assert not matches(policy, "MessageBody", json.dumps({"order": {"status": "paid", "total": 5}, "flag": True}))
    assert not matches(policy, "MessageBody", "not json")
    # Arrays in the body match when any element does.
    assert matches({"items": {"sku": ["b"]}}, "MessageBody", json.dumps({"items": [{"sku": "a"}, {"sku": "b"}]}))
    assert matches({"v": [None]}, "MessageBody", json.dumps({"v": None}))


@pytest.mark.parametrize(("policy", "message"), [
    ([], "Invalid parameter: FilterPolicy: Filter policy must be a JSON object"),
    ({"a": []}, "Invalid parameter: FilterPolicy: Empty arrays are not allowed"),
    ({k: ["v"] for k in "abcdef"}, "Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys"),
    ({"a": [{"numeric": [">", 10, "<", 5]}]}, "Invalid parameter: FilterPolicy: Bottom must be less than top"),
    ({"a": [{"numeric": ["<", 1, ">", 0]}]}, "Invalid parameter: FilterPolicy: Bad numeric range operator: >"),
    ({"a": [{"numeric": ["=", 2e9]}]}, "Invalid parameter: FilterPolicy: Value of = must be between -1.0E9 and "
                                       "1.0E9 inclusive"),
    ({"a": [{"prefix": 1}]}, "Invalid parameter: FilterPolicy: prefix match pattern must be a string"),
    ({"a": [{"prefix": "x", "suffix": "y"}]}, "Invalid parameter: FilterPolicy: Only one key allowed in match "
                                              "expression"),
    ({"a": [True]}, "Invalid parameter: FilterPolicy: Match value must be String, number, true, false, or null"),
    ({"a": "b"}, "Invalid parameter: FilterPolicy: Match value must be String, number, true, false, or null (key a)"),
    ({"$or": [{"a": ["b"]}]}, "Invalid parameter: FilterPolicy: Value of $or must be an array of at least 2 elements"),
])
def test_refused_policies(policy: Any, message: str) -> None:
    with pytest.raises(ServiceError) as info:
        parse(json.dumps(policy))
    assert (info.value.code, info.value.message) == ("InvalidParameter", message)


def test_unparseable_policy() -> None:
    with pytest.raises(ServiceError) as info:
        parse("{nope")
    assert info.value.message.startswith("Invalid parameter: FilterPolicy: failed to parse JSON")
