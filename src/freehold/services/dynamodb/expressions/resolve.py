"""Substituting ExpressionAttributeNames/Values into parsed expressions, with DynamoDB's checks.

One `Substitution` serves all expressions of a request, because DynamoDB checks the maps
against all of them together: a name or value defined but used by none is an error
("Value provided in ExpressionAttributeNames unused in expressions: keys: {#a}"), and so is
one used but not defined, a reserved word used as a bare name, or a malformed key.
"""

from __future__ import annotations

import re
from dataclasses import fields, is_dataclass, replace
from decimal import Decimal
from typing import Any

from freehold.services.dynamodb.errors import validation
from freehold.services.dynamodb.expressions.ast import (
    AddAction,
    Arithmetic,
    Between,
    Call,
    DeleteAction,
    Literal,
    NameRef,
    Path,
    Projection,
    Update,
    ValueRef,
)
from freehold.services.dynamodb.expressions.parser import expression_error
from freehold.services.dynamodb.expressions.reserved import is_reserved
from freehold.services.dynamodb.types import ValueChecker, order_key, value_type

_NAME_KEY = re.compile(r"^#[A-Za-z0-9_]+$")
_VALUE_KEY = re.compile(r"^:[A-Za-z0-9_]+$")
VALID_TYPES = ("S", "SS", "N", "NS", "B", "BS", "BOOL", "NULL", "L", "M")
TYPE_WORDS = {
    "S": "STRING", "N": "NUMBER", "B": "BINARY", "BOOL": "BOOLEAN", "NULL": "NULL", "L": "LIST", "M": "MAP",
    "SS": "STRING_SET", "NS": "NUMBER_SET", "BS": "BINARY_SET",
}


class Substitution:
    """The request's ExpressionAttributeNames and Values, and which of them were used."""

    def __init__(self, names: dict[str, str] | None, values: dict[str, Any] | None) -> None:
        self.names = names
        self.values: dict[str, Any] | None = None
        self.used_names: set[str] = set()
        self.used_values: set[str] = set()
        if names is not None:
            if not names:
                raise validation("ExpressionAttributeNames must not be empty")
            for key in names:
                if not _NAME_KEY.match(key):
                    raise validation(f'ExpressionAttributeNames contains invalid key: Syntax error; key: "{key}"')
        if values is not None:
            if not values:
                raise validation("ExpressionAttributeValues must not be empty")
            checked: dict[str, Any] = {}
            for key, value in values.items():
                if not _VALUE_KEY.match(key):
                    raise validation(f'ExpressionAttributeValues contains invalid key: Syntax error; key: "{key}"')
                checked[key] = ValueChecker(where=key).check(value)
            self.values = checked

    # -- resolution -------------------------------------------------------------------------
    def resolve(self, node: Any, kind: str) -> Any:
        """A copy of `node` with names and values substituted; errors name `kind`."""
        return _Resolver(self, kind).visit(node)

    def check_unused(self) -> None:
        if self.names:
            unused = [key for key in self.names if key not in self.used_names]
            if unused:
                raise validation(
                    "Value provided in ExpressionAttributeNames unused in expressions: keys: {" + ", ".join(unused) + "}"
                )
        if self.values:
            unused = [key for key in self.values if key not in self.used_values]
            if unused:
                raise validation(
                    "Value provided in ExpressionAttributeValues unused in expressions: keys: {" + ", ".join(unused) + "}"
                )


class _Resolver:
    def __init__(self, substitution: Substitution, kind: str) -> None:
        self.sub = substitution
        self.kind = kind

    def fail(self, detail: str) -> Exception:
        return expression_error(self.kind, detail)

    def visit(self, node: Any) -> Any:
        if isinstance(node, Path):
            return self.path(node)
        if isinstance(node, ValueRef):
            return self.value(node)
        if isinstance(node, tuple):
            return tuple(self.visit(item) for item in node)
        if not is_dataclass(node) or isinstance(node, type):
            return node
        # A plain loop, not a comprehension: one stack frame per tree level (expressions nest
        # up to the parser's operator and parenthesis limits; see parser.MAX_NESTING).
        changes: dict[str, Any] = {}
        for field in fields(node):
            changes[field.name] = self.visit(getattr(node, field.name))
        resolved = replace(node, **changes)
        self.check(resolved)
        return resolved

    def path(self, path: Path) -> Path:
        elements: list[Any] = []
        for element in path.elements:
            if isinstance(element, NameRef):
                names = self.sub.names or {}
                if element.text not in names:
                    raise self.fail(
                        f"An expression attribute name used in the document path is not defined; attribute name: {element.text}"
                    )
                self.sub.used_names.add(element.text)
                elements.append(names[element.text])
            elif isinstance(element, str):
                if is_reserved(element):
                    raise self.fail(f"Attribute name is a reserved keyword; reserved keyword: {element}")
                elements.append(element)
            else:
                elements.append(element)
        return Path(tuple(elements))

    def value(self, ref: ValueRef) -> Literal:
        values = self.sub.values or {}
        if ref.text not in values:
            raise self.fail(
                f"An expression attribute value used in expression is not defined; attribute value: {ref.text}"
            )
        self.sub.used_values.add(ref.text)
        return Literal(values[ref.text], ref.text)

    # -- semantic checks on resolved nodes ------------------------------------------------
    def check(self, node: Any) -> None:
        if isinstance(node, Call):
            self.check_call(node)
        elif isinstance(node, Between):
            self.check_between(node)
        elif isinstance(node, AddAction):
            kind = value_type(node.value.value) if isinstance(node.value, Literal) else ""
            if kind not in ("N", "SS", "NS", "BS"):
                raise self.fail(
                    f"Incorrect operand type for operator or function; operator: ADD, operand type: {TYPE_WORDS.get(kind, kind)}"
                )
        elif isinstance(node, DeleteAction):
            kind = value_type(node.value.value) if isinstance(node.value, Literal) else ""
            if kind not in ("SS", "NS", "BS"):
                raise self.fail(
                    f"Incorrect operand type for operator or function; operator: DELETE, operand type: {TYPE_WORDS.get(kind, kind)}"
                )
        elif isinstance(node, Arithmetic):
            for side in (node.left, node.right):
                if isinstance(side, Literal) and value_type(side.value) != "N":
                    raise self.fail(
                        "Incorrect operand type for operator or function; operator or function: "
                        f"{node.op}, operand type: {value_type(side.value)}"
                    )

    def check_call(self, call: Call) -> None:
        name = call.name
        if name in ("attribute_exists", "attribute_not_exists", "size", "attribute_type", "if_not_exists"):
            if not isinstance(call.args[0], Path):
                raise self.fail(f"Operator or function requires a document path; operator or function: {name}")
        if name == "attribute_type":
            kind = call.args[1]
            if not isinstance(kind, Literal) or value_type(kind.value) != "S":
                shown = value_type(kind.value) if isinstance(kind, Literal) else "PATH"
                raise self.fail(
                    f"Incorrect operand type for operator or function; operator or function: attribute_type, operand type: {shown}"
                )
            if kind.value["S"] not in VALID_TYPES:
                raise self.fail(
                    f"Invalid attribute type name found in type: {kind.value['S']}, "
                    "valid types: {B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
                )
        if name == "begins_with":
            for arg in call.args:
                if isinstance(arg, Literal) and value_type(arg.value) not in ("S", "B"):
                    raise self.fail(
                        "Incorrect operand type for operator or function; operator or function: begins_with, "
                        f"operand type: {value_type(arg.value)}"
                    )
        if name == "list_append":
            for arg in call.args:
                if isinstance(arg, Literal) and value_type(arg.value) != "L":
                    raise self.fail(
                        "Incorrect operand type for operator or function; operator or function: list_append, "
                        f"operand type: {value_type(arg.value)}"
                    )

    def check_between(self, node: Between) -> None:
        if not (isinstance(node.low, Literal) and isinstance(node.high, Literal)):
            return
        low, high = order_key(node.low.value), order_key(node.high.value)
        if low is None or high is None or low[0] != high[0]:
            return
        if high[1] < low[1]:
            raise self.fail(
                "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
                f"lower bound operand: AttributeValue: {_shown(node.low.value)}, "
                f"upper bound operand: AttributeValue: {_shown(node.high.value)}"
            )


def _shown(value: dict[str, Any]) -> str:
    kind, inner = next(iter(value.items()))
    if isinstance(inner, (bytes, bytearray)):
        inner = inner.decode("utf-8", "replace")
    return "{" + f"{kind}:{inner}" + "}"


def check_overlaps(paths: list[Path], kind: str) -> None:
    """No two paths of an update (or projection) may be equal or one inside the other."""
    for i, first in enumerate(paths):
        for second in paths[i + 1 :]:
            shorter = min(len(first.elements), len(second.elements))
            if first.elements[:shorter] == second.elements[:shorter]:
                raise expression_error(
                    kind,
                    "Two document paths overlap with each other; must remove or rewrite one of these paths; "
                    f"path one: {first.shown()}, path two: {second.shown()}",
                )


def update_paths(update: Update) -> list[Path]:
    return [action.path for action in update.actions]


def projection_paths(projection: Projection) -> list[Path]:
    return list(projection.paths)


def literal_number(literal: Literal) -> Decimal:
    return Decimal(literal.value["N"])
