"""Managed policies: customer managed ones (stored, versioned) and AWS managed ones
(built in, see aws_managed.py), and who they are attached to."""

from __future__ import annotations

import re

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam import aws_managed
from freehold.services.iam.entities import IamBase, delete_conflict, no_such_entity, require_name
from freehold.services.iam.models import (
    Entity,
    now_epoch,
    parse_iam_arn,
    split_path_and_name,
    url_encode_document,
    utc,
)
from freehold.services.iam.pagination import paginate
from freehold.services.iam.policy_documents import MANAGED_POLICY_SIZE, validate_identity_policy
from freehold.services.iam.store import PolicyVersion
from freehold.services.iam.validation import Checks, check_path, check_path_prefix, check_tags

VERSIONS_PER_POLICY = 5
_VERSION_ID = re.compile(r"v([1-9][0-9]*)(\.[A-Za-z0-9-]*)?")
SCOPES = ("All", "AWS", "Local")


def _version_number(version_id: str) -> int:
    match = _VERSION_ID.fullmatch(version_id or "")
    if match is None:
        checks = Checks()
        checks.fail(version_id, "versionId", r"Member must satisfy regular expression pattern: v[1-9][0-9]*(\.[A-Za-z0-9-]*)?")
        checks.raise_if_any()
        raise AssertionError("unreachable")
    return int(match.group(1))


def _version_missing(arn: str, version_id: str) -> ServiceError:
    return ServiceError("NoSuchEntity", f"Policy {arn} version {version_id} does not exist or is not attachable.")


class PolicyOperations(IamBase):
    """CreatePolicy ... ListEntitiesForPolicy, policy versions and policy tags."""

    def _customer_policy(self, ctx: RequestContext, arn: str) -> Entity:
        parsed = parse_iam_arn(arn)
        if parsed is not None and parsed[1] == "policy" and parsed[0] == ctx.account_id:
            _, name = split_path_and_name(parsed[2])
            policy = self.store.get(ctx.account_id, "policy", name)
            if policy is not None and policy.arn == arn:
                return policy
        raise no_such_entity("policy", arn)

    def _policy_output(self, ctx: RequestContext, arn: str, *, full: bool) -> Params:
        """The Policy shape of a customer or AWS managed policy (NoSuchEntity if neither)."""
        builtin = aws_managed.find(arn)
        if builtin is not None:
            result: Params = {
                "PolicyName": builtin.name, "PolicyId": builtin.policy_id, "Arn": builtin.arn, "Path": builtin.path,
                "DefaultVersionId": "v1", "IsAttachable": True,
                "CreateDate": utc(aws_managed.CREATED), "UpdateDate": utc(aws_managed.CREATED),
            }
            description = builtin.description
        else:
            policy = self._customer_policy(ctx, arn)
            attrs = policy.attributes
            result = {
                "PolicyName": policy.name, "PolicyId": policy.entity_id, "Arn": policy.arn, "Path": policy.path,
                "DefaultVersionId": f"v{attrs['DefaultVersion']}", "IsAttachable": True,
                "CreateDate": policy.create_date, "UpdateDate": utc(float(attrs.get("UpdateDate", policy.created))),
            }
            description = str(attrs.get("Description") or "")
            if full and policy.tags:
                result["Tags"] = policy.tags
        result["AttachmentCount"] = self.store.attachment_count(ctx.account_id, arn)
        result["PermissionsBoundaryUsageCount"] = self.store.boundary_usage(ctx.account_id, arn)
        if full and description:
            result["Description"] = description
        return result

    # -- policies ------------------------------------------------------------------------
    def create_policy(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("PolicyName"), "policyName", 128)
        path = check_path(params.get("Path"))
        checks = Checks()
        checks.length(params.get("Description"), "description", 0, 1000)
        checks.raise_if_any()
        tags = check_tags(params.get("Tags"))
        document = validate_identity_policy(params["PolicyDocument"], managed=True)
        if document.size > MANAGED_POLICY_SIZE:
            raise ServiceError("LimitExceeded", f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        created = now_epoch()
        attributes: Params = {"DefaultVersion": 1, "NextVersion": 2, "UpdateDate": created}
        if params.get("Description"):
            attributes["Description"] = params["Description"]
        with self.store.db.transaction():
            policy = self.create_entity(ctx.account_id, "policy", name, path, attributes, tags)
            self.store.add_version(ctx.account_id, policy.entity_id, 1, document.text, policy.created)
        result = self._policy_output(ctx, policy.arn, full=True)
        result.pop("Description", None)  # CreatePolicy does not echo it; GetPolicy does
        return {"Policy": result}

    def get_policy(self, ctx: RequestContext, params: Params) -> Params:
        return {"Policy": self._policy_output(ctx, params["PolicyArn"], full=True)}

    def delete_policy(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            policy = self._customer_policy(ctx, params["PolicyArn"])
            if self.store.attachment_count(ctx.account_id, policy.arn):
                raise delete_conflict("Cannot delete a policy attached to entities.")
            if len(self.store.versions(ctx.account_id, policy.entity_id)) > 1:
                raise delete_conflict(
                    "This policy has more than one version. Before you delete a policy, you must delete the "
                    "policy's versions. The default version is deleted with the policy."
                )
            self.store.delete_versions(ctx.account_id, policy.entity_id)
            self.store.delete(policy)
        return {}

    def list_policies(self, ctx: RequestContext, params: Params) -> Params:
        scope = params.get("Scope") or "All"
        if scope not in SCOPES:
            checks = Checks()
            checks.fail(scope, "scope", "Member must satisfy enum value set: [All, AWS, Local]")
            checks.raise_if_any()
        prefix = check_path_prefix(params.get("PathPrefix"))
        arns: list[str] = []
        if scope in ("All", "AWS"):
            arns += [p.arn for p in aws_managed.all_policies().values() if p.path.startswith(prefix)]
        if scope in ("All", "Local"):
            arns += [p.arn for p in self.store.list_entities(ctx.account_id, "policy", prefix)]
        if params.get("OnlyAttached"):
            attached = self.store.attached_arns(ctx.account_id)
            arns = [arn for arn in arns if arn in attached]
        if params.get("PolicyUsageFilter") == "PermissionsBoundary":
            arns = [arn for arn in arns if self.store.boundary_usage(ctx.account_id, arn)]
        # Sort and cut the page on ARNs first, so only the page's policies are described.
        chosen, page = paginate(arns, lambda arn: arn.rsplit("/", 1)[-1].lower() + "\x00" + arn, params)
        return {"Policies": [self._policy_output(ctx, arn, full=False) for arn in chosen], **page}

    def list_entities_for_policy(self, ctx: RequestContext, params: Params) -> Params:
        arn = params["PolicyArn"]
        self._policy_output(ctx, arn, full=False)  # NoSuchEntity when there is no such policy
        prefix = check_path_prefix(params.get("PathPrefix"))
        wanted = {"User": "user", "Role": "role", "Group": "group"}.get(params.get("EntityFilter") or "", None)
        entities = [
            e for e in self.store.entities_for_policy(ctx.account_id, arn)
            if e.path.startswith(prefix) and (wanted is None or e.kind == wanted)
            and params.get("EntityFilter") not in ("LocalManagedPolicy", "AWSManagedPolicy")
        ]
        chosen, page = paginate(entities, lambda e: f"{e.kind}\x00{e.name_key}", params)
        return {
            "PolicyGroups": [{"GroupName": e.name, "GroupId": e.entity_id} for e in chosen if e.kind == "group"],
            "PolicyUsers": [{"UserName": e.name, "UserId": e.entity_id} for e in chosen if e.kind == "user"],
            "PolicyRoles": [{"RoleName": e.name, "RoleId": e.entity_id} for e in chosen if e.kind == "role"],
            **page,
        }

    # -- versions ------------------------------------------------------------------------
    @staticmethod
    def _version_output(version: PolicyVersion, default: int, *, document: bool) -> Params:
        result: Params = {
            "VersionId": version.version_id,
            "IsDefaultVersion": version.number == default,
            "CreateDate": utc(version.created),
        }
        if document:
            result["Document"] = url_encode_document(version.document)
        return result

    def create_policy_version(self, ctx: RequestContext, params: Params) -> Params:
        document = validate_identity_policy(params["PolicyDocument"], managed=True)
        if document.size > MANAGED_POLICY_SIZE:
            raise ServiceError("LimitExceeded", f"Cannot exceed quota for PolicySize: {MANAGED_POLICY_SIZE}")
        with self.store.db.transaction():
            policy = self._customer_policy(ctx, params["PolicyArn"])
            if len(self.store.versions(ctx.account_id, policy.entity_id)) >= VERSIONS_PER_POLICY:
                raise ServiceError(
                    "LimitExceeded",
                    "A managed policy can have up to 5 versions. Before you create a new version, you must "
                    "delete an existing version.",
                )
            attrs = policy.attributes
            number = int(attrs["NextVersion"])
            created = now_epoch()
            self.store.add_version(ctx.account_id, policy.entity_id, number, document.text, created)
            attrs["NextVersion"] = number + 1
            if params.get("SetAsDefault"):
                attrs["DefaultVersion"] = number
                attrs["UpdateDate"] = created
            self.store.update(policy)
        version = PolicyVersion(number, document.text, created)
        return {"PolicyVersion": self._version_output(version, int(attrs["DefaultVersion"]), document=False)}

    def get_policy_version(self, ctx: RequestContext, params: Params) -> Params:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        number = _version_number(version_id)
        builtin = aws_managed.find(arn)
        if builtin is not None:
            if number != 1:
                raise _version_missing(arn, version_id)
            version = PolicyVersion(1, builtin.document, aws_managed.CREATED)
            return {"PolicyVersion": self._version_output(version, 1, document=True)}
        policy = self._customer_policy(ctx, arn)
        stored = self.store.version(ctx.account_id, policy.entity_id, number)
        if stored is None:
            raise _version_missing(arn, version_id)
        default = int(policy.attributes["DefaultVersion"])
        return {"PolicyVersion": self._version_output(stored, default, document=True)}

    def list_policy_versions(self, ctx: RequestContext, params: Params) -> Params:
        arn = params["PolicyArn"]
        builtin = aws_managed.find(arn)
        if builtin is not None:
            versions, default = [PolicyVersion(1, builtin.document, aws_managed.CREATED)], 1
        else:
            policy = self._customer_policy(ctx, arn)
            versions = self.store.versions(ctx.account_id, policy.entity_id)
            default = int(policy.attributes["DefaultVersion"])
        # Newest first, as AWS lists them.
        chosen, page = paginate(versions, lambda v: f"{10**9 - v.number:010d}", params)
        return {"Versions": [self._version_output(v, default, document=False) for v in chosen], **page}

    def delete_policy_version(self, ctx: RequestContext, params: Params) -> Params:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        number = _version_number(version_id)
        with self.store.db.transaction():
            policy = self._customer_policy(ctx, arn)
            if number == int(policy.attributes["DefaultVersion"]):
                raise delete_conflict("Cannot delete the default version of a policy.")
            if self.store.delete_version(ctx.account_id, policy.entity_id, number) == 0:
                raise _version_missing(arn, version_id)
        return {}

    def set_default_policy_version(self, ctx: RequestContext, params: Params) -> Params:
        arn, version_id = params["PolicyArn"], params["VersionId"]
        number = _version_number(version_id)
        with self.store.db.transaction():
            policy = self._customer_policy(ctx, arn)
            if self.store.version(ctx.account_id, policy.entity_id, number) is None:
                raise _version_missing(arn, version_id)
            policy.attributes["DefaultVersion"] = number
            policy.attributes["UpdateDate"] = now_epoch()
            self.store.update(policy)
        return {}

    # -- tags ----------------------------------------------------------------------------
    def tag_policy(self, ctx: RequestContext, params: Params) -> Params:
        self.tag_entity(self._customer_policy(ctx, params["PolicyArn"]), params.get("Tags") or [])
        return {}

    def untag_policy(self, ctx: RequestContext, params: Params) -> Params:
        self.untag_entity(self._customer_policy(ctx, params["PolicyArn"]), params.get("TagKeys") or [])
        return {}

    def list_policy_tags(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_entity_tags(self._customer_policy(ctx, params["PolicyArn"]), params)
