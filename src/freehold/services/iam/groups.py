"""IAM groups: membership and the group's inline and attached policies."""

from __future__ import annotations

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam.entities import (
    IamBase,
    already_exists,
    delete_conflict,
    no_such_entity,
    require_name,
)
from freehold.services.iam.models import entity_arn, group_output, now_epoch, url_encode_document, user_output
from freehold.services.iam.pagination import decode_marker, page_fields, paginate
from freehold.services.iam.validation import Checks, check_max_items, check_path, check_path_prefix
from freehold.state.database import IntegrityError

GROUPS_PER_USER = 10


class GroupOperations(IamBase):
    """CreateGroup ... ListGroupsForUser and group policies."""

    def create_group(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("GroupName"), "groupName", 128)
        path = check_path(params.get("Path"))
        group = self.create_entity(ctx.account_id, "group", name, path, {}, [])
        return {"Group": group_output(group)}

    def get_group(self, ctx: RequestContext, params: Params) -> Params:
        group = self.require(ctx.account_id, "group", require_name(params.get("GroupName"), "groupName", 128))
        members = self.store.with_ids(ctx.account_id, self.store.member_ids(ctx.account_id, group.entity_id))
        chosen, page = paginate(members, lambda user: user.name_key, params)
        return {"Group": group_output(group), "Users": [user_output(u, full=False) for u in chosen], **page}

    def update_group(self, ctx: RequestContext, params: Params) -> Params:
        checks = Checks()
        checks.name(params.get("GroupName"), "groupName", 128)
        checks.name(params.get("NewGroupName"), "newGroupName", 128)
        checks.raise_if_any()
        new_name = params.get("NewGroupName")
        new_path = check_path(params["NewPath"], "newPath") if params.get("NewPath") is not None else None
        try:
            with self.store.db.transaction():
                group = self.require(ctx.account_id, "group", params["GroupName"])
                renamed = bool(new_name) and str(new_name).lower() != group.name_key
                if renamed and self.store.get(ctx.account_id, "group", str(new_name)) is not None:
                    raise already_exists("group", str(new_name))
                group.name = new_name or group.name
                group.path = new_path or group.path
                group.arn = entity_arn(ctx.account_id, "group", group.path, group.name)
                self.store.update(group)
        except IntegrityError:
            raise already_exists("group", new_name or params["GroupName"]) from None
        return {}

    def delete_group(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            group = self.require(ctx.account_id, "group", require_name(params.get("GroupName"), "groupName", 128))
            if self.store.member_ids(ctx.account_id, group.entity_id):
                raise delete_conflict("Cannot delete entity, must remove users from group first.")
            if self.store.inline_policies(ctx.account_id, group.entity_id):
                raise delete_conflict("Cannot delete entity, must delete policies first.")
            if self.store.attached(ctx.account_id, group.entity_id):
                raise delete_conflict("Cannot delete entity, must detach all policies first.")
            self.store.delete(group)
        return {}

    def list_groups(self, ctx: RequestContext, params: Params) -> Params:
        prefix = check_path_prefix(params.get("PathPrefix"))
        max_items = check_max_items(params.get("MaxItems"))
        groups = self.store.list_entities(ctx.account_id, "group", prefix, decode_marker(params.get("Marker")), max_items + 1)
        truncated = len(groups) > max_items
        groups = groups[:max_items]
        return {
            "Groups": [group_output(group) for group in groups],
            **page_fields(truncated, groups[-1].name_key if groups else None),
        }

    def add_user_to_group(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            group = self.require(ctx.account_id, "group", params["GroupName"])
            user = self.require(ctx.account_id, "user", params["UserName"])
            current = self.store.group_ids_of(ctx.account_id, user.entity_id)
            if group.entity_id not in current and len(current) >= GROUPS_PER_USER:
                raise ServiceError("LimitExceeded", f"Cannot exceed quota for GroupsPerUser: {GROUPS_PER_USER}")
            self.store.add_member(ctx.account_id, group.entity_id, user.entity_id, now_epoch())
        return {}

    def remove_user_from_group(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            group = self.require(ctx.account_id, "group", params["GroupName"])
            user = self.require(ctx.account_id, "user", params["UserName"])
            if self.store.remove_member(ctx.account_id, group.entity_id, user.entity_id) == 0:
                raise no_such_entity("user", params["UserName"])
        return {}

    def list_groups_for_user(self, ctx: RequestContext, params: Params) -> Params:
        user = self.require(ctx.account_id, "user", params["UserName"])
        groups = self.store.with_ids(ctx.account_id, self.store.group_ids_of(ctx.account_id, user.entity_id))
        chosen, page = paginate(groups, lambda group: group.name_key, params)
        return {"Groups": [group_output(group) for group in chosen], **page}

    def put_group_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.put_inline(ctx, "group", params["GroupName"], params)

    def get_group_policy(self, ctx: RequestContext, params: Params) -> Params:
        group, document = self.get_inline(ctx, "group", params["GroupName"], params["PolicyName"])
        return {"GroupName": group.name, "PolicyName": params["PolicyName"], "PolicyDocument": url_encode_document(document)}

    def delete_group_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.delete_inline(ctx, "group", params["GroupName"], params["PolicyName"])

    def list_group_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_inline(ctx, "group", params["GroupName"], params)

    def attach_group_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.attach(ctx, "group", params["GroupName"], params["PolicyArn"])

    def detach_group_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.detach(ctx, "group", params["GroupName"], params["PolicyArn"])

    def list_attached_group_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_attached(ctx, "group", params["GroupName"], params)
