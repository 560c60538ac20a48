"""Validation of IAM policy documents, with the MalformedPolicyDocument messages AWS gives.

Two grammars (IAM user guide, "IAM JSON policy element reference"):
- identity policies (managed and inline): statements need Action/NotAction and
  Resource/NotResource and must not name a Principal;
- trust policies (a role's AssumeRolePolicyDocument): statements need a Principal, must not
  name a Resource, and may only allow the sts:AssumeRole* family of actions.

Checks run in the order AWS applies them, so that a document with several problems gets the
message AWS would give: syntax, then version, then "legacy parsing", then SID uniqueness,
then actions, then resources, then resource ARN formats, then action vendors.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.protocol.errors import ServiceError

TOP_LEVEL = {"Version", "Id", "Statement"}
VERSIONS = {"2008-10-17", "2012-10-17"}
IDENTITY_STATEMENT = {"Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"}
TRUST_STATEMENT = IDENTITY_STATEMENT | {"Principal", "NotPrincipal"}
PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
# The actions a trust policy may name ("AssumeRole policy may only specify STS AssumeRole actions").
TRUST_ACTIONS = re.compile(
    r"sts:(\*|AssumeRole\*?|AssumeRoleWithSAML|AssumeRoleWithWebIdentity|TagSession|SetSourceIdentity|SetContext)",
    re.IGNORECASE,
)
IAM_RESOURCE_TYPES = (
    "user/", "federated-user/", "role/", "group/", "instance-profile/", "mfa/", "server-certificate/",
    "policy/", "sms-mfa/", "saml-provider/", "oidc-provider/", "report/", "access-report/",
)
_VENDOR = re.compile(r"[a-zA-Z0-9\-.]+")
_ACCOUNT = re.compile(r"\d{12}")
_AWS_PRINCIPAL_ARN = re.compile(r"arn:aws[a-z-]*:(iam|sts)::(\d{12}|aws):(root|user/.+|role/.+|assumed-role/.+|federated-user/.+)")

# Size quotas (IAM and STS quotas page). Sizes are counted without whitespace.
MANAGED_POLICY_SIZE = 6144
TRUST_POLICY_SIZE = 2048
INLINE_POLICY_SIZE = {"user": 2048, "role": 10240, "group": 5120}


def malformed(message: str) -> ServiceError:
    return ServiceError("MalformedPolicyDocument", message)


class _Invalid(Exception):
    """A rule of one checking stage failed; the stage turns it into AWS's message."""


@dataclass(frozen=True)
class PolicyDocument:
    """A validated document: the text as given (returned verbatim) and its statements."""

    text: str
    statements: list[dict[str, Any]]

    @property
    def size(self) -> int:
        return policy_size(self.text)


def policy_size(text: str) -> int:
    """The size IAM counts against its quotas: characters other than whitespace."""
    return sum(1 for ch in text if not ch.isspace())


def _strings(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def _require(condition: bool) -> None:
    if not condition:
        raise _Invalid()


def _check_string_or_list(statement: dict[str, Any], key: str) -> None:
    if key in statement:
        value = statement[key]
        _require(isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)))


def _check_condition_syntax(statement: dict[str, Any]) -> None:
    if "Condition" not in statement:
        return
    condition = statement["Condition"]
    _require(isinstance(condition, dict))
    for block in condition.values():
        _require(isinstance(block, dict))
        for value in block.values():
            scalars = value if isinstance(value, list) else [value]
            _require(all(isinstance(v, (str, bool, int, float)) for v in scalars))


def _check_principal_syntax(statement: dict[str, Any]) -> None:
    for key in ("Principal", "NotPrincipal"):
        if key not in statement:
            continue
        principal = statement[key]
        if isinstance(principal, str):
            _require(principal == "*")
            continue
        _require(isinstance(principal, dict))
        for kind, value in principal.items():
            _require(kind in PRINCIPAL_TYPES)
            _require(isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)))


def _syntax(text: str, trust: bool) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    document = json.loads(text)
    _require(isinstance(document, dict))
    _require(set(document) <= TOP_LEVEL)
    if "Version" in document:
        _require(document["Version"] in VERSIONS)
    if "Id" in document:
        _require(isinstance(document["Id"], str))
    _require("Statement" in document)
    raw = document["Statement"]
    _require(isinstance(raw, (dict, list)))
    statements = [raw] if isinstance(raw, dict) else list(raw)
    _require(len(statements) > 0)
    allowed = TRUST_STATEMENT if trust else IDENTITY_STATEMENT | {"Principal", "NotPrincipal"}
    for statement in statements:
        _require(isinstance(statement, dict))
        _require(set(statement) <= allowed)
        _require(not ("Action" in statement and "NotAction" in statement))
        _require(not ("Resource" in statement and "NotResource" in statement))
        _require("Effect" in statement and isinstance(statement["Effect"], str))
        _require(statement["Effect"].lower() in ("allow", "deny"))
        for key in ("Action", "NotAction", "Resource", "NotResource"):
            _check_string_or_list(statement, key)
        _check_condition_syntax(statement)
        _check_principal_syntax(statement)
        if "Sid" in statement:
            _require(isinstance(statement["Sid"], str))
    return document, statements


def _legacy_resource(resource: str) -> None:
    """What IAM's old parser rejects: an ARN-looking value with too few parts."""
    if resource != "*":
        _require(resource.count(":") >= 5 or "::" not in resource)


def _resource_format_error(resource: str) -> str | None:
    """AWS's message for a Resource that is neither '*' nor a well-formed ARN."""
    if resource == "*":
        return None
    if ":" not in resource:
        return f'Resource {resource} must be in ARN format or "*".'
    parts = resource.split(":")
    partition = parts[1]
    if partition != "aws" and not partition.startswith("aws-"):
        # AWS echoes the resource padded to six fields with '*'.
        rest = parts[2:] or [""]
        fields = [
            rest[0] if rest[0] != "" or len(rest) > 1 else "*",
            rest[1] if len(rest) > 1 else "*",
            rest[2] if len(rest) > 2 else "*",
            ":".join(rest[3:]) if len(rest) > 3 else "*",
        ]
        return f'Partition "{partition}" is not valid for resource "arn:{partition}:' + ":".join(fields) + '".'
    if len(parts) < 3 or not _VENDOR.fullmatch(parts[2]):
        return "Resource vendor must be fully qualified and cannot contain regexes."
    service = parts[2]
    region = parts[3] if len(parts) > 3 else ""
    if service == "iam" and region:
        return f"IAM resource {resource} cannot contain region information."
    if service == "s3" and region:
        return f"Resource {resource} can not contain region information."
    if service == "iam":
        rest_of_arn = ":".join(parts[5:]) if len(parts) > 5 else ""
        if rest_of_arn != "*" and not rest_of_arn.startswith(IAM_RESOURCE_TYPES):
            return 'IAM resource path must either be "*" or start with ' + ", ".join(IAM_RESOURCE_TYPES) + "."
    return None


def _action_error(action: str) -> str | None:
    if action == "*":
        return None
    parts = action.split(":")
    if len(parts) == 1:
        return "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
    if len(parts) > 2:
        return "Actions/Condition can contain only one colon."
    if parts[0] != "*" and not _VENDOR.fullmatch(parts[0]):
        return f"Vendor {parts[0]} is not valid"
    return None


def _check_common(statements: list[dict[str, Any]], *, trust: bool) -> None:
    # The first malformed resource is reported only after the structural checks below, and
    # the old parser looks at a statement's resources only while none was malformed.
    format_error: str | None = None
    try:
        for statement in statements:
            # The old parser is case-sensitive where the syntax check is not.
            _require(statement["Effect"] in ("Allow", "Deny"))
        for statement in statements:
            for key in ("Resource", "NotResource"):
                if key not in statement:
                    continue
                resources = _strings(statement[key])
                for resource in sorted(resources, reverse=True):
                    format_error = format_error or _resource_format_error(resource)
                if format_error is None:
                    for resource in resources:
                        _legacy_resource(resource)
    except _Invalid:
        raise malformed("The policy failed legacy parsing") from None
    sids = [s["Sid"] for s in statements if s.get("Sid")]
    if len(sids) != len(set(sids)):
        raise malformed("Statement IDs (SID) in a single policy must be unique.")
    for statement in statements:
        key = "Action" if "Action" in statement else "NotAction"
        if key not in statement or statement[key] == []:
            raise malformed("Policy statement must contain actions.")
    if trust:
        return
    for statement in statements:
        key = "Resource" if "Resource" in statement else "NotResource"
        if key not in statement or statement[key] == []:
            raise malformed("Policy statement must contain resources.")
    if format_error:
        raise malformed(format_error)


def _check_actions(statements: list[dict[str, Any]]) -> None:
    for statement in statements:
        for key in ("Action", "NotAction"):
            for action in _strings(statement.get(key, [])):
                error = _action_error(action)
                if error:
                    raise malformed(error)


def validate_identity_policy(text: str, *, managed: bool) -> PolicyDocument:
    """An identity policy (CreatePolicy/CreatePolicyVersion when `managed`, Put*Policy otherwise).

    Managed policies must say Version 2012-10-17; inline policies may still omit it or use
    2008-10-17, as AWS accepts for backwards compatibility.
    """
    try:
        document, statements = _syntax(text, trust=False)
    except (ValueError, _Invalid, TypeError, AttributeError):
        raise malformed("Syntax errors in policy.") from None
    if managed and document.get("Version") != "2012-10-17":
        raise malformed("Policy document must be version 2012-10-17 or greater.")
    if any("Principal" in s or "NotPrincipal" in s for s in statements):
        raise malformed("Policy document should not specify a principal.")
    _check_common(statements, trust=False)
    _check_actions(statements)
    return PolicyDocument(text, statements)


PrincipalExists = Callable[[str], bool]


def validate_trust_policy(text: str, principal_exists: PrincipalExists | None = None) -> PolicyDocument:
    """A role's trust policy. `principal_exists(arn)` says whether an IAM user/role ARN
    names an existing entity: AWS rejects trust policies naming ones that do not exist,
    because it stores their unique ids instead of the ARNs."""
    try:
        _, statements = _syntax(text, trust=True)
    except ValueError:
        raise malformed("This policy contains invalid Json") from None
    except (_Invalid, TypeError, AttributeError):
        raise malformed("Syntax errors in policy.") from None
    for statement in statements:
        if "Resource" in statement or "NotResource" in statement:
            raise malformed(f"Has prohibited field {'Resource' if 'Resource' in statement else 'NotResource'}")
    for statement in statements:
        if "Principal" not in statement and "NotPrincipal" not in statement:
            raise malformed("Missing required field Principal")
    _check_common(statements, trust=True)
    for statement in statements:
        for action in _strings(statement.get("Action", [])):
            if action != "*" and TRUST_ACTIONS.fullmatch(action) is None:
                raise malformed("AssumeRole policy may only specify STS AssumeRole actions.")
    for statement in statements:
        _check_trust_principals(statement, principal_exists)
    return PolicyDocument(text, statements)


def _check_trust_principals(statement: dict[str, Any], principal_exists: PrincipalExists | None) -> None:
    for key in ("Principal", "NotPrincipal"):
        principal = statement.get(key)
        if principal is None or principal == "*":
            continue
        assert isinstance(principal, dict)
        if not any(_strings(v) for v in principal.values()):
            raise malformed(
                "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: "
                "The passed in policy has a statement with no principals!"
            )
        for value in _strings(principal.get("AWS", [])):
            if value == "*" or _ACCOUNT.fullmatch(value):
                continue
            match = _AWS_PRINCIPAL_ARN.fullmatch(value)
            valid = match is not None
            names_entity = match is not None and match.group(1) == "iam" and match.group(3).startswith(("user/", "role/"))
            if valid and principal_exists is not None and names_entity:
                valid = principal_exists(value)
            if not valid:
                raise malformed(f'Invalid principal in policy: "AWS":"{value}"')
        for value in _strings(principal.get("Service", [])):
            if not value or " " in value:
                raise malformed(f'Invalid principal in policy: "SERVICE":"{value}"')
