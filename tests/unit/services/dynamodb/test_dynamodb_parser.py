"""The expression parser: precedence, paths, and DynamoDB's syntax error windows."""

from __future__ import annotations

import pytest

from freehold.protocol.errors import ServiceError
from freehold.services.dynamodb.expressions.ast import And, Compare, Not, Or, Path, SetAction, ValueRef
from freehold.services.dynamodb.expressions.parser import parse_condition, parse_projection, parse_update


def test_precedence_not_and_or() -> None:
    tree = parse_condition("a = :x OR NOT b = :y AND c = :z")
    assert isinstance(tree, Or) and isinstance(tree.right, And) and isinstance(tree.right.left, Not)


def test_paths_with_indexes_and_names() -> None:
    projection = parse_projection("a.b[3].#c, d")
    assert projection.paths[0].elements[:3] == ("a", "b", 3)
    update = parse_update("SET x[0] = :v")
    assert update.actions[0] == SetAction(Path(("x", 0)), ValueRef(":v"))
    assert parse_condition("size(a) > :n") == Compare(">", parse_condition("size(a) > :n").left, ValueRef(":n"))


@pytest.mark.parametrize("source, message", [
    ("a-b", 'Syntax error; token: "-", near: "a-b"'),
    ("()", 'Syntax error; token: ")", near: "()"'),
    ("a = :v AND", 'Syntax error; token: "<EOF>", near: "AND"'),
    ("a = :v :w", 'Syntax error; token: ":w", near: ":v :w"'),
    ("a !", 'Syntax error; token: "!", near: "a !"'),
])
def test_syntax_error_windows(source: str, message: str) -> None:
    with pytest.raises(ServiceError) as info:
        parse_condition(source)
    assert info.value.message == f"Invalid ConditionExpression: {message}"
