"""IAM users and their access keys, tags, inline and attached policies."""

from __future__ import annotations

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.iam.entities import IamBase, already_exists, delete_conflict, require_name
from freehold.services.iam.models import (
    ACCESS_KEY_PREFIX,
    Entity,
    entity_arn,
    new_access_key_id,
    new_secret_access_key,
    now_epoch,
    url_encode_document,
    user_output,
    utc,
)
from freehold.services.iam.pagination import decode_marker, page_fields, paginate
from freehold.services.iam.store import AccessKey
from freehold.services.iam.validation import (
    Checks,
    check_max_items,
    check_path,
    check_path_prefix,
    check_tags,
)
from freehold.state.database import IntegrityError

ACCESS_KEYS_PER_USER = 2
KEY_STATUSES = ("Active", "Inactive", "Expired")
ROOT = ""  # the user id under which an account root's own access keys are stored


class UserOperations(IamBase):
    """CreateUser ... ListUsers, user tags/policies, and access keys."""

    # -- users -------------------------------------------------------------------------
    def create_user(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("UserName"), "userName")
        path = check_path(params.get("Path"))
        tags = check_tags(params.get("Tags"))
        boundary = self.check_boundary(ctx.account_id, params.get("PermissionsBoundary"))
        user = self.create_entity(ctx.account_id, "user", name, path, {}, tags, boundary=boundary)
        return {"User": user_output(user)}

    def _user_of_caller(self, ctx: RequestContext) -> Entity | None:
        """The IAM user that signed the request; None for the root user. Other callers
        (roles, federated users) must name a user: AWS's ValidationError says so."""
        principal = ctx.principal
        if principal.kind == "user":
            user = self.store.get_by_id(ctx.account_id, principal.user_id)
            if user is None:
                raise ServiceError("NoSuchEntity", f"The user with name {principal.arn.rsplit('/', 1)[-1]} cannot be found.")
            return user
        if principal.kind == "root":
            return None
        raise ServiceError("ValidationError", "Must specify userName when calling with non-User credentials")

    def get_user(self, ctx: RequestContext, params: Params) -> Params:
        name = params.get("UserName")
        if name is None:
            user = self._user_of_caller(ctx)
            if user is None:
                # The root user has no name or path; AWS answers with its id and ARN.
                return {"User": {"UserId": ctx.account_id, "Arn": f"arn:aws:iam::{ctx.account_id}:root",
                                 "CreateDate": utc(0.0)}}
            return {"User": user_output(user)}
        require_name(name, "userName", 128)
        return {"User": user_output(self.require(ctx.account_id, "user", name))}

    def update_user(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("UserName"), "userName", 128)
        new_name = params.get("NewUserName")
        checks = Checks()
        checks.name(new_name, "newUserName")
        checks.raise_if_any()
        new_path = check_path(params["NewPath"], "newPath") if params.get("NewPath") is not None else None
        try:
            with self.store.db.transaction():
                user = self.require(ctx.account_id, "user", name)
                renamed = bool(new_name) and str(new_name).lower() != user.name_key
                if renamed and self.store.get(ctx.account_id, "user", str(new_name)) is not None:
                    raise already_exists("user", str(new_name))
                user.name = new_name or user.name
                user.path = new_path or user.path
                user.arn = entity_arn(ctx.account_id, "user", user.path, user.name)
                self.store.update(user)
        except IntegrityError:
            raise already_exists("user", new_name or name) from None
        return {}

    def delete_user(self, ctx: RequestContext, params: Params) -> Params:
        name = require_name(params.get("UserName"), "userName", 128)
        with self.store.db.transaction():
            user = self.require(ctx.account_id, "user", name)
            # The order AWS checks the user's dependents in.
            if self.store.keys_of(ctx.account_id, user.entity_id):
                raise delete_conflict("Cannot delete entity, must delete access keys first.")
            if self.store.inline_policies(ctx.account_id, user.entity_id):
                raise delete_conflict("Cannot delete entity, must delete policies first.")
            if self.store.attached(ctx.account_id, user.entity_id):
                raise delete_conflict("Cannot delete entity, must detach all policies first.")
            if self.store.group_ids_of(ctx.account_id, user.entity_id):
                raise delete_conflict("Cannot delete entity, must remove users from group first.")
            self.store.delete(user)
        return {}

    def list_users(self, ctx: RequestContext, params: Params) -> Params:
        prefix = check_path_prefix(params.get("PathPrefix"))
        max_items = check_max_items(params.get("MaxItems"))
        after = decode_marker(params.get("Marker"))
        users = self.store.list_entities(ctx.account_id, "user", prefix, after, max_items + 1)
        truncated = len(users) > max_items
        users = users[:max_items]
        return {
            "Users": [user_output(user, full=False) for user in users],
            **page_fields(truncated, users[-1].name_key if users else None),
        }

    # -- user tags, policies, boundary -------------------------------------------------
    def tag_user(self, ctx: RequestContext, params: Params) -> Params:
        self.tag_entity(self.require(ctx.account_id, "user", params["UserName"]), params.get("Tags") or [])
        return {}

    def untag_user(self, ctx: RequestContext, params: Params) -> Params:
        self.untag_entity(self.require(ctx.account_id, "user", params["UserName"]), params.get("TagKeys") or [])
        return {}

    def list_user_tags(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_entity_tags(self.require(ctx.account_id, "user", params["UserName"]), params)

    def put_user_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.put_inline(ctx, "user", params["UserName"], params)

    def get_user_policy(self, ctx: RequestContext, params: Params) -> Params:
        user, document = self.get_inline(ctx, "user", params["UserName"], params["PolicyName"])
        return {"UserName": user.name, "PolicyName": params["PolicyName"], "PolicyDocument": url_encode_document(document)}

    def delete_user_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.delete_inline(ctx, "user", params["UserName"], params["PolicyName"])

    def list_user_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_inline(ctx, "user", params["UserName"], params)

    def attach_user_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.attach(ctx, "user", params["UserName"], params["PolicyArn"])

    def detach_user_policy(self, ctx: RequestContext, params: Params) -> Params:
        return self.detach(ctx, "user", params["UserName"], params["PolicyArn"])

    def list_attached_user_policies(self, ctx: RequestContext, params: Params) -> Params:
        return self.list_attached(ctx, "user", params["UserName"], params)

    def put_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Params:
        boundary = self.check_boundary(ctx.account_id, params["PermissionsBoundary"])
        with self.store.db.transaction():
            user = self.require(ctx.account_id, "user", params["UserName"])
            user.permissions_boundary = boundary
            self.store.update(user)
        return {}

    def delete_user_permissions_boundary(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            user = self.require(ctx.account_id, "user", params["UserName"])
            user.permissions_boundary = None
            self.store.update(user)
        return {}

    # -- access keys ---------------------------------------------------------------------
    def _key_owner(self, ctx: RequestContext, params: Params) -> tuple[str, str]:
        """(user id, user name) whose keys a request is about: the named user, else the
        caller (an IAM user, or the root user whose keys have the user id '')."""
        name = params.get("UserName")
        if name is not None:
            user = self.require(ctx.account_id, "user", require_name(name, "userName", 128))
            return user.entity_id, user.name
        caller = self._user_of_caller(ctx)
        return (caller.entity_id, caller.name) if caller is not None else (ROOT, "root")

    def create_access_key(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            user_id, user_name = self._key_owner(ctx, params)
            if len(self.store.keys_of(ctx.account_id, user_id)) >= ACCESS_KEYS_PER_USER:
                raise ServiceError(
                    "LimitExceeded", f"Cannot exceed quota for AccessKeysPerUser: {ACCESS_KEYS_PER_USER}"
                )
            key = AccessKey(
                access_key_id=new_access_key_id(ACCESS_KEY_PREFIX), account_id=ctx.account_id, user_id=user_id,
                secret_access_key=new_secret_access_key(), status="Active", created=now_epoch(),
                last_used=None, last_used_service=None, last_used_region=None,
            )
            self.store.insert_key(key)
        result = {
            "UserName": user_name, "AccessKeyId": key.access_key_id, "Status": key.status,
            "SecretAccessKey": key.secret_access_key, "CreateDate": utc(key.created),
        }
        return {"AccessKey": result}

    def _owned_key(self, ctx: RequestContext, params: Params) -> tuple[AccessKey, str]:
        user_id, user_name = self._key_owner(ctx, params)
        key_id = params["AccessKeyId"]
        key = self.store.key(key_id)
        if key is None or key.account_id != ctx.account_id or key.user_id != user_id:
            raise ServiceError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found")
        return key, user_name

    def list_access_keys(self, ctx: RequestContext, params: Params) -> Params:
        user_id, user_name = self._key_owner(ctx, params)
        metadata: list[Params] = [
            {"UserName": user_name, "AccessKeyId": key.access_key_id, "Status": key.status,
             "CreateDate": utc(key.created)}
            for key in self.store.keys_of(ctx.account_id, user_id)
        ]
        chosen, page = paginate(metadata, lambda m: str(m["AccessKeyId"]), params)
        return {"AccessKeyMetadata": chosen, **page}

    def update_access_key(self, ctx: RequestContext, params: Params) -> Params:
        status = params.get("Status")
        if status not in KEY_STATUSES:
            checks = Checks()
            checks.fail(status, "status", "Member must satisfy enum value set: [Active, Inactive, Expired]")
            checks.raise_if_any()
        with self.store.db.transaction():
            key, _ = self._owned_key(ctx, params)
            self.store.set_key_status(key.access_key_id, str(status))
        return {}

    def delete_access_key(self, ctx: RequestContext, params: Params) -> Params:
        with self.store.db.transaction():
            key, _ = self._owned_key(ctx, params)
            self.store.delete_key(key.access_key_id)
        return {}

    def get_access_key_last_used(self, ctx: RequestContext, params: Params) -> Params:
        key_id = params["AccessKeyId"]
        key = self.store.key(key_id)
        if key is None or key.account_id != ctx.account_id:
            raise ServiceError("NoSuchEntity", f"The Access Key with id {key_id} cannot be found")
        user = self.store.get_by_id(ctx.account_id, key.user_id) if key.user_id else None
        # Never used: AWS reports the service and region as "N/A" and no date.
        last_used: Params = {"ServiceName": key.last_used_service or "N/A", "Region": key.last_used_region or "N/A"}
        if key.last_used is not None:
            last_used["LastUsedDate"] = utc(key.last_used)
        return {"UserName": user.name if user else "root", "AccessKeyLastUsed": last_used}
