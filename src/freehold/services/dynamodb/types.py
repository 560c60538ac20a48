"""DynamoDB's data types: validating AttributeValues, numbers, sets, sizes and comparisons.

Items travel as boto3 hands them over: `{"name": {"S": "x"}, "n": {"N": "1.5"}, "b": {"B": b".."}}`.
Numbers are decimal strings with at most 38 significant digits and a magnitude between
1E-130 and 9.9999999999999999999999999999999999999E+125; DynamoDB stores them normalized
("1.50" reads back as "1.5"). Sets hold no duplicates and are never empty
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html).
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal
from functools import lru_cache
from typing import Any

from freehold.services.dynamodb.errors import invalid_parameter, validation

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

TYPES = ("S", "N", "B", "SS", "NS", "BS", "M", "L", "NULL", "BOOL")
SCALAR_KEY_TYPES = ("S", "N", "B")
MAX_ITEM_SIZE = 400 * 1024
MAX_DIGITS = 38
MAX_NESTING = 32

# Arithmetic is exact up to DynamoDB's precision; more digits are refused, not rounded.
CONTEXT = decimal.Context(prec=MAX_DIGITS + 2, Emax=200, Emin=-200, traps=[decimal.InvalidOperation])
_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_SET_NAMES = {"SS": "string", "NS": "number", "BS": "binary"}


def value_type(value: AttributeValue) -> str:
    """The one datatype an AttributeValue carries (validated values have exactly one)."""
    for key in value:
        return key
    return ""


def parse_number(text: str) -> Decimal:
    """A DynamoDB number from its string form, with AWS's errors for what it refuses."""
    if not isinstance(text, str) or not _NUMBER.match(text):
        raise validation(f"The parameter cannot be converted to a numeric value: {text}")
    number = Decimal(text)
    check_number(number)
    return number


def check_number(number: Decimal) -> None:
    if number.is_zero():
        return
    sign, digits, exponent = number.normalize(CONTEXT).as_tuple()
    assert isinstance(exponent, int)
    if len(digits) > MAX_DIGITS:
        raise validation("Attempting to store more than 38 significant digits in a Number")
    adjusted = exponent + len(digits) - 1
    if adjusted > 125:
        raise validation("Number overflow. Attempting to store a number with magnitude larger than supported range")
    if adjusted < -130:
        raise validation("Number underflow. Attempting to store a number with magnitude smaller than supported range")


def format_number(number: Decimal) -> str:
    """The canonical string DynamoDB returns: no exponent, no trailing zeros."""
    if number.is_zero():
        return "0"
    text = format(number.normalize(CONTEXT), "f")
    return text


def normalize_number(text: str) -> str:
    if isinstance(text, str):
        return _normalized(text)
    return format_number(parse_number(text))  # refused there, with AWS's message


@lru_cache(maxsize=8192)
def _normalized(text: str) -> str:
    # Cached (refusals raise, and are not cached): the same numbers come again and again.
    return format_number(parse_number(text))


class ValueChecker:
    """Validates AttributeValues and normalizes them in place (numbers, NS members)."""

    def __init__(self, where: str | None = None) -> None:
        # Values in ExpressionAttributeValues report the placeholder their error is about.
        self.where = where

    def fail(self, message: str) -> Exception:
        if self.where is not None:
            return validation(f"ExpressionAttributeValues contains invalid value: {message} for key {self.where}")
        return validation(message)

    def check(self, value: Any, depth: int = 0) -> AttributeValue:
        if not isinstance(value, dict) or not value:
            raise self.fail("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        if len(value) > 1:
            raise self.fail(
                "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                "supported datatypes"
            )
        if depth > MAX_NESTING:
            raise self.fail("Nesting Levels have exceeded supported limits")
        kind, inner = next(iter(value.items()))
        if kind == "S" or kind == "B" or kind == "BOOL":
            return value
        if kind == "N":
            return {"N": self._number(inner)}
        if kind == "NULL":
            if inner is not True:
                raise self.fail("One or more parameter values were invalid: Null attribute value types must have the value of true")
            return value
        if kind in _SET_NAMES:
            return {kind: self._set(kind, inner)}
        if kind == "M":
            return {"M": {name: self.check(member, depth + 1) for name, member in inner.items()}}
        if kind == "L":
            return {"L": [self.check(member, depth + 1) for member in inner]}
        raise self.fail("Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")

    def _number(self, text: str) -> str:
        try:
            return normalize_number(text)
        except Exception as error:  # a ServiceError with AWS's message
            raise self.fail(getattr(error, "message", str(error))) from None

    def _set(self, kind: str, members: list[Any]) -> list[Any]:
        if not members:
            if kind == "BS":
                raise self.fail("One or more parameter values were invalid: Binary sets should not be empty")
            raise self.fail(f"One or more parameter values were invalid: An {_SET_NAMES[kind]} set  may not be empty")
        if kind == "NS":
            members = [self._number(text) for text in members]
            seen = {Decimal(text) for text in members}
        else:
            seen = set(members)
        if len(seen) != len(members):
            shown = ", ".join(str(m) for m in members)
            raise self.fail(f"One or more parameter values were invalid: Input collection [{shown}] contains duplicates.")
        return members


_AS_IS = frozenset({"S", "B", "BOOL"})


def check_item(item: Item) -> Item:
    """A validated, normalized copy of an item's attributes."""
    checker = ValueChecker()
    result: Item = {}
    for name, value in item.items():
        if type(value) is dict and len(value) == 1 and not _AS_IS.isdisjoint(value):
            result[name] = value  # what ValueChecker.check answers for these, without the walk
        else:
            result[name] = checker.check(value)
    return result


# -- sizes ------------------------------------------------------------------------------
def number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def value_size(value: AttributeValue) -> int:
    """Bytes an attribute value counts for (DynamoDB's item size rules)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner.encode("utf-8"))
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in inner)
    if kind == "NS":
        return sum(number_size(n) for n in inner)
    if kind == "BS":
        return sum(len(b) for b in inner)
    if kind == "L":
        return 3 + sum(1 + value_size(member) for member in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode("utf-8")) + value_size(member) for name, member in inner.items())
    return 0


def item_size(item: Item) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


# -- comparisons --------------------------------------------------------------------------
def values_equal(left: AttributeValue | None, right: AttributeValue | None) -> bool:
    """DynamoDB equality: same type and same value; numbers and sets by value."""
    if left is None or right is None:
        return False
    lkind, lval = next(iter(left.items()))
    rkind, rval = next(iter(right.items()))
    if lkind != rkind:
        return False
    if lkind == "N":
        return Decimal(lval) == Decimal(rval)
    if lkind == "NS":
        return {Decimal(v) for v in lval} == {Decimal(v) for v in rval}
    if lkind in ("SS", "BS"):
        return set(lval) == set(rval)
    if lkind == "L":
        return len(lval) == len(rval) and all(values_equal(a, b) for a, b in zip(lval, rval))
    if lkind == "M":
        return lval.keys() == rval.keys() and all(values_equal(lval[k], rval[k]) for k in lval)
    return bool(lval == rval)


def order_key(value: AttributeValue) -> tuple[str, Any] | None:
    """A Python value ordered like DynamoDB orders this scalar (None for unordered types)."""
    kind, inner = next(iter(value.items()))
    if kind == "N":
        return kind, Decimal(inner)
    if kind == "S":
        return kind, inner.encode("utf-8")
    if kind == "B":
        return kind, bytes(inner)
    return None


def contains_value(haystack: AttributeValue, needle: AttributeValue) -> bool:
    """The contains() function: substring of a string, member of a set or list."""
    kind, inner = next(iter(haystack.items()))
    nkind, ninner = next(iter(needle.items()))
    if kind == "S":
        return nkind == "S" and ninner in inner
    if kind == "B":
        return nkind == "B" and bytes(ninner) in bytes(inner)
    if kind == "SS":
        return nkind == "S" and ninner in inner
    if kind == "NS":
        return nkind == "N" and Decimal(ninner) in {Decimal(v) for v in inner}
    if kind == "BS":
        return nkind == "B" and bytes(ninner) in {bytes(v) for v in inner}
    if kind == "L":
        return any(values_equal(member, needle) for member in inner)
    return False


def size_of(value: AttributeValue) -> int | None:
    """The size() function; None for types it does not apply to (numbers, booleans, null)."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return len(inner)
    if kind == "B":
        return len(inner)
    if kind in ("SS", "NS", "BS", "L", "M"):
        return len(inner)
    return None


def key_type_error(name: str, expected: str, actual: str) -> Exception:
    return invalid_parameter(f"Type mismatch for key {name} expected: {expected} actual: {actual}")
