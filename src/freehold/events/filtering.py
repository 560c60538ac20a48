"""Event filtering: the pattern language of EventBridge, which Lambda event source mappings
use for FilterCriteria (and SNS/EventBridge may share). A pattern is a JSON object whose leaves
are lists of matchers; an event matches when every key of the pattern matches.

Matchers (https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html):
literal values (string, number, null, boolean), {"prefix": s}, {"suffix": s},
{"equals-ignore-case": s}, {"anything-but": value | [values] | {"prefix": s} | {"suffix": s}},
{"numeric": [op, n, (op, n)]}, {"exists": bool}. A list in the event matches when any of its
elements matches. Numeric matchers only match numbers, literals match by type and value.
"""

from __future__ import annotations

import json
from typing import Any

Pattern = dict[str, Any]
_ABSENT = object()
NUMERIC_OPERATORS = ("<", "<=", "=", ">", ">=")


class InvalidPattern(ValueError):
    """The pattern is not valid in the filter language."""


def parse_pattern(text: str) -> Pattern:
    """A pattern from its JSON text, checked; InvalidPattern when it is not valid."""
    try:
        pattern = json.loads(text)
    except (ValueError, TypeError):
        raise InvalidPattern("the pattern is not JSON") from None
    if not isinstance(pattern, dict):
        raise InvalidPattern("the pattern is not a JSON object")
    _check(pattern)
    return pattern


def _check(pattern: Pattern) -> None:
    for key, value in pattern.items():
        if isinstance(value, dict):
            _check(value)
        elif isinstance(value, list):
            if not value:
                raise InvalidPattern(f"empty matcher list at {key}")
            for matcher in value:
                _check_matcher(matcher)
        else:
            raise InvalidPattern(f"a leaf of the pattern must be a list: {key}")


def _check_matcher(matcher: Any) -> None:
    if not isinstance(matcher, dict):
        if isinstance(matcher, list):
            raise InvalidPattern("nested lists are not matchers")
        return
    if len(matcher) != 1:
        raise InvalidPattern("a matcher object has exactly one key")
    (kind, operand), = matcher.items()
    if kind in ("prefix", "suffix", "equals-ignore-case"):
        if not isinstance(operand, str):
            raise InvalidPattern(f"{kind} takes a string")
    elif kind == "exists":
        if not isinstance(operand, bool):
            raise InvalidPattern("exists takes a boolean")
    elif kind == "numeric":
        _numeric_terms(operand)
    elif kind == "anything-but":
        if isinstance(operand, dict):
            if len(operand) != 1 or next(iter(operand)) not in ("prefix", "suffix", "equals-ignore-case"):
                raise InvalidPattern("anything-but takes a value, a list, or a prefix/suffix")
        elif isinstance(operand, list) and any(isinstance(v, (dict, list)) for v in operand):
            raise InvalidPattern("anything-but lists hold plain values")
    else:
        raise InvalidPattern(f"unknown matcher {kind}")


def _numeric_terms(operand: Any) -> list[tuple[str, float]]:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        raise InvalidPattern("numeric takes one or two (operator, number) pairs")
    terms: list[tuple[str, float]] = []
    for index in range(0, len(operand), 2):
        op, number = operand[index], operand[index + 1]
        if op not in NUMERIC_OPERATORS or isinstance(number, bool) or not isinstance(number, (int, float)):
            raise InvalidPattern("numeric takes one or two (operator, number) pairs")
        terms.append((op, float(number)))
    return terms


def matches(pattern: Pattern, event: Any) -> bool:
    """Whether `event` (a decoded JSON value) matches `pattern`."""
    if not isinstance(event, dict):
        return False
    for key, expected in pattern.items():
        value = event.get(key, _ABSENT)
        if isinstance(expected, dict):
            if not isinstance(value, dict) or not matches(expected, value):
                return False
        elif not _leaf_matches(expected, value):
            return False
    return True


def matches_any(patterns: list[Pattern], event: Any) -> bool:
    """FilterCriteria's rule: filters are alternatives (OR)."""
    return any(matches(pattern, event) for pattern in patterns)


def _leaf_matches(matchers: list[Any], value: Any) -> bool:
    if value is _ABSENT:
        return any(isinstance(m, dict) and m.get("exists") is False for m in matchers)
    values = value if isinstance(value, list) else [value]
    for matcher in matchers:
        if isinstance(matcher, dict) and "exists" in matcher:
            # exists:true matches a present leaf (not an object); exists:false never a present one.
            if matcher["exists"] and not isinstance(value, dict):
                return True
            continue
        if any(_matcher_matches(matcher, v) for v in values):
            return True
    return False


def _same(expected: Any, value: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return isinstance(expected, bool) and isinstance(value, bool) and expected == value
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return float(expected) == float(value)
    return type(expected) is type(value) and expected == value


def _matcher_matches(matcher: Any, value: Any) -> bool:
    if not isinstance(matcher, dict):
        return _same(matcher, value)
    (kind, operand), = matcher.items()
    if kind == "prefix":
        return isinstance(value, str) and value.startswith(operand)
    if kind == "suffix":
        return isinstance(value, str) and value.endswith(operand)
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == operand.lower()
    if kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return all(_compare(float(value), op, number) for op, number in _numeric_terms(operand))
    if kind == "anything-but":
        if isinstance(operand, dict):
            return isinstance(value, str) and not _matcher_matches(operand, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_same(item, value) for item in excluded)
    return False


def _compare(value: float, op: str, number: float) -> bool:
    return {"<": value < number, "<=": value <= number, "=": value == number,
            ">": value > number, ">=": value >= number}[op]
