"""The legacy (pre-expression) parameters, translated into expression trees.

Expected, KeyConditions, QueryFilter and ScanFilter become resolved conditions,
AttributeUpdates an Update; AWS still accepts all of them
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/LegacyConditionalParameters.html).
"""

from __future__ import annotations

from typing import Any

from freehold.services.dynamodb.errors import invalid_parameter, validation
from freehold.services.dynamodb.expressions.ast import (
    AddAction,
    And,
    Between,
    Call,
    Compare,
    DeleteAction,
    In,
    Literal,
    Not,
    Or,
    Path,
    RemoveAction,
    SetAction,
    Update,
)
from freehold.services.dynamodb.types import ValueChecker, value_type

_COMPARISONS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}
_ARGUMENTS = {
    "EQ": 1, "NE": 1, "LE": 1, "LT": 1, "GE": 1, "GT": 1, "NOT_NULL": 0, "NULL": 0, "CONTAINS": 1,
    "NOT_CONTAINS": 1, "BEGINS_WITH": 1, "IN": None, "BETWEEN": 2,
}


def _literal(value: Any, name: str) -> Literal:
    return Literal(ValueChecker().check(value), name)


def comparison(name: str, operator: str, values: list[Any]) -> Any:
    """One legacy condition on a top-level attribute."""
    expected = _ARGUMENTS.get(operator)
    count = len(values)
    if operator not in _ARGUMENTS or (expected is not None and count != expected) or (expected is None and count == 0):
        raise invalid_parameter(f"Invalid number of argument(s) for the {operator} ComparisonOperator")
    path = Path((name,))
    literals = [_literal(value, name) for value in values]
    if operator in _COMPARISONS:
        if operator not in ("EQ", "NE") and value_type(literals[0].value) not in ("S", "N", "B"):
            raise invalid_parameter(
                f"ComparisonOperator {operator} is not valid for {value_type(literals[0].value)} AttributeValue type"
            )
        return Compare(_COMPARISONS[operator], path, literals[0])
    if operator == "NOT_NULL":
        return Call("attribute_exists", (path,))
    if operator == "NULL":
        return Call("attribute_not_exists", (path,))
    if operator == "CONTAINS":
        return Call("contains", (path, literals[0]))
    if operator == "NOT_CONTAINS":
        return And(Call("attribute_exists", (path,)), Not(Call("contains", (path, literals[0]))))
    if operator == "BEGINS_WITH":
        return Call("begins_with", (path, literals[0]))
    if operator == "IN":
        return In(path, tuple(literals))
    return Between(path, literals[0], literals[1])


def _combine(conditions: list[Any], operator: str | None) -> Any | None:
    if not conditions:
        return None
    node = conditions[0]
    for condition in conditions[1:]:
        node = Or(node, condition) if operator == "OR" else And(node, condition)
    return node


def expected_condition(expected: dict[str, Any], operator: str | None) -> Any | None:
    """The `Expected` map of PutItem/UpdateItem/DeleteItem."""
    conditions: list[Any] = []
    for name, spec in expected.items():
        exists = spec.get("Exists")
        value = spec.get("Value")
        op = spec.get("ComparisonOperator")
        values = spec.get("AttributeValueList")
        if op is not None:
            if value is not None:
                raise validation(
                    "One or more parameter values were invalid: Value and ComparisonOperator cannot be used "
                    "together for Attribute: " + name
                )
            conditions.append(comparison(name, op, values or []))
        elif exists is False:
            if value is not None:
                raise invalid_parameter(f"Value cannot be used when Exists is false for Attribute: {name}")
            conditions.append(Call("attribute_not_exists", (Path((name,)),)))
        else:
            if value is None:
                raise invalid_parameter(f"Value must be provided when Exists is true for Attribute: {name}")
            conditions.append(Compare("=", Path((name,)), _literal(value, name)))
    return _combine(conditions, operator)


def filter_condition(filters: dict[str, Any], operator: str | None) -> Any | None:
    """QueryFilter, ScanFilter and KeyConditions: {attr: {ComparisonOperator, AttributeValueList}}."""
    conditions = [
        comparison(name, spec["ComparisonOperator"], spec.get("AttributeValueList") or [])
        for name, spec in filters.items()
    ]
    return _combine(conditions, operator)


def attribute_updates(updates: dict[str, Any]) -> Update:
    """UpdateItem's AttributeUpdates: {attr: {Value, Action: PUT | ADD | DELETE}}."""
    actions: list[Any] = []
    for name, spec in updates.items():
        action = spec.get("Action") or "PUT"
        value = spec.get("Value")
        path = Path((name,))
        if action == "PUT":
            if value is None:
                raise invalid_parameter(f"Only DELETE action is allowed when no attribute value is specified: {name}")
            actions.append(SetAction(path, _literal(value, name)))
        elif action == "DELETE":
            if value is None:
                actions.append(RemoveAction(path))
            else:
                literal = _literal(value, name)
                if value_type(literal.value) not in ("SS", "NS", "BS"):
                    raise invalid_parameter("DELETE action with value is not supported for the type " + value_type(literal.value))
                actions.append(DeleteAction(path, literal))
        else:
            if value is None:
                raise invalid_parameter(f"Only DELETE action is allowed when no attribute value is specified: {name}")
            literal = _literal(value, name)
            kind = value_type(literal.value)
            if kind == "L":
                actions.append(SetAction(path, Call("list_append", (Call("if_not_exists", (path, Literal({"L": []}, name))), literal))))
            elif kind in ("N", "SS", "NS", "BS"):
                actions.append(AddAction(path, literal))
            else:
                raise invalid_parameter(f"ADD action is not supported for the type {kind}")
    return Update(tuple(actions))
