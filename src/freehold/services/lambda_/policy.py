"""Function resource policies: the statements AddPermission writes, as Lambda writes them.

https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html
"""

from __future__ import annotations

import re
from typing import Any

from freehold.protocol.errors import ServiceError

_ACCOUNT = re.compile(r"^\d{12}$")
_ACTION = re.compile(r"^(lambda:[*]|lambda:[a-zA-Z]+|[*])$")


def empty_policy() -> dict[str, Any]:
    return {"Version": "2012-10-17", "Id": "default", "Statement": []}


def _principal(value: str) -> dict[str, str] | str:
    """A service (s3.amazonaws.com), an account id, an ARN or '*'."""
    if value == "*":
        return "*"
    if _ACCOUNT.match(value):
        return {"AWS": f"arn:aws:iam::{value}:root"}
    if value.startswith("arn:"):
        return {"AWS": value}
    if value.endswith(".amazonaws.com") or value.endswith(".amazon.com"):
        return {"Service": value}
    raise ServiceError(
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
    )


def statement(params: dict[str, Any], resource: str) -> dict[str, Any]:
    """The statement an AddPermission call adds."""
    action = params["Action"]
    if not _ACTION.match(action):
        raise ServiceError(
            "ValidationException",
            f"1 validation error detected: Value '{action}' at 'action' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: (lambda:[*]|lambda:[a-zA-Z]+|[*])",
        )
    result: dict[str, Any] = {
        "Sid": params["StatementId"],
        "Effect": "Allow",
        "Principal": _principal(params["Principal"]),
        "Action": action,
        "Resource": resource,
    }
    condition: dict[str, dict[str, str]] = {}
    if params.get("SourceAccount"):
        condition.setdefault("StringEquals", {})["AWS:SourceAccount"] = params["SourceAccount"]
    if params.get("EventSourceToken"):
        condition.setdefault("StringEquals", {})["lambda:EventSourceToken"] = params["EventSourceToken"]
    if params.get("PrincipalOrgID"):
        condition.setdefault("StringEquals", {})["aws:PrincipalOrgID"] = params["PrincipalOrgID"]
    if params.get("FunctionUrlAuthType"):
        condition.setdefault("StringEquals", {})["lambda:FunctionUrlAuthType"] = params["FunctionUrlAuthType"]
    if params.get("SourceArn"):
        condition.setdefault("ArnLike", {})["AWS:SourceArn"] = params["SourceArn"]
    if params.get("InvokedViaFunctionUrl"):
        # lambda:InvokeFunction granted only for requests through the function's URL.
        condition.setdefault("Bool", {})["lambda:InvokedViaFunctionUrl"] = "true"
    if condition:
        result["Condition"] = condition
    return result


def add(document: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    if any(existing.get("Sid") == new["Sid"] for existing in document["Statement"]):
        raise ServiceError(
            "ResourceConflictException",
            "The statement id (" + new["Sid"] + ") provided already exists. Please provide a new statement id, "
            "or remove the existing statement.",
        )
    return {**document, "Statement": [*document["Statement"], new]}


def remove(document: dict[str, Any], sid: str) -> dict[str, Any]:
    remaining = [existing for existing in document["Statement"] if existing.get("Sid") != sid]
    if len(remaining) == len(document["Statement"]):
        raise ServiceError("ResourceNotFoundException", f"Statement {sid} is not found in resource policy.", 404)
    return {**document, "Statement": remaining}
