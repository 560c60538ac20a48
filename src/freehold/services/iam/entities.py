"""What every IAM operation family shares: finding and creating entities, tags, inline
policies and managed-policy attachments, with AWS's errors for each.

The operation mixins (users, roles, groups, policies, oidc) build on `IamBase`; the
provider composes them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam import aws_managed
from freehold.services.iam.models import (
    KIND_NOUN,
    Entity,
    entity_arn,
    new_entity_id,
    now_epoch,
    parse_iam_arn,
    split_path_and_name,
)
from freehold.services.iam.pagination import paginate
from freehold.services.iam.policy_documents import INLINE_POLICY_SIZE, policy_size, validate_identity_policy
from freehold.services.iam.store import IamStore
from freehold.services.iam.validation import Checks, check_name, check_tag_keys, check_tags
from freehold.state.database import IntegrityError

# Managed policies per user/role/group: AWS's default quota.
MANAGED_POLICIES_PER_ENTITY = 10
TAGS_PER_ENTITY = 50
# How the quota names read in LimitExceeded messages ("Cannot exceed quota for PoliciesPerRole: 10").
QUOTA_NOUN = {"user": "User", "role": "Role", "group": "Group", "policy": "Policy",
              "instance-profile": "InstanceProfile", "oidc-provider": "OpenIdConnectProvider"}


def no_such_entity(kind: str, name: str) -> ServiceError:
    if kind in ("user", "role", "group"):
        return ServiceError("NoSuchEntity", f"The {kind} with name {name} cannot be found.")
    if kind == "instance-profile":
        return ServiceError("NoSuchEntity", f"Instance Profile {name} cannot be found.")
    if kind == "oidc-provider":
        return ServiceError("NoSuchEntity", f"OpenIDConnect Provider not found for arn {name}")
    return ServiceError("NoSuchEntity", f"Policy {name} was not found.")


def already_exists(kind: str, name: str) -> ServiceError:
    if kind == "policy":
        return ServiceError("EntityAlreadyExists", f"A policy called {name} already exists. Duplicate names are not allowed.")
    if kind == "instance-profile":
        return ServiceError("EntityAlreadyExists", f"Instance Profile {name} already exists.")
    if kind == "oidc-provider":
        return ServiceError("EntityAlreadyExists", f"Provider with url https://{name} already exists.")
    return ServiceError("EntityAlreadyExists", f"{KIND_NOUN[kind].capitalize()} with name {name} already exists.")


def delete_conflict(message: str) -> ServiceError:
    return ServiceError("DeleteConflict", message)


@dataclass(frozen=True)
class ManagedPolicyRef:
    """A managed policy an entity can attach: customer managed (an Entity) or AWS managed."""

    arn: str
    name: str
    policy_id: str
    entity: Entity | None = None  # None for AWS managed policies


class IamBase:
    """State access and the rules shared by every IAM operation family."""

    store: IamStore

    # -- entities ----------------------------------------------------------------------
    def require(self, account_id: str, kind: str, name: str) -> Entity:
        entity = self.store.get(account_id, kind, name)
        if entity is None:
            raise no_such_entity(kind, name)
        return entity

    def create_entity(
        self, account_id: str, kind: str, name: str, path: str, attributes: dict[str, Any],
        tags: list[dict[str, str]], *, boundary: str | None = None, arn: str | None = None,
    ) -> Entity:
        entity = Entity(
            account_id=account_id, kind=kind, name=name, entity_id=new_entity_id(kind), path=path,
            arn=arn or entity_arn(account_id, kind, path, name), created=now_epoch(),
            attributes=attributes, tags=tags, permissions_boundary=boundary,
        )
        try:
            with self.store.db.transaction():
                if self.store.get(account_id, kind, name) is not None:
                    raise already_exists(kind, name)
                self.store.insert(entity)
        except IntegrityError:
            # A concurrent request created the same name between our check and insert.
            raise already_exists(kind, name) from None
        return entity

    def principal_exists(self, account_id: str) -> Callable[[str], bool]:
        """For trust policies: does an IAM user/role ARN name an existing entity?"""

        def exists(arn: str) -> bool:
            parsed = parse_iam_arn(arn)
            if parsed is None:
                return False
            owner, resource_type, rest = parsed
            _, name = split_path_and_name(rest)
            entity = self.store.get(owner, resource_type, name)
            return entity is not None and entity.arn == arn

        return exists

    def check_boundary(self, account_id: str, arn: str | None) -> str | None:
        """A permissions boundary must be an existing managed policy."""
        if arn is None:
            return None
        try:
            self.managed_policy(account_id, arn)
        except ServiceError:
            raise ServiceError(
                "NoSuchEntity", f"Scope ARN: {arn} does not exist or is not attachable."
            ) from None
        return arn

    # -- managed policies by ARN -----------------------------------------------------------
    def managed_policy(self, account_id: str, arn: str) -> ManagedPolicyRef:
        """The managed policy an ARN names in this account (or AWS's), else NoSuchEntity."""
        builtin = aws_managed.find(arn)
        if builtin is not None:
            return ManagedPolicyRef(builtin.arn, builtin.name, builtin.policy_id)
        parsed = parse_iam_arn(arn)
        if parsed is None or parsed[1] != "policy":
            raise ServiceError("InvalidInput", f"ARN {arn} is not valid.")
        owner, _, rest = parsed
        _, name = split_path_and_name(rest)
        entity = self.store.get(account_id, "policy", name) if owner == account_id else None
        if entity is None or entity.arn != arn:
            raise ServiceError("NoSuchEntity", f"Policy {arn} does not exist or is not attachable.")
        return ManagedPolicyRef(entity.arn, entity.name, entity.entity_id, entity)

    # -- tags --------------------------------------------------------------------------
    def tag_entity(self, entity: Entity, tags: list[dict[str, Any]]) -> None:
        new_tags = check_tags(tags)
        with self.store.db.transaction():
            current = self.store.get_by_id(entity.account_id, entity.entity_id) or entity
            merged = {tag["Key"].lower(): tag for tag in current.tags}
            for tag in new_tags:
                existing = merged.get(tag["Key"].lower())
                # Tag keys are case-insensitive: a new value replaces the old one, the
                # key keeps the spelling it was first given.
                merged[tag["Key"].lower()] = {"Key": existing["Key"] if existing else tag["Key"], "Value": tag["Value"]}
            if len(merged) > TAGS_PER_ENTITY:
                raise ServiceError(
                    "LimitExceeded", f"Cannot exceed quota for TagsPer{QUOTA_NOUN[entity.kind]}: {TAGS_PER_ENTITY}"
                )
            current.tags = list(merged.values())
            self.store.update(current)

    def untag_entity(self, entity: Entity, keys: list[str]) -> None:
        doomed = {key.lower() for key in check_tag_keys(keys)}
        with self.store.db.transaction():
            current = self.store.get_by_id(entity.account_id, entity.entity_id) or entity
            current.tags = [tag for tag in current.tags if tag["Key"].lower() not in doomed]
            self.store.update(current)

    def list_entity_tags(self, entity: Entity, params: Params) -> Params:
        tags, page = paginate(entity.tags, lambda tag: tag["Key"].lower(), params)
        return {"Tags": tags, **page}

    # -- inline policies -----------------------------------------------------------------
    def put_inline(self, ctx: RequestContext, kind: str, name: str, params: Params) -> Params:
        checks = Checks()
        checks.name(name, f"{kind}Name", 128 if kind == "user" else 64)
        checks.name(params["PolicyName"], "policyName", 128)
        checks.raise_if_any()
        document = validate_identity_policy(params["PolicyDocument"], managed=False)
        with self.store.db.transaction():
            entity = self.require(ctx.account_id, kind, name)
            others = self.store.inline_policies(ctx.account_id, entity.entity_id)
            others.pop(params["PolicyName"], None)
            # The quota applies to the sum of an entity's inline policies, whitespace excluded.
            total = document.size + sum(policy_size(text) for text in others.values())
            limit = INLINE_POLICY_SIZE[kind]
            if total > limit:
                raise ServiceError(
                    "LimitExceeded", f"Maximum policy size of {limit} bytes exceeded for {kind} {entity.name}"
                )
            self.store.put_inline(ctx.account_id, entity.entity_id, params["PolicyName"], document.text)
        return {}

    def get_inline(self, ctx: RequestContext, kind: str, name: str, policy_name: str) -> tuple[Entity, str]:
        entity = self.require(ctx.account_id, kind, name)
        document = self.store.get_inline(ctx.account_id, entity.entity_id, policy_name)
        if document is None:
            raise ServiceError("NoSuchEntity", f"The {kind} policy with name {policy_name} cannot be found.")
        return entity, document

    def delete_inline(self, ctx: RequestContext, kind: str, name: str, policy_name: str) -> Params:
        with self.store.db.transaction():
            entity = self.require(ctx.account_id, kind, name)
            if self.store.delete_inline(ctx.account_id, entity.entity_id, policy_name) == 0:
                raise ServiceError("NoSuchEntity", f"The {kind} policy with name {policy_name} cannot be found.")
        return {}

    def list_inline(self, ctx: RequestContext, kind: str, name: str, params: Params) -> Params:
        entity = self.require(ctx.account_id, kind, name)
        names = list(self.store.inline_policies(ctx.account_id, entity.entity_id))
        chosen, page = paginate(names, lambda n: n, params)
        return {"PolicyNames": chosen, **page}

    # -- managed policy attachments --------------------------------------------------------
    def attach(self, ctx: RequestContext, kind: str, name: str, policy_arn: str) -> Params:
        with self.store.db.transaction():
            entity = self.require(ctx.account_id, kind, name)
            policy = self.managed_policy(ctx.account_id, policy_arn)
            attached = self.store.attached(ctx.account_id, entity.entity_id)
            if policy.arn not in attached and len(attached) >= MANAGED_POLICIES_PER_ENTITY:
                raise ServiceError(
                    "LimitExceeded",
                    f"Cannot exceed quota for PoliciesPer{QUOTA_NOUN[kind]}: {MANAGED_POLICIES_PER_ENTITY}",
                )
            self.store.attach(ctx.account_id, entity.entity_id, policy.arn, now_epoch())
        return {}

    def detach(self, ctx: RequestContext, kind: str, name: str, policy_arn: str) -> Params:
        with self.store.db.transaction():
            entity = self.require(ctx.account_id, kind, name)
            if self.store.detach(ctx.account_id, entity.entity_id, policy_arn) == 0:
                raise ServiceError("NoSuchEntity", f"Policy {policy_arn} was not found.")
        return {}

    def list_attached(self, ctx: RequestContext, kind: str, name: str, params: Params) -> Params:
        entity = self.require(ctx.account_id, kind, name)
        prefix = params.get("PathPrefix") or "/"
        attached = []
        for arn in self.store.attached(ctx.account_id, entity.entity_id):
            parsed = parse_iam_arn(arn)
            path, policy_name = split_path_and_name(parsed[2]) if parsed else ("/", arn)
            if path.startswith(prefix):
                attached.append({"PolicyName": policy_name, "PolicyArn": arn})
        chosen, page = paginate(attached, lambda p: p["PolicyName"] + "\x00" + p["PolicyArn"], params)
        return {"AttachedPolicies": chosen, **page}


def require_name(value: str | None, member: str, high: int = 64) -> str:
    check_name(value, member, high)
    assert value is not None
    return value
