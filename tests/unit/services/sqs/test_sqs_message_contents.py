"""Message bodies, attributes, sizes and AWS's MD5 digests (services/sqs/messages.py)."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.sqs.messages import (
    check_body,
    check_message_attributes,
    md5_of_attributes,
    md5_of_body,
    message_size,
    select_attributes,
)


def test_digests_match_aws() -> None:
    # Values AWS returned for these inputs (SendMessage/ReceiveMessage answers).
    assert md5_of_body("msg") == "6e2baaf3b97dbeef01c0043275f9a0e7"
    assert md5_of_attributes({"Foo": {"DataType": "String", "StringValue": "Bar"}}) == "ae7155c6026991b6d54b11589678bf9c"
    assert md5_of_attributes({}) is None


def test_digest_sorts_names_and_separates_binary() -> None:
    a = {"b": {"DataType": "String", "StringValue": "1"}, "a": {"DataType": "Binary", "BinaryValue": b"1"}}
    b = {"a": {"DataType": "Binary", "BinaryValue": b"1"}, "b": {"DataType": "String", "StringValue": "1"}}
    assert md5_of_attributes(a) == md5_of_attributes(b)
    as_string = {"a": {"DataType": "Binary", "BinaryValue": b"1"}}
    assert md5_of_attributes(as_string) != md5_of_attributes({"a": {"DataType": "String", "StringValue": "1"}})


@pytest.mark.parametrize("body", ["", None])
def test_missing_body(body: str | None) -> None:
    with pytest.raises(ServiceError) as raised:
        check_body(body)
    assert raised.value.code == "MissingParameter"


@pytest.mark.parametrize("char", ["\x00", "\x08", "\x0b", "\ufffe", "\uffff"])
def test_forbidden_characters(char: str) -> None:
    with pytest.raises(ServiceError) as raised:
        check_body("a" + char)
    assert raised.value.code == "InvalidMessageContents"


def test_allowed_characters() -> None:
    assert check_body("\t\n\r é 😀 \ue000") == "\t\n\r é 😀 \ue000"


def test_attribute_rules() -> None:
    good = check_message_attributes({"n": {"DataType": "Number.int", "StringValue": "-1.5e3"}})
    assert good["n"]["DataType"] == "Number.int"
    for bad in (
        {".x": {"DataType": "String", "StringValue": "v"}},
        {"a..b": {"DataType": "String", "StringValue": "v"}},
        {"amazon.x": {"DataType": "String", "StringValue": "v"}},
        {"n": {"DataType": "Number", "StringValue": "1" * 39}},
        {"n": {"DataType": "Number", "StringValue": "NaN"}},
        {"b": {"DataType": "Binary"}},
    ):
        with pytest.raises(ServiceError) as raised:
            check_message_attributes(bad)
        assert raised.value.code == "InvalidParameterValue"


def test_size_counts_names_types_and_values() -> None:
    attributes = {"ab": {"DataType": "String", "StringValue": "xyz"}, "c": {"DataType": "Binary", "BinaryValue": b"12"}}
    assert message_size("é", attributes) == 2 + (2 + 6 + 3) + (1 + 6 + 2)


def test_select_attributes() -> None:
    attributes = {"a.1": {}, "a.2": {}, "b": {}}
    assert set(select_attributes(attributes, ["a.*"])) == {"a.1", "a.2"}
    assert set(select_attributes(attributes, ["All"])) == {"a.1", "a.2", "b"}
    assert set(select_attributes(attributes, [".*"])) == {"a.1", "a.2", "b"}
    assert select_attributes(attributes, ["b"]) == {"b": {}}
    assert select_attributes(attributes, None) == {}
