"""IAM roles (with their trust policies) and instance profiles."""

from __future__ import annotations

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam.entities import IamBase, delete_conflict, no_such_entity, require_name
from freehold.services.iam.models import Entity, instance_profile_output, role_output, url_encode_document
from freehold.services.iam.pagination import decode_marker, page_fields, paginate
from freehold.services.iam.policy_documents import TRUST_POLICY_SIZE, validate_trust_policy
from freehold.services.iam.validation import (
    Checks,
    check_max_items,
    check_path,
    check_path_prefix,
    check_tags,
)

ROLES_PER_INSTANCE_PROFILE = 1


class RoleOperations(IamBase):
    """CreateRole ... ListRoles, role tags/policies/boundary, and instance profiles."""

    def _trust_policy(self, account_id: str, text: str) -> str:
        document = validate_trust_policy(text, self.principal_exists(account_id))
        if document.size > TRUST_POLICY_SIZE:
            raise ServiceError("LimitExceeded", f"Cannot exceed quota for ACLSizePerRole: {TRUST_POLICY_SIZE}")
        return document.text

    def _role_checks(self, params: Params, name_member: str = "roleName") -> None:
        checks = Checks()
        checks.name(params.get("RoleName"), name_member)
        checks.length(params.get("Description"), "description", 0, 1000)
        checks.number(params.get("MaxSessionDuration"), "maxSessionDuration", 3600, 43200)
        checks.raise_if_any()

    # -- roles ---------------------------------------------------------------------------
    def create_role(self, ctx: RequestContext, params: Params) -> Params:
        self._role_checks(params)
        name = params["RoleName"]
        path = check_path(params.get("Path"))
        tags = check_tags(params.get("Tags"))
        trust = self._trust_policy(ctx.account_id, params["AssumeRolePolicyDocument"])
        boundary = self.check_boundary(ctx.account_id, params.get("PermissionsBoundary"))
        attributes: Params = {
            "AssumeRolePolicyDocument": trust,
            "MaxSessionDuration": params.get("MaxSessionDuration") or 3600,
        }
        if params.get("Description") is not None:
            attributes["Description"] = params["Description"]
        role = self.create_entity(ctx.account_id, "role", name, path, attributes, tags, boundary=boundary)
        result = role_output(role)
        result.pop("RoleLastUsed", None)  # CreateRole does not report it
        return {"Role": result}

    def get_role(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("RoleName"), "roleName")
        return {"Role": role_output(self.require(ctx.account_id, "role", name))}

    def list_roles(self, ctx: RequestContext, params: Params) -> Params:
        prefix = check_path_prefix(params.get("PathPrefix"))
        max_items = check_max_items(params.get("MaxItems"))
        roles = self.store.list_entities(ctx.account_id, "role", prefix, decode_marker(params.get("Marker")), max_items + 1)
        truncated = len(roles) > max_items
        roles = roles[:max_items]
        return {
            "Roles": [role_output(role, full=False) for role in roles],
            **page_fields(truncated, roles[-1].name_key if roles else None),
        }

    def update_role(self, ctx: RequestContext, params: Params) -> Params:
        self._role_checks(params)
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", params["RoleName"])
            if params.get("Description") is not None:
                role.attributes["Description"] = params["Description"]
            if params.get("MaxSessionDuration") is not None:
                role.attributes["MaxSessionDuration"] = params["MaxSessionDuration"]
            self.store.update(role)
        return {}

    def update_role_description(self, ctx: RequestContext, params: Params) -> Params:
        self._role_checks(params)
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", params["RoleName"])
            role.attributes["Description"] = params["Description"]
            self.store.update(role)
        return {"Role": role_output(role)}

    def update_assume_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        self._role_checks(params)
        trust = self._trust_policy(ctx.account_id, params["PolicyDocument"])
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", params["RoleName"])
            role.attributes["AssumeRolePolicyDocument"] = trust
            self.store.update(role)
        return {}

    def delete_role(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("RoleName"), "roleName")
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", name)
            if self.store.profile_ids_of_role(ctx.account_id, role.entity_id):
                raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
            if self.store.attached(ctx.account_id, role.entity_id):
                raise delete_conflict("Cannot delete entity, must detach all policies first.")
            if self.store.inline_policies(ctx.account_id, role.entity_id):
                raise delete_conflict("Cannot delete entity, must delete policies first.")
            self.store.delete(role)
        return {}

    def tag_role(self, ctx: RequestContext, params: Params) -> Params:
        self.tag_entity(self.require(ctx.account_id, "role", params["RoleName"]), params.get("Tags") or [])
        return {}

    def untag_role(self, ctx: RequestContext, params: Params) -> Params:
        self.untag_entity(self.require(ctx.account_id, "role", params["RoleName"]), params.get("TagKeys") or [])
        return {}

    def list_role_tags(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_entity_tags(self.require(ctx.account_id, "role", params["RoleName"]), params)

    def put_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.put_inline(ctx, "role", params["RoleName"], params)

    def get_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        role, document = self.get_inline(ctx, "role", params["RoleName"], params["PolicyName"])
        return {"RoleName": role.name, "PolicyName": params["PolicyName"], "PolicyDocument": url_encode_document(document)}

    def delete_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.delete_inline(ctx, "role", params["RoleName"], params["PolicyName"])

    def list_role_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_inline(ctx, "role", params["RoleName"], params)

    def attach_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.attach(ctx, "role", params["RoleName"], params["PolicyArn"])

    def detach_role_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.detach(ctx, "role", params["RoleName"], params["PolicyArn"])

    def list_attached_role_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_attached(ctx, "role", params["RoleName"], params)

    def put_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Params:
        boundary = self.check_boundary(ctx.account_id, params["PermissionsBoundary"])
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", params["RoleName"])
            role.permissions_boundary = boundary
            self.store.update(role)
        return {}

    def delete_role_permissions_boundary(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            role = self.require(ctx.account_id, "role", params["RoleName"])
            role.permissions_boundary = None
            self.store.update(role)
        return {}

    # -- instance profiles ------------------------------------------------------------------
    def _profile_output(self, profile: Entity, *, tags: bool = True) -> Params:
        roles = self.store.with_ids(profile.account_id, self.store.profile_role_ids(profile.account_id, profile.entity_id))
        return instance_profile_output(profile, roles, tags=tags)

    def create_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("InstanceProfileName"), "instanceProfileName", 128)
        path = check_path(params.get("Path"))
        tags = check_tags(params.get("Tags"))
        profile = self.create_entity(ctx.account_id, "instance-profile", name, path, {}, tags)
        return {"InstanceProfile": self._profile_output(profile)}

    def get_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
        return {"InstanceProfile": self._profile_output(profile)}

    def delete_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
            if self.store.profile_role_ids(ctx.account_id, profile.entity_id):
                raise delete_conflict("Cannot delete entity, must remove roles from instance profile first.")
            self.store.delete(profile)
        return {}

    def list_instance_profiles(self, ctx: RequestContext, params: Params) -> Params:
        prefix = check_path_prefix(params.get("PathPrefix"))
        max_items = check_max_items(params.get("MaxItems"))
        profiles = self.store.list_entities(
            ctx.account_id, "instance-profile", prefix, decode_marker(params.get("Marker")), max_items + 1
        )
        truncated = len(profiles) > max_items
        profiles = profiles[:max_items]
        return {
            "InstanceProfiles": [self._profile_output(p, tags=False) for p in profiles],
            **page_fields(truncated, profiles[-1].name_key if profiles else None),
        }

    def add_role_to_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
            role = self.require(ctx.account_id, "role", params["RoleName"])
            if len(self.store.profile_role_ids(ctx.account_id, profile.entity_id)) >= ROLES_PER_INSTANCE_PROFILE:
                raise ServiceError(
                    "LimitExceeded",
                    f"Cannot exceed quota for InstanceSessionsPerInstanceProfile: {ROLES_PER_INSTANCE_PROFILE}",
                )
            self.store.add_profile_role(ctx.account_id, profile.entity_id, role.entity_id)
        return {}

    def remove_role_from_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
            role = self.require(ctx.account_id, "role", params["RoleName"])
            if self.store.remove_profile_role(ctx.account_id, profile.entity_id, role.entity_id) == 0:
                raise no_such_entity("role", params["RoleName"])
        return {}

    def list_instance_profiles_for_role(self, ctx: RequestContext, params: Params) -> Params:
        role = self.require(ctx.account_id, "role", params["RoleName"])
        profiles = self.store.with_ids(ctx.account_id, self.store.profile_ids_of_role(ctx.account_id, role.entity_id))
        chosen, page = paginate(profiles, lambda p: p.name_key, params)
        return {"InstanceProfiles": [self._profile_output(p, tags=False) for p in chosen], **page}

    def tag_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
        self.tag_entity(profile, params.get("Tags") or [])
        return {}

    def untag_instance_profile(self, ctx: RequestContext, params: Params) -> Params:
        profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
        self.untag_entity(profile, params.get("TagKeys") or [])
        return {}

    def list_instance_profile_tags(self, ctx: RequestContext, params: Params) -> Params:
        profile = self.require(ctx.account_id, "instance-profile", params["InstanceProfileName"])
        return self.list_entity_tags(profile, params)
