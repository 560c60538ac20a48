"""ProjectionExpression (and AttributesToGet): the parts of an item a read returns.

Nested paths keep their nesting (`a.b` returns `{"a": {"M": {"b": ...}}}`) and list
elements are returned in index order as a shorter list (`a[2], a[0]` returns a two-element
list holding elements 0 and 2).
"""

from __future__ import annotations

from typing import Any

from freehold.services.dynamodb.expressions.ast import Path
from freehold.services.dynamodb.expressions.evaluate import get_path
from freehold.services.dynamodb.types import Item


class _Node:
    __slots__ = ("kind", "children", "value")

    def __init__(self, kind: str) -> None:
        self.kind = kind  # "M", "L" or "V"
        self.children: dict[Any, _Node] = {}
        self.value: Any = None

    def finish(self) -> Any:
        if self.kind == "V":
            return self.value
        if self.kind == "M":
            return {"M": {key: child.finish() for key, child in self.children.items()}}
        return {"L": [self.children[index].finish() for index in sorted(self.children)]}


def project(item: Item, paths: tuple[Path, ...] | list[Path]) -> Item:
    root: dict[str, _Node] = {}
    for path in paths:
        value = get_path(item, path)
        if value is None:
            continue
        elements = path.elements
        first = elements[0]
        if len(elements) == 1:
            node = _Node("V")
            node.value = value
            root[first] = node
            continue
        kind = "L" if isinstance(elements[1], int) else "M"
        current = root.setdefault(first, _Node(kind))
        for position, element in enumerate(elements[1:], 1):
            if position == len(elements) - 1:
                leaf = _Node("V")
                leaf.value = value
                current.children[element] = leaf
            else:
                following = elements[position + 1]
                current = current.children.setdefault(element, _Node("L" if isinstance(following, int) else "M"))
    return {name: node.finish() for name, node in root.items()}


def project_names(item: Item, names: list[str]) -> Item:
    """AttributesToGet: top-level attributes by name."""
    return {name: item[name] for name in names if name in item}
