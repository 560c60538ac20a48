"""The event filter language (freehold.events.filtering) against the examples of AWS's
Lambda event filtering guide."""

from __future__ import annotations

import pytest

from freehold.events.filtering import InvalidPattern, matches, matches_any, parse_pattern

EVENT = {"body": {"kind": "order", "total": 42, "tags": ["a", "b"], "city": "Seattle", "none": None},
         "attributes": {"SenderId": "123"}}


@pytest.mark.parametrize(("pattern", "expected"), [
    ({"body": {"kind": ["order"]}}, True),
    ({"body": {"kind": ["refund", "order"]}}, True),
    ({"body": {"kind": ["refund"]}}, False),
    ({"body": {"total": [42]}}, True),
    ({"body": {"total": ["42"]}}, False),
    ({"body": {"none": [None]}}, True),
    ({"body": {"tags": ["b"]}}, True),
    ({"body": {"city": [{"prefix": "Sea"}]}}, True),
    ({"body": {"city": [{"suffix": "tle"}]}}, True),
    ({"body": {"city": [{"equals-ignore-case": "SEATTLE"}]}}, True),
    ({"body": {"city": [{"anything-but": ["Seattle", "Boston"]}]}}, False),
    ({"body": {"city": [{"anything-but": "Boston"}]}}, True),
    ({"body": {"city": [{"anything-but": {"prefix": "Sea"}}]}}, False),
    ({"body": {"total": [{"numeric": [">", 40, "<=", 42]}]}}, True),
    ({"body": {"total": [{"numeric": ["<", 42]}]}}, False),
    ({"body": {"city": [{"numeric": [">", 0]}]}}, False),
    ({"body": {"city": [{"exists": True}]}}, True),
    ({"body": {"missing": [{"exists": False}]}}, True),
    ({"body": {"city": [{"exists": False}]}}, False),
    ({"body": {"missing": ["x"]}}, False),
    ({"body": {"kind": ["order"]}, "attributes": {"SenderId": ["999"]}}, False),
    ({"body": {"kind": {"nested": ["x"]}}}, False),
])
def test_matchers(pattern: dict, expected: bool) -> None:
    assert matches(parse_pattern(__import__("json").dumps(pattern)), EVENT) is expected


def test_filters_are_alternatives() -> None:
    assert matches_any([{"body": {"kind": ["x"]}}, {"body": {"kind": ["order"]}}], EVENT)
    assert not matches_any([{"body": {"kind": ["x"]}}], EVENT)


@pytest.mark.parametrize("text", ["{nope", "[]", '{"a": "b"}', '{"a": []}', '{"a": [{"prefix": 1}]}',
                                  '{"a": [{"numeric": [">>", 1]}]}', '{"a": [{"unknown": 1}]}',
                                  '{"a": [{"exists": "yes"}]}', '{"a": [[1]]}'])
def test_invalid_patterns(text: str) -> None:
    with pytest.raises(InvalidPattern):
        parse_pattern(text)
