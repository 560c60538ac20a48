"""Applying a resolved UpdateExpression to an item.

DynamoDB computes every SET value from the item as it was before the update (so
`SET a = b, b = a` swaps), removes list elements by their original indexes, appends when a
SET names a list index past the end, and refuses paths whose parent is missing or of the
wrong type ("The document path provided in the update expression is invalid for update").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from freehold.services.dynamodb.errors import missing_attribute, validation
from freehold.services.dynamodb.expressions.ast import (
    AddAction,
    Arithmetic,
    Call,
    DeleteAction,
    Literal,
    Path,
    RemoveAction,
    SetAction,
    Update,
)
from freehold.services.dynamodb.expressions.evaluate import get_path
from freehold.services.dynamodb.types import CONTEXT, AttributeValue, Item, check_number, format_number, value_type


def incorrect_type() -> Exception:
    return validation("An operand in the update expression has an incorrect data type")


def invalid_path() -> Exception:
    return validation("The document path provided in the update expression is invalid for update")


def copy_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: copy_value(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [copy_value(inner) for inner in value]
    return value


def set_value(node: Any, item: Item) -> AttributeValue:
    """The value a SET action assigns, computed from the original item."""
    if isinstance(node, Literal):
        return node.value
    if isinstance(node, Path):
        value = get_path(item, node)
        if value is None:
            raise missing_attribute()
        return value
    if isinstance(node, Arithmetic):
        left, right = set_value(node.left, item), set_value(node.right, item)
        if value_type(left) != "N" or value_type(right) != "N":
            raise incorrect_type()
        a, b = Decimal(left["N"]), Decimal(right["N"])
        result = CONTEXT.add(a, b) if node.op == "+" else CONTEXT.subtract(a, b)
        check_number(result)
        return {"N": format_number(result)}
    if isinstance(node, Call):
        if node.name == "if_not_exists":
            existing = get_path(item, node.args[0])
            return existing if existing is not None else set_value(node.args[1], item)
        if node.name == "list_append":
            first, second = set_value(node.args[0], item), set_value(node.args[1], item)
            if value_type(first) != "L" or value_type(second) != "L":
                raise incorrect_type()
            return {"L": list(first["L"]) + list(second["L"])}
    raise TypeError(f"not an update value: {node!r}")


def _parent(item: Item, path: Path) -> Any:
    """The container holding the path's last element: the item (a dict of attributes), a
    map's dict, or a list; None when the parent is missing or of the wrong type."""
    if len(path.elements) == 1:
        return item
    parent = get_path(item, Path(path.elements[:-1]))
    if parent is None:
        return None
    last = path.elements[-1]
    if isinstance(last, int):
        return parent.get("L")
    return parent.get("M")


def assign(item: Item, path: Path, value: AttributeValue) -> None:
    container = _parent(item, path)
    last = path.elements[-1]
    if container is None or isinstance(last, int) != isinstance(container, list):
        raise invalid_path()
    if isinstance(container, list):
        assert isinstance(last, int)
        if last < len(container):
            container[last] = value
        else:
            container.append(value)
    else:
        container[last] = value


def apply_update(update: Update, original: Item) -> Item:
    """The item after the update (a new dict; `original` is left as it was)."""
    item = copy_value(original)
    assignments = [
        (action.path, copy_value(set_value(action.value, original)))
        for action in update.actions
        if isinstance(action, SetAction)
    ]
    for path, value in assignments:
        assign(item, path, value)
    removals = [action.path for action in update.actions if isinstance(action, RemoveAction)]
    # List elements go by their original indexes: remove the highest first.
    removals.sort(key=lambda p: p.elements[-1] if isinstance(p.elements[-1], int) else -1, reverse=True)
    for path in removals:
        _remove(item, path)
    for action in update.actions:
        if isinstance(action, AddAction):
            _add(item, action.path, action.value.value)
        elif isinstance(action, DeleteAction):
            _delete(item, action.path, action.value.value)
    return item


def _remove(item: Item, path: Path) -> None:
    container = _parent(item, path)
    last = path.elements[-1]
    if container is None:
        return
    if isinstance(container, list):
        if isinstance(last, int) and last < len(container):
            del container[last]
        return
    if isinstance(last, str):
        container.pop(last, None)


def _add(item: Item, path: Path, value: AttributeValue) -> None:
    existing = get_path(item, path)
    kind = value_type(value)
    if existing is None:
        assign(item, path, copy_value(value))
        return
    if value_type(existing) != kind:
        raise incorrect_type()
    if kind == "N":
        total = CONTEXT.add(Decimal(existing["N"]), Decimal(value["N"]))
        check_number(total)
        assign(item, path, {"N": format_number(total)})
        return
    members = list(existing[kind])
    if kind == "NS":
        present = {Decimal(n) for n in members}
        members += [n for n in value[kind] if Decimal(n) not in present]
    else:
        present_raw = set(members)
        members += [m for m in value[kind] if m not in present_raw]
    assign(item, path, {kind: members})


def _delete(item: Item, path: Path, value: AttributeValue) -> None:
    existing = get_path(item, path)
    if existing is None:
        return
    kind = value_type(value)
    if value_type(existing) != kind:
        raise incorrect_type()
    if kind == "NS":
        gone = {Decimal(n) for n in value[kind]}
        members = [n for n in existing[kind] if Decimal(n) not in gone]
    else:
        gone_raw = set(value[kind])
        members = [m for m in existing[kind] if m not in gone_raw]
    if members:
        assign(item, path, {kind: members})
    else:
        _remove(item, path)
