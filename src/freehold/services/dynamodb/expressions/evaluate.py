"""Evaluating resolved conditions (ConditionExpression, FilterExpression, key conditions)
against an item, and reading document paths.

Semantics (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Expressions.OperatorsAndFunctions.html):
a comparison involving a missing attribute is false (so `NOT a = :v` is true when `a` is
missing, and `a <> :v` is true); ordering comparisons only hold between two strings, two
numbers or two binaries; size() of a type without a size makes its comparison false.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from freehold.services.dynamodb.expressions.ast import (
    And,
    Between,
    Call,
    Compare,
    In,
    Literal,
    Not,
    Or,
    Paren,
    Path,
)
from freehold.services.dynamodb.types import (
    AttributeValue,
    Item,
    contains_value,
    order_key,
    size_of,
    value_type,
    values_equal,
)


def get_path(item: Item, path: Path) -> AttributeValue | None:
    """The value at a document path, or None when any step is missing or of the wrong type."""
    elements = path.elements
    value: Any = item.get(elements[0])
    for element in elements[1:]:
        if value is None:
            return None
        if isinstance(element, int):
            inner = value.get("L")
            if inner is None or element >= len(inner):
                return None
            value = inner[element]
        else:
            inner = value.get("M")
            if inner is None:
                return None
            value = inner.get(element)
    found: AttributeValue | None = value
    return found


def operand(node: Any, item: Item) -> AttributeValue | None:
    if isinstance(node, Path):
        return get_path(item, node)
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Call) and node.name == "size":
        value = get_path(item, node.args[0])
        if value is None:
            return None
        size = size_of(value)
        return None if size is None else {"N": str(size)}
    return None


def _ordered(left: AttributeValue | None, right: AttributeValue | None) -> tuple[Any, Any] | None:
    if left is None or right is None:
        return None
    lkey, rkey = order_key(left), order_key(right)
    if lkey is None or rkey is None or lkey[0] != rkey[0]:
        return None
    return lkey[1], rkey[1]


def compare(op: str, left: AttributeValue | None, right: AttributeValue | None) -> bool:
    if op == "=":
        return values_equal(left, right)
    if op == "<>":
        if left is None or right is None:
            return True
        return not values_equal(left, right)
    pair = _ordered(left, right)
    if pair is None:
        return False
    a, b = pair
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def evaluate(node: Any, item: Item) -> bool:
    """Whether a resolved condition holds for `item` (an empty dict when there is no item)."""
    if isinstance(node, Compare):
        return compare(node.op, operand(node.left, item), operand(node.right, item))
    if isinstance(node, And):
        return evaluate(node.left, item) and evaluate(node.right, item)
    if isinstance(node, Or):
        return evaluate(node.left, item) or evaluate(node.right, item)
    if isinstance(node, Not):
        return not evaluate(node.operand, item)
    if isinstance(node, Paren):
        return evaluate(node.inner, item)
    if isinstance(node, Between):
        value = operand(node.operand, item)
        low, high = operand(node.low, item), operand(node.high, item)
        below, above = _ordered(low, value), _ordered(value, high)
        return below is not None and above is not None and below[0] <= below[1] and above[0] <= above[1]
    if isinstance(node, In):
        value = operand(node.operand, item)
        return value is not None and any(values_equal(value, operand(option, item)) for option in node.options)
    if isinstance(node, Call):
        return _function(node, item)
    raise TypeError(f"not a condition: {node!r}")


def _function(call: Call, item: Item) -> bool:
    name = call.name
    if name == "attribute_exists":
        return get_path(item, call.args[0]) is not None
    if name == "attribute_not_exists":
        return get_path(item, call.args[0]) is None
    if name == "attribute_type":
        value = get_path(item, call.args[0])
        wanted = operand(call.args[1], item)
        return value is not None and wanted is not None and value_type(value) == wanted.get("S")
    if name == "begins_with":
        value, prefix = operand(call.args[0], item), operand(call.args[1], item)
        if value is None or prefix is None:
            return False
        kind, inner = next(iter(value.items()))
        pkind, pinner = next(iter(prefix.items()))
        if kind != pkind or kind not in ("S", "B"):
            return False
        return bool(inner.startswith(pinner)) if kind == "S" else bytes(inner).startswith(bytes(pinner))
    if name == "contains":
        value, needle = operand(call.args[0], item), operand(call.args[1], item)
        return value is not None and needle is not None and contains_value(value, needle)
    raise TypeError(f"not a condition function: {name}")


def number_of(value: AttributeValue) -> Decimal:
    return Decimal(value["N"])
