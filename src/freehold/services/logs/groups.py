"""Log group operations: create/delete/describe/list, retention, KMS key association,
deletion protection, and tags (TagResource & co. and the legacy TagLogGroup & co.)."""

from __future__ import annotations

from typing import Any

from freehold.gateway.context import RequestContext
from freehold.protocol.errors import ServiceError
from freehold.services.base import Params
from freehold.services.logs import tokens
from freehold.services.logs.lookup import LogsOperations, now_ms
from freehold.services.logs.models import (
    MAX_TAGS,
    LogGroup,
    check_retention,
    check_tags,
    group_not_found,
    invalid,
    parse_group_arn,
)
from freehold.state.database import IntegrityError


class GroupOperations(LogsOperations):
    def _retention_changed(self) -> None:
        """Hook: the provider wakes its expiry worker."""

    # -- lifecycle ------------------------------------------------------------------------------
    def create_log_group(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        tags = params.get("tags") or {}
        check_tags(tags)
        group = LogGroup(
            group_id=0, account_id=ctx.account_id, region=ctx.region, name=params["logGroupName"],
            creation_time=now_ms(), kms_key_id=params.get("kmsKeyId") or None,
            log_group_class=params.get("logGroupClass") or "STANDARD",
            deletion_protection=bool(params.get("deletionProtectionEnabled")), tags=dict(tags),
        )
        try:
            with self.store.db.transaction():
                self.store.create_group(group)
        except IntegrityError:
            raise ServiceError("ResourceAlreadyExistsException", "The specified log group already exists") from None
        return {}

    def delete_log_group(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        if group.deletion_protection:
            raise ServiceError(
                "ValidationException",
                f"Log group {group.name} has deletion protection enabled; disable it with "
                "PutLogGroupDeletionProtection before deleting the log group.",
                400,
            )
        self.store.delete_group(group.group_id)
        return {}

    def put_log_group_deletion_protection(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, self._group_name(ctx, {"logGroupIdentifier": params["logGroupIdentifier"]}))
        self.store.update_group(group.group_id, deletion_protection=bool(params["deletionProtectionEnabled"]))
        return {}

    # -- listing -----------------------------------------------------------------------------------
    def describe_log_groups(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        prefix = params.get("logGroupNamePrefix")
        pattern = params.get("logGroupNamePattern")
        if prefix is not None and pattern is not None:
            raise invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.")
        identifiers = params.get("logGroupIdentifiers")
        names = None
        if identifiers is not None:
            if prefix is not None or pattern is not None:
                raise invalid("logGroupIdentifiers cannot be combined with logGroupNamePrefix or logGroupNamePattern.")
            names = [self._identifier_name(ctx, identifier) for identifier in identifiers]
        limit = params.get("limit") or 50
        after = tokens.decode("groups", params.get("nextToken"))
        groups = self.store.list_groups(
            ctx.account_id, ctx.region, prefix=prefix, contains=pattern, log_group_class=params.get("logGroupClass"),
            names=names, after=after, limit=limit + 1,
        )
        page, more = groups[:limit], len(groups) > limit
        stats = self.store.group_stats([group.group_id for group in page])
        described = []
        for group in page:
            entry = group.describe(*stats[group.group_id])
            if pattern is not None:
                # With a pattern, AWS answers only these three fields.
                entry = {key: entry[key] for key in ("logGroupName", "creationTime", "arn")}
            described.append(entry)
        out: Params = {"logGroups": described}
        if more:
            out["nextToken"] = tokens.encode("groups", page[-1].name)
        return out

    def list_log_groups(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        limit = params.get("limit") or 50
        after = tokens.decode("list-groups", params.get("nextToken"))
        groups = self.store.list_groups(
            ctx.account_id, ctx.region, contains=params.get("logGroupNamePattern"),
            log_group_class=params.get("logGroupClass"), after=after, limit=limit + 1,
        )
        page = groups[:limit]
        out: Params = {
            "logGroups": [
                {"logGroupName": g.name, "logGroupArn": g.arn, "logGroupClass": g.log_group_class} for g in page
            ]
        }
        if len(groups) > limit:
            out["nextToken"] = tokens.encode("list-groups", page[-1].name)
        return out

    def _identifier_name(self, ctx: RequestContext, identifier: str) -> str:
        if identifier.startswith("arn:"):
            parsed = parse_group_arn(identifier)
            if parsed is None:
                raise invalid(f"Invalid log group identifier: {identifier}")
            return parsed[2] if parsed[:2] == (ctx.region, ctx.account_id) else "\x00"
        return identifier

    # -- retention --------------------------------------------------------------------------------
    def put_retention_policy(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        check_retention(params["retentionInDays"])
        group = self._group(ctx, params["logGroupName"])
        self.store.update_group(group.group_id, retention_days=params["retentionInDays"])
        self._retention_changed()
        return {}

    def delete_retention_policy(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._group(ctx, params["logGroupName"])
        self.store.update_group(group.group_id, retention_days=None)
        return {}

    # -- KMS -----------------------------------------------------------------------------------------
    def associate_kms_key(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._kms_target(ctx, params)
        # The key is stored as given: freehold does not encrypt log data with it.
        self.store.update_group(group.group_id, kms_key_id=params["kmsKeyId"])
        return {}

    def disassociate_kms_key(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        group = self._kms_target(ctx, params)
        self.store.update_group(group.group_id, kms_key_id=None)
        return {}

    def _kms_target(self, ctx: RequestContext, params: Params) -> LogGroup:
        name = params.get("logGroupName")
        resource = params.get("resourceIdentifier")
        if name is not None and resource is not None:
            raise invalid("logGroupName and resourceIdentifier are mutually exclusive parameters.")
        if name is None:
            if resource is None:
                raise invalid("Either logGroupName or resourceIdentifier must be specified.")
            parsed = parse_group_arn(resource)
            if parsed is None:
                # Query-result encryption (resourceIdentifier = a query-result ARN) is not offered.
                raise invalid(f"Invalid resourceIdentifier: {resource}")
            if parsed[:2] != (ctx.region, ctx.account_id):
                raise group_not_found()
            name = parsed[2]
        return self._group(ctx, name)

    # -- tags -----------------------------------------------------------------------------------------
    def tag_resource(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        check_tags(params["tags"])
        with self.store.db.transaction():
            group = self._tagged_group(ctx, params["resourceArn"], lock=True)
            merged = {**group.tags, **params["tags"]}
            if len(merged) > MAX_TAGS:
                raise ServiceError("TooManyTagsException", "A resource can have no more than 50 tags.",
                                   fields={"resourceName": params["resourceArn"]})
            self.store.update_group(group.group_id, tags=merged)
        return {}

    def untag_resource(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        with self.store.db.transaction():
            group = self._tagged_group(ctx, params["resourceArn"], lock=True)
            remaining = {k: v for k, v in group.tags.items() if k not in set(params["tagKeys"])}
            self.store.update_group(group.group_id, tags=remaining)
        return {}

    def list_tags_for_resource(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        return {"tags": self._tagged_group(ctx, params["resourceArn"]).tags}

    def _tagged_group(self, ctx: RequestContext, arn: str, *, lock: bool = False) -> LogGroup:
        parsed = parse_group_arn(arn)
        if parsed is None:
            if ":log-group:" not in arn and ":destination:" not in arn:
                raise invalid(f"Invalid resource ARN: {arn}")
            raise ServiceError("ResourceNotFoundException", "The specified resource does not exist.")
        region, account_id, name = parsed
        if (region, account_id) != (ctx.region, ctx.account_id):
            raise group_not_found()
        return self._group(ctx, name, lock=lock)

    # The legacy tagging operations, by log group name (deprecated by AWS, still answered).
    def tag_log_group(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        check_tags(params["tags"])
        with self.store.db.transaction():
            group = self._group(ctx, params["logGroupName"], lock=True)
            merged = {**group.tags, **params["tags"]}
            if len(merged) > MAX_TAGS:
                raise invalid("A resource can have no more than 50 tags.")
            self.store.update_group(group.group_id, tags=merged)
        return {}

    def untag_log_group(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        with self.store.db.transaction():
            group = self._group(ctx, params["logGroupName"], lock=True)
            drop: set[Any] = set(params["tags"])
            self.store.update_group(group.group_id, tags={k: v for k, v in group.tags.items() if k not in drop})
        return {}

    def list_tags_log_group(self, ctx: RequestContext, params: Params) -> Params:
        self._check(ctx, params)
        tags = self._group(ctx, params["logGroupName"]).tags
        return {"tags": tags} if tags else {}
