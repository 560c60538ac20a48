"""Subscription filter policies: their validation (with AWS's InvalidParameter errors) and
matching against a message's attributes or its JSON body.

https://docs.aws.amazon.com/sns/latest/dg/sns-subscription-filter-policies.html
A policy maps attribute names (or, with FilterPolicyScope=MessageBody, nested JSON keys) to
a list of conditions, any of which may match (OR); every key must match (AND); `"$or"` lists
alternative sub-policies. Conditions: exact strings and numbers, `true`/`false`/`null`
(body only), `prefix`, `suffix`, `equals-ignore-case`, `anything-but` (values, or a prefix
or suffix), `numeric` ranges, `exists` and `cidr`. Binary attributes are ignored, a
String.Array attribute matches when any element does, a JSON array in the body likewise.
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from freehold.services.sns.models import invalid

MAX_KEYS = 5
MAX_COMBINATIONS = 150
NUMERIC_LIMIT = 1e9
NUMERIC_OPERATORS = ("<", "<=", "=", ">=", ">")

Path = tuple[str, ...]
_ABSENT = object()


@dataclass(frozen=True)
class Condition:
    kind: str  # exact, prefix, suffix, ignore-case, anything-but, anything-but-prefix, ...
    value: Any = None


@dataclass(frozen=True)
class FilterPolicy:
    """A validated policy: alternatives (OR) of conjunctions (AND) of per-path conditions."""

    branches: tuple[tuple[tuple[Path, tuple[Condition, ...]], ...], ...]
    scope: str

    def matches(self, attributes: dict[str, dict[str, Any]], body: str) -> bool:
        """Whether a message with these attributes (as Publish takes them) and body passes."""
        if self.scope == "MessageBody":
            try:
                document = json.loads(body)
            except ValueError:
                return False
            if not isinstance(document, dict):
                return False
            lookup = lambda path: _body_values(document, path)  # noqa: E731
        else:
            lookup = lambda path: _attribute_values(attributes, path[0])  # noqa: E731
        for branch in self.branches:
            if all(_path_matches(conditions, lookup(path)) for path, conditions in branch):
                return True
        return False


def _fail(message: str) -> Exception:
    return invalid(f"Invalid parameter: FilterPolicy: {message}")


def parse(text: str, scope: str = "MessageAttributes") -> FilterPolicy:
    """The policy a FilterPolicy attribute holds, or AWS's InvalidParameter."""
    try:
        document = json.loads(text)
    except ValueError as error:
        raise _fail(f"failed to parse JSON: {error.args[0] if error.args else error}") from None
    if not isinstance(document, dict):
        raise _fail("Filter policy must be a JSON object")
    branches = list(_branches(document, (), scope))
    if not branches or any(not branch for branch in branches):
        raise _fail("Filter policy must not be empty")
    combinations = 0
    for branch in branches:
        if len(branch) > MAX_KEYS:
            raise _fail(f"Filter policy can not have more than {MAX_KEYS} keys")
        combinations += math.prod(len(conditions) for _, conditions in branch)
    if combinations > MAX_COMBINATIONS:
        raise _fail("Filter policy is too complex")
    return FilterPolicy(tuple(tuple(branch) for branch in branches), scope)


def _branches(document: dict[str, Any], prefix: Path, scope: str) -> Iterator[list[tuple[Path, tuple[Condition, ...]]]]:
    """The AND-lists this (sub)policy expands to: `$or` multiplies the alternatives."""
    plain: list[tuple[Path, tuple[Condition, ...]]] = []
    nested: list[list[list[tuple[Path, tuple[Condition, ...]]]]] = []
    for key, value in document.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise _fail("Value of $or must be an array of at least 2 elements")
            options: list[list[tuple[Path, tuple[Condition, ...]]]] = []
            for option in value:
                if not isinstance(option, dict):
                    raise _fail("Value of $or must be an array of objects")
                options.extend(_branches(option, prefix, scope))
            nested.append(options)
        elif isinstance(value, dict):
            if scope != "MessageBody":
                raise invalid("Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy")
            nested.append(list(_branches(value, (*prefix, key), scope)))
        elif isinstance(value, list):
            if not value:
                raise _fail("Empty arrays are not allowed")
            plain.append(((*prefix, key), tuple(_condition(item, scope) for item in value)))
        else:
            raise _fail(f"Match value must be String, number, true, false, or null (key {key})")
    results: list[list[tuple[Path, tuple[Condition, ...]]]] = [plain]
    for options in nested:
        results = [done + option for done in results for option in options]
    yield from results


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(f"Value of {what} must be numeric")
    if not -NUMERIC_LIMIT <= value <= NUMERIC_LIMIT:
        raise _fail(f"Value of {what} must be between -1.0E9 and 1.0E9 inclusive")
    return float(value)


def _string(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise _fail(f"{what} match pattern must be a string")
    return value


def _condition(item: Any, scope: str) -> Condition:
    if isinstance(item, str):
        return Condition("exact", item)
    if isinstance(item, bool) or item is None:
        if scope != "MessageBody" and item is not None:
            # Booleans can only appear in a JSON body, never in a message attribute.
            raise _fail("Match value must be String, number, true, false, or null")
        return Condition("literal", item)
    if isinstance(item, (int, float)):
        return Condition("number", _number(item, "number"))
    if isinstance(item, list):
        raise _fail("Match value must be String, number, true, false, or null")
    if not isinstance(item, dict):
        raise _fail("Match value must be String, number, true, false, or null")
    if len(item) != 1:
        raise _fail("Only one key allowed in match expression")
    ((operator, argument),) = item.items()
    if operator == "prefix":
        return Condition("prefix", _string(argument, "prefix"))
    if operator == "suffix":
        return Condition("suffix", _string(argument, "suffix"))
    if operator == "equals-ignore-case":
        return Condition("ignore-case", _string(argument, "equals-ignore-case").casefold())
    if operator == "exists":
        if not isinstance(argument, bool):
            raise _fail("exists match pattern must be either true or false.")
        return Condition("exists", argument)
    if operator == "numeric":
        return Condition("numeric", _numeric_range(argument))
    if operator == "anything-but":
        return _anything_but(argument)
    if operator == "cidr":
        try:
            return Condition("cidr", ipaddress.ip_network(_string(argument, "cidr"), strict=False))
        except ValueError:
            raise _fail(f"Malformed CIDR, one '/' required: {argument}") from None
    raise _fail(f"Unrecognized match type {operator}")


def _numeric_range(argument: Any) -> tuple[tuple[str, float], ...]:
    if not isinstance(argument, list) or not argument:
        raise _fail("Value of numeric must be an array.")
    if len(argument) not in (2, 4):
        raise _fail("Value of numeric must be an array of 2 or 4 elements.")
    pairs: list[tuple[str, float]] = []
    for index in range(0, len(argument), 2):
        operator = argument[index]
        if operator not in NUMERIC_OPERATORS:
            raise _fail(f"Unrecognized numeric range operator: {operator}")
        pairs.append((operator, _number(argument[index + 1], operator)))
    if len(pairs) == 2:
        (low_op, low), (high_op, high) = pairs
        if low_op not in (">", ">=") or high_op not in ("<", "<="):
            raise _fail(f"Bad numeric range operator: {high_op}")
        if low >= high:
            raise _fail("Bottom must be less than top")
    return tuple(pairs)


def _anything_but(argument: Any) -> Condition:
    if isinstance(argument, dict):
        if len(argument) != 1:
            raise _fail("Value of anything-but must be an array or single string/number value.")
        ((operator, value),) = argument.items()
        if operator == "prefix":
            return Condition("anything-but-prefix", _string(value, "prefix"))
        if operator == "suffix":
            return Condition("anything-but-suffix", _string(value, "suffix"))
        raise _fail(f"Unsupported anything-but pattern: {operator}")
    values = argument if isinstance(argument, list) else [argument]
    if not values:
        raise _fail("Empty arrays are not allowed")
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise _fail("Value of anything-but must be an array or single string/number value.")
        if not isinstance(value, str):
            _number(value, "anything-but")
    return Condition("anything-but", tuple(float(v) if not isinstance(v, str) else v for v in values))


# ---------------------------------------------------------------------------- matching

def _attribute_values(attributes: dict[str, dict[str, Any]], name: str) -> Any:
    """The values an attribute offers for matching: a list, or _ABSENT."""
    attribute = attributes.get(name)
    if attribute is None:
        return _ABSENT
    data_type = str(attribute.get("DataType", ""))
    value = attribute.get("StringValue")
    if data_type.startswith("Binary") or value is None:
        return _ABSENT  # SNS ignores Binary attributes in filter policies
    if data_type.startswith("String.Array"):
        try:
            items = json.loads(value)
        except ValueError:
            return [value]
        return [_as_number(i) for i in items] if isinstance(items, list) else [value]
    if data_type.startswith("Number"):
        try:
            return [float(value)]
        except ValueError:
            return [value]
    return [value]


def _as_number(value: Any) -> Any:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _body_values(document: Any, path: Path) -> Any:
    current: list[Any] = [document]
    for key in path:
        following: list[Any] = []
        for node in current:
            for item in node if isinstance(node, list) else [node]:
                if isinstance(item, dict) and key in item:
                    following.append(item[key])
        if not following:
            return _ABSENT
        current = following
    values: list[Any] = []
    for node in current:
        values.extend(node if isinstance(node, list) else [node])
    return [_as_number(v) for v in values]


def _path_matches(conditions: tuple[Condition, ...], values: Any) -> bool:
    for condition in conditions:
        if condition.kind == "exists":
            if (values is not _ABSENT) == condition.value:
                return True
            continue
        if values is _ABSENT:
            continue
        if any(_value_matches(condition, value) for value in values):
            return True
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, float)


def _same_number(a: float, b: float) -> bool:
    # Numbers compare with five digits after the decimal point, as AWS documents.
    return round(a, 5) == round(b, 5)


def _value_matches(condition: Condition, value: Any) -> bool:
    kind, wanted = condition.kind, condition.value
    if kind == "exact":
        return isinstance(value, str) and value == wanted
    if kind == "number":
        return _is_number(value) and _same_number(value, wanted)
    if kind == "literal":
        return value is wanted
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(wanted)
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(wanted)
    if kind == "ignore-case":
        return isinstance(value, str) and value.casefold() == wanted
    if kind == "anything-but":
        for excluded in wanted:
            if isinstance(excluded, str) and value == excluded:
                return False
            if isinstance(excluded, float) and _is_number(value) and _same_number(value, excluded):
                return False
        return True
    if kind == "anything-but-prefix":
        return isinstance(value, str) and not value.startswith(wanted)
    if kind == "anything-but-suffix":
        return isinstance(value, str) and not value.endswith(wanted)
    if kind == "numeric":
        return _is_number(value) and all(_compare(value, op, bound) for op, bound in wanted)
    if kind == "cidr":
        try:
            return isinstance(value, str) and ipaddress.ip_address(value) in wanted
        except ValueError:
            return False
    return False


def _compare(value: float, operator: str, bound: float) -> bool:
    if operator == "<":
        return value < bound
    if operator == "<=":
        return value <= bound
    if operator == "=":
        return _same_number(value, bound)
    if operator == ">=":
        return value >= bound
    return value > bound
