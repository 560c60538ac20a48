"""IAM's domain objects: identifiers, ARNs, entities and how each is shown in responses.

Every IAM entity (user, role, group, managed policy, instance profile, OpenID Connect
provider) shares one shape - account, kind, name, unique id, path, ARN, creation time, tags -
plus a few kind-specific attributes. Names are unique per account and kind *without regard
to case* ("you cannot create users named both TESTUSER and testuser"), which is why every
entity carries a lower-cased `name_key`.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

EntityKind = Literal["user", "role", "group", "policy", "instance-profile", "oidc-provider"]

# Unique-id prefixes, as AWS documents them ("Unique identifiers" in the IAM user guide).
ID_PREFIX: dict[str, str] = {
    "user": "AIDA",
    "role": "AROA",
    "group": "AGPA",
    "policy": "ANPA",
    "instance-profile": "AIPA",
    "oidc-provider": "",
}
ACCESS_KEY_PREFIX = "AKIA"  # long-term access keys of IAM users (and root)
SESSION_KEY_PREFIX = "ASIA"  # temporary credentials from STS

_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"

# What an ARN names for each kind: arn:aws:iam::ACCOUNT:<resource>/<path><name>
ARN_RESOURCE: dict[str, str] = {
    "user": "user",
    "role": "role",
    "group": "group",
    "policy": "policy",
    "instance-profile": "instance-profile",
    "oidc-provider": "oidc-provider",
}

# The noun AWS uses in messages about each kind.
KIND_NOUN: dict[str, str] = {
    "user": "user",
    "role": "role",
    "group": "group",
    "policy": "policy",
    "instance-profile": "Instance Profile",
    "oidc-provider": "OpenIDConnect Provider",
}


def random_id(prefix: str, length: int = 17) -> str:
    """An IAM unique id: the kind's 4-letter prefix and 17 upper-case alphanumerics."""
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_entity_id(kind: str) -> str:
    return random_id(ID_PREFIX[kind])


def new_access_key_id(prefix: str = ACCESS_KEY_PREFIX) -> str:
    """AKIA/ASIA + 16 upper-case alphanumerics: 20 characters, like AWS's."""
    return random_id(prefix, 16)


def new_secret_access_key() -> str:
    """40 characters of base64's alphabet, like AWS's secret access keys."""
    return "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40))


def entity_arn(account_id: str, kind: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account_id}:{ARN_RESOURCE[kind]}{path}{name}"


def utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, tz=UTC)


def now_epoch() -> float:
    # IAM reports whole seconds.
    return float(int(datetime.now(UTC).timestamp()))


def url_encode_document(document: str) -> str:
    """How IAM returns policy documents: URL-encoded per RFC 3986 (botocore decodes them).

    Only the unreserved characters A-Z a-z 0-9 - . _ ~ stay as they are.
    """
    return quote(document, safe="")


@dataclass
class Entity:
    """One IAM entity as stored. `attributes` holds the kind-specific fields."""

    account_id: str
    kind: str
    name: str
    entity_id: str
    path: str
    arn: str
    created: float
    attributes: dict[str, Any] = field(default_factory=dict)
    tags: list[dict[str, str]] = field(default_factory=list)
    permissions_boundary: str | None = None

    @property
    def name_key(self) -> str:
        return self.name.lower()

    @property
    def create_date(self) -> datetime:
        return utc(self.created)

    def boundary_output(self) -> dict[str, str] | None:
        if not self.permissions_boundary:
            return None
        return {"PermissionsBoundaryType": "Policy", "PermissionsBoundaryArn": self.permissions_boundary}


def _with_optional(result: dict[str, Any], **optional: Any) -> dict[str, Any]:
    for key, value in optional.items():
        if value is not None and value != [] and value != "":
            result[key] = value
    return result


def user_output(user: Entity, *, full: bool = True) -> dict[str, Any]:
    """The User shape. ListUsers leaves out Tags and PermissionsBoundary (AWS does too)."""
    result: dict[str, Any] = {
        "Path": user.path,
        "UserName": user.name,
        "UserId": user.entity_id,
        "Arn": user.arn,
        "CreateDate": user.create_date,
    }
    if full:
        _with_optional(result, PermissionsBoundary=user.boundary_output(), Tags=user.tags or None)
    return result


def role_output(role: Entity, *, full: bool = True) -> dict[str, Any]:
    """The Role shape. ListRoles leaves out Tags, PermissionsBoundary and RoleLastUsed."""
    attrs = role.attributes
    result: dict[str, Any] = {
        "Path": role.path,
        "RoleName": role.name,
        "RoleId": role.entity_id,
        "Arn": role.arn,
        "CreateDate": role.create_date,
        "AssumeRolePolicyDocument": url_encode_document(attrs["AssumeRolePolicyDocument"]),
        "MaxSessionDuration": int(attrs.get("MaxSessionDuration", 3600)),
    }
    _with_optional(result, Description=attrs.get("Description"))
    if full:
        _with_optional(result, PermissionsBoundary=role.boundary_output(), Tags=role.tags or None)
        last_used: dict[str, Any] = {}
        if attrs.get("LastUsedDate"):
            last_used = {"LastUsedDate": utc(float(attrs["LastUsedDate"])), "Region": attrs.get("LastUsedRegion", "")}
        result["RoleLastUsed"] = last_used
    return result


def group_output(group: Entity) -> dict[str, Any]:
    return {
        "Path": group.path,
        "GroupName": group.name,
        "GroupId": group.entity_id,
        "Arn": group.arn,
        "CreateDate": group.create_date,
    }


def instance_profile_output(profile: Entity, roles: list[Entity], *, tags: bool = True) -> dict[str, Any]:
    result: dict[str, Any] = {
        "Path": profile.path,
        "InstanceProfileName": profile.name,
        "InstanceProfileId": profile.entity_id,
        "Arn": profile.arn,
        "CreateDate": profile.create_date,
        "Roles": [role_output(role, full=False) for role in roles],
    }
    if tags and profile.tags:
        result["Tags"] = profile.tags
    return result


def parse_iam_arn(arn: str) -> tuple[str, str, str] | None:
    """(account, resource type, rest) of an IAM ARN, or None if it is not one."""
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "iam":
        return None
    resource_type, _, rest = parts[5].partition("/")
    return parts[4], resource_type, rest


def split_path_and_name(rest: str) -> tuple[str, str]:
    """'path/a/name' -> ('/path/a/', 'name'); 'name' -> ('/', 'name')."""
    if "/" not in rest:
        return "/", rest
    head, _, name = rest.rpartition("/")
    return f"/{head}/", name
