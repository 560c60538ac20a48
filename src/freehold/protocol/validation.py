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


def _join(path: str, name: str) -> str:
    return f"{path}.{_camel(name)}" if path else _camel(name)


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


def _checked_members(shape: StructureShape) -> dict[str, Shape]:
    """A structure's members whose values need checking."""
    cached: dict[str, Shape] | None = shape.__dict__.get("_freehold_checked_members")
    if cached is None:
        cached = {name: member for name, member in shape.members.items() if _needs_check(member)}
        shape.__dict__["_freehold_checked_members"] = cached
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


class _Checker:
    def __init__(self, rule: Rule, patterns: bool) -> None:
        self.rule = rule
        self.patterns = patterns
        self.failures: list[str] = []
        self.missing: list[str] = []  # wire names, for the "parameter" style

    def fail(self, value: Any, path: str, constraint: str) -> None:
        self.failures.append(f"Value '{_render(value)}' at '{path}' failed to satisfy constraint: {constraint}")

    def structure(self, shape: StructureShape, value: Any, path: str) -> None:
        if shape.is_document_type or not isinstance(value, dict):
            return
        for name in shape.required_members:
            if value.get(name) is None:
                self.missing.append(str(shape.members[name].serialization.get("name", name)))
                self.failures.append(
                    f"Value null at '{_join(path, name)}' failed to satisfy constraint: Member must not be null"
                )
        members = _checked_members(shape)
        for name, item in value.items():
            member = members.get(name)
            if member is not None and item is not None:
                self.check(member, item, _join(path, name))

    def check(self, shape: Shape, value: Any, path: str) -> None:
        if not _needs_check(shape):
            return
        kind = shape.type_name
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            self.structure(shape, value, path)
            return
        metadata = shape.metadata
        if kind in ("string", "blob", "list", "map") and isinstance(value, (str, bytes, list, dict)):
            self.length(value, path, metadata)
        if kind in ("integer", "long", "float", "double") and isinstance(value, (int, float)):
            self.range(value, path, metadata)
        if kind == "string" and isinstance(value, str):
            if self.rule.enums and shape.enum and value not in shape.enum:
                self.fail(value, path, "Member must satisfy enum value set: [" + ", ".join(shape.enum) + "]")
            pattern = metadata.get("pattern")
            if self.patterns and pattern and not _matches(pattern, value):
                self.fail(value, path, f"Member must satisfy regular expression pattern: {pattern}")
        if kind == "list" and isinstance(value, list):
            member = shape.member
            for index, item in enumerate(value, 1):
                if item is not None:
                    self.check(member, item, f"{path}.{index}.member")
        if kind == "map" and isinstance(value, dict):
            key_shape = shape.key
            value_shape = shape.value
            for key, item in value.items():
                self.check(key_shape, key, f"{path}.{key}.key")
                if item is not None:
                    self.check(value_shape, item, f"{path}.{key}.member")

    def length(self, value: Any, path: str, metadata: dict[str, Any]) -> None:
        size = len(value)
        low, high = metadata.get("min"), metadata.get("max")
        if low is not None and size < low:
            self.fail(value, path, f"Member must have length greater than or equal to {_number(low)}")
        if high is not None and size > high:
            self.fail(value, path, f"Member must have length less than or equal to {_number(high)}")

    def range(self, value: float, path: str, metadata: dict[str, Any]) -> None:
        low, high = metadata.get("min"), metadata.get("max")
        if low is not None and value < low:
            self.fail(value, path, f"Member must have value greater than or equal to {_number(low)}")
        if high is not None and value > high:
            self.fail(value, path, f"Member must have value less than or equal to {_number(high)}")


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
    rule = rule_for(service)
    checker = _Checker(rule, patterns)
    checker.structure(shape, params, "")
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
