"""Function names, qualifiers and ARNs: every form a FunctionName parameter may take.

Lambda accepts a function as its name (`my-function`), a name with a qualifier
(`my-function:v1`), a partial ARN (`123456789012:function:my-function`) or a full ARN
(`arn:aws:lambda:us-east-1:123456789012:function:my-function[:qualifier]`).
https://docs.aws.amazon.com/lambda/latest/api/API_Invoke.html#lambda-Invoke-request-FunctionName
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from freehold.protocol.errors import ServiceError

LATEST = "$LATEST"

# The pattern Lambda's front end reports for a malformed FunctionName (from the model).
FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?"
    r"([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)
_FUNCTION = re.compile(
    r"^(?:arn:(?P<partition>aws[a-zA-Z-]*)?:lambda:(?P<region>[a-z]{2}(?:-gov)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?(?:function:)?(?P<name>[a-zA-Z0-9\-_]+)"
    r"(?::(?P<qualifier>\$LATEST|[a-zA-Z0-9\-_]+))?$"
)
_PLAIN_NAME = re.compile(r"^[a-zA-Z0-9\-_]{1,64}$")
ALIAS_PATTERN = re.compile(r"^(?!^[0-9]+$)([a-zA-Z0-9\-_]+)$")
VERSION_PATTERN = re.compile(r"^[0-9]+$")


@dataclass(frozen=True)
class FunctionRef:
    """A FunctionName resolved against the caller's account and region."""

    account_id: str
    region: str
    name: str
    qualifier: str | None = None

    @property
    def arn(self) -> str:
        return function_arn(self.region, self.account_id, self.name)

    @property
    def qualified_arn(self) -> str:
        return self.arn + (f":{self.qualifier}" if self.qualifier else "")


def function_arn(region: str, account_id: str, name: str, qualifier: str | None = None) -> str:
    arn = f"arn:aws:lambda:{region}:{account_id}:function:{name}"
    return f"{arn}:{qualifier}" if qualifier else arn


def _pattern_error(value: str, member: str) -> ServiceError:
    return ServiceError(
        "ValidationException",
        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
        f"Member must satisfy regular expression pattern: {FUNCTION_NAME_PATTERN}",
    )


def parse_function(
    value: str, account_id: str, region: str, qualifier: str | None = None, member: str = "functionName"
) -> FunctionRef:
    """Resolve a FunctionName (and an optional separate Qualifier parameter).

    A qualifier both in the name and in the Qualifier parameter must agree, as on AWS."""
    match = _FUNCTION.match(value)
    if match is None or len(match.group("name")) > 64:
        raise _pattern_error(value, member)
    if match.group("account") and match.group("account") != account_id:
        # Cross-account access needs resource policies freehold does not evaluate here;
        # the function cannot exist in the caller's account under another account's ARN.
        raise ServiceError(
            "AccessDeniedException",
            f"User is not authorized to access function {value} in another account", 403,
        )
    in_name = match.group("qualifier")
    if in_name and qualifier and in_name != qualifier:
        raise ServiceError(
            "InvalidParameterValueException",
            "The derived qualifier from the function name does not match the specified qualifier.",
        )
    return FunctionRef(account_id, match.group("region") or region, match.group("name"), in_name or qualifier)


def check_new_function_name(value: str, account_id: str, region: str) -> str:
    """The name of a function being created: a name or an ARN without a qualifier."""
    ref = parse_function(value, account_id, region)
    if ref.qualifier is not None:
        raise ServiceError(
            "InvalidParameterValueException", "Unqualified function name expected for CreateFunction."
        )
    if not _PLAIN_NAME.match(ref.name):
        raise _pattern_error(value, "functionName")
    return ref.name


def check_alias_name(name: str) -> None:
    if not ALIAS_PATTERN.match(name) or len(name) > 128:
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{name}' at 'name' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)",
        )


def parse_resource_arn(arn: str, account_id: str, region: str) -> FunctionRef:
    """The function a tagging operation's Resource names (functions only, unqualified)."""
    ref = parse_function(arn, account_id, region, member="resource")
    if not arn.startswith("arn:"):
        raise ServiceError("ValidationException", f"Invalid ARN: {arn}")
    return ref
