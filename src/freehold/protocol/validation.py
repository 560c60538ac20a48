"""Input validation against the service model, with the error each AWS service answers.

AWS's "coral" front end (behind the JSON and query services) checks required members,
lengths, ranges and enums before an operation runs, and reports every failure at once:

    1 validation error detected: Value 'x' at 'userName' failed to satisfy constraint:
    Member must have length less than or equal to 64

    2 validation errors detected: Value null at 'roleArn' failed to satisfy constraint:
    Member must not be null; Value '0' at 'durationSeconds' failed to ...

Paths use lowerCamelCase member names, list items as `tags.1.member.key`. The error code
differs by service (IAM `ValidationError`, DynamoDB `ValidationException`, Cognito
`InvalidParameterException`, ...): `RULES` is the one table of those choices. Regex
`pattern` checks are off by default, because many model patterns are informal (Java
syntax, or looser than the service), but `validate(..., patterns=True)` turns them on.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from botocore.model import OperationModel, Shape, StructureShape

from freehold.protocol.errors import ServiceError
from freehold.protocol.specs import service_model


@dataclass(frozen=True)
class Rule:
    """How one service reports invalid input."""

    code: str  # the code of constraint failures
    missing_code: str | None = None  # a different code for missing required members
    missing_style: str = "coral"  # "coral" (Value null at ...) or "parameter" (must contain X)
    enums: bool = True  # whether the service rejects values outside a modelled enum
    status: int = 400


RULES: dict[str, Rule] = {
    # Query services answer coral's message with their own code.
    "iam": Rule("ValidationError"),
    "sts": Rule("ValidationError"),
    "sns": Rule("ValidationError"),
    "ses": Rule("ValidationError"),
    "cloudformation": Rule("ValidationError"),
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CommonErrors.html
    "cloudwatch": Rule("InvalidParameterValue", missing_code="MissingParameter", missing_style="parameter"),
    # https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/CommonErrors.html
    # SQS checks attribute names itself: an unknown one is InvalidAttributeName
    # ("Unknown Attribute Foo."), not a front-end enum failure.
    "sqs": Rule("InvalidParameterValue", missing_code="MissingParameter", missing_style="parameter", enums=False),
    "dynamodb": Rule("ValidationException"),
    "dynamodbstreams": Rule("ValidationException"),
    "lambda": Rule("ValidationException"),
    "logs": Rule("InvalidParameterException"),
    "cognito-idp": Rule("InvalidParameterException"),
    "cognito-identity": Rule("InvalidParameterException"),
    "events": Rule("ValidationException"),
    "scheduler": Rule("ValidationException"),
    "stepfunctions": Rule("ValidationException"),
    "ssm": Rule("ValidationException"),
    "secretsmanager": Rule("ValidationException"),
    "kms": Rule("ValidationException"),
    "apigateway": Rule("BadRequestException"),
    "apigatewayv2": Rule("BadRequestException"),
    "sesv2": Rule("BadRequestException"),
    # S3 has no coral layer: bad arguments are InvalidArgument, enums are checked per header.
    "s3": Rule("InvalidArgument", enums=False),
}
DEFAULT_RULE = Rule("ValidationException")


def rule_for(service: str) -> Rule:
    return RULES.get(service, DEFAULT_RULE)


def _render(value: Any) -> str:
    """A value as AWS's Java front end prints it in messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (bytes, bytearray)):
        return f"java.nio.HeapByteBuffer[pos=0 lim={len(value)} cap={len(value)}]"
    if isinstance(value, list):
        return "[" + ", ".join(_render(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_render(k)}={_render(v)}" for k, v in value.items()) + "}"
    return str(value)


def _camel(name: str) -> str:
    return name[:1].lower() + name[1:]


# Which shapes have anything to check, per service model and shape name. Most of a data
# plane request (DynamoDB's AttributeValues, strings without limits) has nothing, and is
# skipped whole instead of walked node by node.
_NEEDS: weakref.WeakKeyDictionary[Any, dict[str, bool]] = weakref.WeakKeyDictionary()
_LIMITED = ("string", "blob", "list", "map", "integer", "long", "float", "double")


def _local_constraints(shape: Shape) -> bool:
    metadata = shape.metadata
    if shape.type_name in _LIMITED and ("min" in metadata or "max" in metadata):
        return True
    if shape.type_name == "string" and (shape.enum or metadata.get("pattern")):
        return True
    return shape.type_name == "structure" and bool(shape.required_members)


def _children(shape: Shape) -> list[Shape]:
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return []
        return list(shape.members.values())
    if kind == "list":
        return [shape.member]
    if kind == "map":
        return [shape.key, shape.value]
    return []


def _needs_check(shape: Shape) -> bool:
    """Whether a value of this shape can fail any check: a constraint on it or on any shape
    reachable from it (a graph walk, since shapes can be recursive). Cached on the shape
    object too (botocore caches member shapes), so the common case is one attribute read."""
    cached: bool | None = shape.__dict__.get("_freehold_needs_check")
    if cached is None:
        cached = _compute_needs(shape)
        shape.__dict__["_freehold_needs_check"] = cached
    return cached


def _compute_needs(shape: Shape) -> bool:
    known = _NEEDS.get(shape._shape_resolver)
    if known is None:
        known = _NEEDS.setdefault(shape._shape_resolver, {})
    answer = known.get(shape.name)
    if answer is None:
        answer = False
        seen = {shape.name}
        pending = [shape]
        while pending:
            current = pending.pop()
            if known.get(current.name) is True or _local_constraints(current):
                answer = True
                break
            for child in _children(current):
                if child.name not in seen and known.get(child.name) is not False:
                    seen.add(child.name)
                    pending.append(child)
        known[shape.name] = answer
    return answer


# A value's place in the request, built only when a check fails: None at the top, else
# (parent, name, suffix), rendered as `parent.name+suffix` (`tags.1.member`, `item.k.key`).
Path = tuple[Any, Any, str] | None


def _render_path(path: Path) -> str:
    pieces: list[str] = []
    while path is not None:
        path, name, suffix = path
        pieces.append(f"{name}{suffix}")
    return ".".join(reversed(pieces))


class _Checker:
    """Collects the failures of one request."""

    def __init__(self, rule: Rule, patterns: bool) -> None:
        self.rule = rule
        self.patterns = patterns
        self.failures: list[str] = []
        self.missing: list[str] = []  # wire names, for the "parameter" style

    def fail(self, value: Any, path: Path, constraint: str) -> None:
        self.failures.append(
            f"Value '{_render(value)}' at '{_render_path(path)}' failed to satisfy constraint: {constraint}"
        )

    def length(self, value: Any, path: Path, low: Any, high: Any) -> None:
        size = len(value)
        if low is not None and size < low:
            self.fail(value, path, f"Member must have length greater than or equal to {_number(low)}")
        if high is not None and size > high:
            self.fail(value, path, f"Member must have length less than or equal to {_number(high)}")

    def range(self, value: float, path: Path, low: Any, high: Any) -> None:
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {_number(low)}")
        if high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {_number(high)}")


# A shape's check, compiled once per shape object: (checker, value, path) -> None, or None
# when nothing about the shape can fail. Compiling turns the model walk of every request
# (attribute lookups, member filtering, path strings) into a few closures per shape.
Check = Callable[[_Checker, Any, Path], None]
_UNSET = object()


_CHECKS: weakref.WeakKeyDictionary[Any, dict[str, Check | None]] = weakref.WeakKeyDictionary()


def _check_of(shape: Shape) -> Check | None:
    """The compiled check of a shape: cached on the shape object, and per model and shape
    name (botocore builds new member shape objects at each resolution, and a recursive
    shape such as DynamoDB's AttributeValue reaches itself through new objects)."""
    cached = shape.__dict__.get("_freehold_check", _UNSET)
    if cached is not _UNSET:
        return cached
    known = _CHECKS.get(shape._shape_resolver)
    if known is None:
        known = _CHECKS.setdefault(shape._shape_resolver, {})
    if shape.name in known:
        found = known[shape.name]
    elif not _needs_check(shape):
        found = known[shape.name] = None
    else:
        # While compiling, the shape's own name answers with a trampoline to the result.
        cell: list[Check] = []
        known[shape.name] = lambda c, v, p: cell[0](c, v, p)
        compiled = _compile(shape)
        cell.append(compiled)
        found = known[shape.name] = compiled
    shape.__dict__["_freehold_check"] = found
    return found


def _compile(shape: Shape) -> Check:
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(shape, StructureShape)
        return _compile_structure(shape)
    metadata = shape.metadata
    low, high = metadata.get("min"), metadata.get("max")
    limited = low is not None or high is not None
    if kind == "list":
        return _compile_list(shape, low, high, limited)
    if kind == "map":
        return _compile_map(shape, low, high, limited)
    if kind in ("integer", "long", "float", "double"):
        def check_number(c: _Checker, value: Any, path: Path) -> None:
            if limited and isinstance(value, (int, float)):
                c.range(value, path, low, high)
        return check_number
    if kind == "string":
        enum = list(shape.enum or ())
        pattern = metadata.get("pattern")

        def check_string(c: _Checker, value: Any, path: Path) -> None:
            if not isinstance(value, (str, bytes, list, dict)):
                return
            if limited:
                c.length(value, path, low, high)
            if not isinstance(value, str):
                return
            if enum and c.rule.enums and value not in enum:
                c.fail(value, path, "Member must satisfy enum value set: [" + ", ".join(enum) + "]")
            if pattern and c.patterns and not _matches(pattern, value):
                c.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        return check_string

    def check_sized(c: _Checker, value: Any, path: Path) -> None:  # blobs
        if limited and isinstance(value, (str, bytes, list, dict)):
            c.length(value, path, low, high)
    return check_sized


def _compile_structure(shape: StructureShape) -> Check:
    if shape.is_document_type:
        return lambda c, value, path: None
    required = [
        (name, _camel(name), str(shape.members[name].serialization.get("name", name)))
        for name in shape.required_members
    ]
    checked: dict[str, tuple[str, Check]] = {}
    for name, member in shape.members.items():
        member_check = _check_of(member)
        if member_check is not None:
            checked[name] = (_camel(name), member_check)

    def check_structure(c: _Checker, value: Any, path: Path) -> None:
        if not isinstance(value, dict):
            return
        for name, camel, wire in required:
            if value.get(name) is None:
                c.missing.append(wire)
                where = _render_path((path, camel, ""))
                c.failures.append(f"Value null at '{where}' failed to satisfy constraint: Member must not be null")
        if checked:
            for name, item in value.items():
                entry = checked.get(name)
                if entry is not None and item is not None:
                    entry[1](c, item, (path, entry[0], ""))
    return check_structure


def _compile_list(shape: Shape, low: Any, high: Any, limited: bool) -> Check:
    member_check = _check_of(shape.member)

    def check_list(c: _Checker, value: Any, path: Path) -> None:
        if not isinstance(value, (str, bytes, list, dict)):
            return
        if limited:
            c.length(value, path, low, high)
        if member_check is not None and isinstance(value, list):
            for index, item in enumerate(value, 1):
                if item is not None:
                    member_check(c, item, (path, index, ".member"))
    return check_list


def _compile_map(shape: Shape, low: Any, high: Any, limited: bool) -> Check:
    key_check = _check_of(shape.key)
    value_check = _check_of(shape.value)

    def check_map(c: _Checker, value: Any, path: Path) -> None:
        if not isinstance(value, (str, bytes, list, dict)):
            return
        if limited:
            c.length(value, path, low, high)
        if not isinstance(value, dict) or (key_check is None and value_check is None):
            return
        for key, item in value.items():
            if key_check is not None:
                key_check(c, key, (path, key, ".key"))
            if value_check is not None and item is not None:
                value_check(c, item, (path, key, ".member"))
    return check_map


def _number(value: Any) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


@lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None  # a Java-only construct: AWS's check cannot be reproduced, so skip it


def _matches(pattern: str, value: str) -> bool:
    compiled = _compiled(pattern)
    # AWS checks the whole value (Java's Matcher.matches), not a substring.
    return compiled is None or compiled.fullmatch(value) is not None


def _operation(service: str, operation: OperationModel | str) -> OperationModel:
    if isinstance(operation, str):
        return service_model(service).operation_model(operation)
    return operation


def validate(
    service: str, operation: OperationModel | str, params: dict[str, Any], *, patterns: bool = False
) -> None:
    """Raise the service's validation error if `params` break the operation's input shape."""
    shape = _operation(service, operation).input_shape
    if shape is None:
        return
    check = _check_of(shape)
    if check is None:
        return
    rule = rule_for(service)
    checker = _Checker(rule, patterns)
    try:
        check(checker, params, None)
    except RecursionError:
        # A recursive shape nested deeper than Python's stack (the parsers stop at the same
        # depth, so this is a near miss of theirs): bad input, not a crash.
        raise ServiceError(rule.code, "The request is nested too deeply", rule.status) from None
    if not checker.failures:
        return
    if checker.missing and rule.missing_style == "parameter":
        raise ServiceError(
            rule.missing_code or rule.code,
            f"The request must contain the parameter {checker.missing[0]}.",
            rule.status,
        )
    code = rule.code
    if checker.missing and rule.missing_code:
        code = rule.missing_code
    raise ServiceError(code, _message(checker.failures), rule.status)


def _message(failures: list[str]) -> str:
    count = len(failures)
    noun = "validation error" if count == 1 else "validation errors"
    return f"{count} {noun} detected: " + "; ".join(failures)


def type_error(service: str, path: str, value: Any, expected: str) -> ServiceError:
    """A wire value that is not of its member's type (e.g. `MaxItems=abc`)."""
    rule = rule_for(service)
    shown = value if isinstance(value, str) else _render(value)
    failure = f"Value '{shown}' at '{path}' failed to satisfy constraint: Member must be a {expected}"
    if expected.startswith(("a", "e", "i", "o", "u")):
        failure = failure.replace("must be a ", "must be an ")
    return ServiceError(rule.code, _message([failure]), rule.status)
